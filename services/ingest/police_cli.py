"""`lagesbild import police FILE.json` and the police events poller (the I/O around police.py).

Register with ``register(import_app)`` on the ``import`` sub-app: it adds ``police`` (a file)
and ``police-poll`` (the configured URL, on a schedule).

The poller follows Polismyndigheten's rules for its open API
(https://polisen.se/om-polisen/om-webbplatsen/oppna-data/regler-for-oppna-data/): a
User-Agent that names the app, HTTPS, at least 60 s between calls (their limits are 10 s,
60 an hour and 1440 a day), back off on HTTP 429, and stop for good on HTTP 404.

Settings (the ingest's, `services/ingest/config.py`): ``LAGESBILD_POLICE_URL``,
``LAGESBILD_POLICE_POLL_SECONDS``, ``LAGESBILD_POLICE_USER_AGENT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.ingest.config import DEFAULT_USER_AGENT, MIN_POLL_SECONDS, IngestSettings
from services.ingest.police import (
    EXCLUSION_REASONS,
    ORGANISATION,
    Summary,
    import_summary,
)
from shared.areas import AreaFileError, KommunAreas
from shared.categories import DEFAULT_CATEGORIES

log = logging.getLogger("lagesbild.police")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

MAX_BACKOFF_SECONDS = 3600.0
MAX_RESPONSE_BYTES = 20 * 1024 * 1024


class PoliceInputError(ValueError):
    """Input that is not a list of police events; the message is Swedish and says what to do."""


# --- reading input ---------------------------------------------------------------------


def parse_events(raw: bytes | str, origin: str) -> list[Any]:
    """The events in an API response or file; raises PoliceInputError."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PoliceInputError(
                f"{origin} är inte UTF-8 (byte {exc.start}). Spara filen som UTF-8."
            ) from None
    try:
        data = json.loads(raw.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise PoliceInputError(
            f"{origin} är inte giltig JSON: {exc.msg} (rad {exc.lineno}, kolumn {exc.colno}). "
            "Ange svaret från polisens händelse-API (/api/events) oförändrat."
        ) from None
    if not isinstance(data, list):
        kind = type(data).__name__ if not isinstance(data, dict) else "ett objekt"
        raise PoliceInputError(
            f"{origin} innehåller {kind}, inte en lista med händelser. Polisens "
            'händelse-API svarar med en JSON-lista: [{"id": …, "type": …}, …].'
        )
    return data


def load_events_file(path: Path) -> list[Any]:
    if not path.exists():
        raise PoliceInputError(f"Filen finns inte: {path}")
    if not path.is_file():
        raise PoliceInputError(f"{path} är ingen fil.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PoliceInputError(f"Kan inte läsa {path}: {exc.strerror or exc}") from None
    return parse_events(raw, str(path))


# --- the configured municipalities -----------------------------------------------------


def kommun_point(areas: KommunAreas) -> tuple[float, float]:
    """(lat, lon) standing for the whole municipality: its centroid when that lies inside
    the boundary, else a point guaranteed inside (so ingest's boundary check passes)."""
    centroid = areas.boundary.centroid
    point = centroid if areas.boundary.covers(centroid) else areas.boundary.representative_point()
    return round(point.y, 6), round(point.x, 6)


def lookup_from_kommuner(
    kommuner: Mapping[str, KommunAreas],
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """name -> kommunkod (each area file's ``kommun_name``, and the official name of a
    packaged kommun) and kommunkod -> point."""
    from shared.national import national_kommuner

    national = national_kommuner()
    names = {national[code].name: code for code in kommuner if code in national}
    names |= {k.kommun_name: code for code, k in kommuner.items()}
    points = {code: kommun_point(k) for code, k in kommuner.items()}
    return names, points


def all_kommun_names() -> dict[str, str]:
    """Every kommun of Sweden: official name -> kommunkod (the packaged list)."""
    from shared.national import national_kommuner

    return {k.name: code for code, k in national_kommuner().items()}


def _enabled_kommuner(settings: Any) -> Any:
    """The enabled kommuner (LAGESBILD_KOMMUNER, the registry, area files), kept current."""
    from shared.db import init_db, make_engine
    from shared.kommuner import live_kommuner

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return live_kommuner(settings, engine)


def _configured_kommuner(
    events: list[Any] | None = None, *, enable: bool = False, dry_run: bool = False
) -> tuple[Any, dict[str, str], dict[str, tuple[float, float]], list[str]]:
    """Settings, name and point lookups of the enabled kommuner, and the kommuner that
    `--enable-kommuner` enabled (or would enable, on a dry run) for these events."""
    try:
        settings = IngestSettings()
    except Exception as exc:
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_…):[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        kommuner = _enabled_kommuner(settings)
    except AreaFileError as exc:
        err.print(f"[red]Områdesfil kan inte användas:[/red] {exc}")
        raise typer.Exit(2) from exc
    met: list[str] = []
    if enable and events:
        from shared.kommun_registry import enable as enable_kommun
        from shared.national import boundary_only

        # The kommuner of events that become reports (not of excluded summaries).
        payloads, _ = import_summary(events, all_kommun_names())
        met = sorted({p["kommun"] for p in payloads} - set(kommuner))
        if not dry_run:
            for code in met:
                enable_kommun(kommuner.engine, code, by="police import")
            kommuner.refresh()
        names, points = lookup_from_kommuner(
            {**{c: kommuner[c] for c in kommuner}, **{c: boundary_only(c) for c in met}}
        )
        return settings, names, points, met
    names, points = lookup_from_kommuner(kommuner)
    return settings, names, points, met


def _redis_url(settings: Any) -> str:
    from shared.redis_runtime import RedisUnavailableError, require_redis

    try:
        return require_redis(settings)
    except RedisUnavailableError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc


def payload_lines(payloads: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """One JSON line per report, with a stable key order (a resend is byte-identical)."""
    return [json.dumps(p, ensure_ascii=False, sort_keys=True).encode("utf-8") for p in payloads]


# --- printing --------------------------------------------------------------------------


def summary_table(summary: Summary, title: str = "Polisens händelser") -> Table:
    table = Table(
        "Typ",
        "Händelser",
        "Kategori / utfall",
        "Omvandlade",
        "Överhoppade (orsak)",
        title=f"{title}: {summary.total} händelser, {summary.converted} rapporter",
    )
    for name, t in sorted(summary.by_type.items(), key=lambda kv: (-kv[1].events, kv[0])):
        if t.category is None:
            outcome = f"exkluderad: {t.exclusion}"
        else:
            label = DEFAULT_CATEGORIES.get(t.category, t.category)
            outcome = f"{t.category} ({label})" + (" [okänd typ]" if t.unknown else "")
        skipped = ", ".join(f"{n} {r}" for r, n in t.skipped.most_common())
        table.add_row(name, str(t.events), outcome, str(t.converted), skipped)
    return table


def totals_table(summary: Summary) -> Table:
    table = Table("Utfall", "Händelser", title="Summering")
    for category, n in summary.by_category.most_common():
        table.add_row(f"rapport: {category}", str(n))
    for reason, n in summary.excluded.most_common():
        table.add_row(f"exkluderad: {reason} ({EXCLUSION_REASONS.get(reason, '')})", str(n))
    for reason, n in summary.skipped.most_common():
        table.add_row(f"överhoppad: {reason}", str(n))
    table.add_row("totalt", str(summary.total))
    return table


def print_summary(summary: Summary) -> None:
    console.print(summary_table(summary))
    console.print(totals_table(summary))
    if summary.unknown_types:
        names = ", ".join(f"{n!r} ({c})" for n, c in summary.unknown_types.most_common())
        err.print(
            f"[yellow]Varning: okända händelsetyper räknades som ovrigt: {names}. "
            "Lägg till dem i TYPE_MAP i services/ingest/police.py.[/yellow]"
        )
    if summary.unconfigured_kommuner:
        top = ", ".join(f"{n} ({c})" for n, c in summary.unconfigured_kommuner.most_common(8))
        console.print(f"Kommuner som inte är konfigurerade (hoppades över): {top}")


# --- the import command ----------------------------------------------------------------


def import_police_command(
    file: Annotated[Path, typer.Argument(help="JSON-fil från polisens händelse-API.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Visa bara vad som skulle skickas.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")] = False,
    enable_kommuner: Annotated[
        bool,
        typer.Option(
            "--enable-kommuner",
            help="Anslut de kommuner händelserna gäller som inte redan är anslutna.",
        ),
    ] = False,
) -> None:
    """Importera polisens händelser (händelsenotiser) från en fil som rapporter."""
    try:
        events = load_events_file(file)
    except PoliceInputError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings, names, points, enabled = _configured_kommuner(
        events, enable=enable_kommuner, dry_run=dry_run
    )
    url = None if dry_run else _redis_url(settings)  # fail before the work, not after
    payloads, summary = import_summary(events, names, points)
    sent = 0
    if url is not None and payloads:
        from shared.report_submit import submit_lines

        sent = asyncio.run(submit_lines(url, payload_lines(payloads)))
    if as_json:
        print(
            json.dumps(
                {
                    **summary.as_dict(),
                    "dry_run": dry_run,
                    "sent": sent,
                    "enabled_kommuner": enabled,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    print_summary(summary)
    if enabled:
        verb = "skulle anslutas" if dry_run else "anslöts"
        console.print(f"{len(enabled)} kommuner {verb}: {', '.join(enabled)}.")
    if dry_run:
        console.print(f"Torrkörning: {len(payloads)} rapporter skulle ha skickats.")
    else:
        console.print(
            f"Skickade {sent} rapporter ({ORGANISATION}) till strömmen. Redan mottagna "
            "händelser (samma id) läggs inte till igen; resultatet syns i `lagesbild status`."
        )


# --- the poller ------------------------------------------------------------------------


class PoliceFetchError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def check_url(url: str) -> str:
    """The API must be called over HTTPS (plain HTTP only to this machine, for tests)."""
    parts = urllib.parse.urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError(
            f"LAGESBILD_POLICE_URL måste vara en https-adress, t.ex. "
            f"https://polisen.se/api/events (fick {url!r})."
        )
    return url


def fetch_events(
    url: str, user_agent: str = DEFAULT_USER_AGENT, timeout: float = 30.0
) -> list[Any]:
    """GET the events list (blocking; run it in a thread). Raises PoliceFetchError."""
    request = urllib.request.Request(
        url, headers={"User-Agent": user_agent, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise PoliceFetchError(f"HTTP {exc.code} från {url}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PoliceFetchError(f"kan inte hämta {url}: {reason}") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise PoliceFetchError(f"svaret från {url} är större än {MAX_RESPONSE_BYTES} byte")
    try:
        return parse_events(raw, url)
    except PoliceInputError as exc:
        raise PoliceFetchError(str(exc)) from None


Fetch = Callable[[str], list[Any]]
Submit = Callable[[str, list[bytes]], Awaitable[int]]


async def _submit(redis_url: str, lines: list[bytes]) -> int:
    from shared.report_submit import submit_lines

    return await submit_lines(redis_url, lines)


async def poll_police(
    url: str,
    interval_s: float,
    *,
    redis_url: str,
    kommun_lookup: Mapping[str, str],
    kommun_points: Mapping[str, tuple[float, float]] | None = None,
    user_agent: str = DEFAULT_USER_AGENT,
    once: bool = False,
    fetch: Fetch | None = None,
    submit: Submit = _submit,
    stop: asyncio.Event | None = None,
    min_interval_s: float = MIN_POLL_SECONDS,
    lookups: Callable[[], tuple[Mapping[str, str], Mapping[str, tuple[float, float]]]]
    | None = None,
) -> int:
    """Fetch, convert and submit every `interval_s` seconds until `stop` is set (or once).

    Idempotent: report ids are stable (``polisen-<id>``) and ingest stores a
    (organisation, report_id) once; this loop also sends each id only once per run. Returns
    how many reports it sent. HTTP 404 ends the loop for good (the API's rules); 429 and
    network errors back off, doubling up to an hour.
    """
    check_url(url)
    interval = max(float(interval_s), min_interval_s)
    do_fetch: Fetch = fetch or (lambda u: fetch_events(u, user_agent))
    stop = stop or asyncio.Event()
    sent_ids: set[str] = set()
    total_sent = 0
    delay = interval
    while not stop.is_set():
        try:
            events = await asyncio.to_thread(do_fetch, url)
        except PoliceFetchError as exc:
            if exc.status == 404:
                log.error("%s: resursen finns inte (404); pollningen avslutas.", exc)
                return total_sent
            delay = min(max(delay, interval) * 2, MAX_BACKOFF_SECONDS)
            log.warning("%s; nytt försök om %.0f s", exc, delay)
        else:
            delay = interval
            if lookups is not None:  # the enabled kommuner now: a kommun added meanwhile too
                kommun_lookup, kommun_points = lookups()
            payloads, summary = import_summary(events, kommun_lookup, kommun_points)
            new = [p for p in payloads if p["report_id"] not in sent_ids]
            if new:
                total_sent += await submit(redis_url, payload_lines(new))
            # Only ids still in the API's window can come again: keep the set bounded.
            sent_ids = {p["report_id"] for p in payloads} | {p["report_id"] for p in new}
            log.info(
                "polisen: %d händelser, %d rapporter (%d nya skickade), %d exkluderade, "
                "%d överhoppade%s",
                summary.total,
                summary.converted,
                len(new),
                summary.excluded_total,
                summary.skipped_total,
                f"; okända typer: {dict(summary.unknown_types)}" if summary.unknown_types else "",
            )
        if once:
            break
        with contextlib.suppress(TimeoutError):  # the interval passed without a stop
            await asyncio.wait_for(stop.wait(), timeout=delay)
    return total_sent


def poll_police_command(
    once: Annotated[bool, typer.Option("--once", help="Hämta en gång och avsluta.")] = False,
) -> None:
    """Hämta polisens händelser från LAGESBILD_POLICE_URL med jämna mellanrum."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        police = IngestSettings()
    except Exception as exc:
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_POLICE_…):[/red] {exc}")
        raise typer.Exit(2) from exc
    if not police.police_url:
        err.print(
            "[red]Ingen adress att hämta från. Ange LAGESBILD_POLICE_URL, t.ex. "
            "https://polisen.se/api/events?locationname=Linköping[/red]"
        )
        raise typer.Exit(2)
    try:
        check_url(police.police_url)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings, names, points, _ = _configured_kommuner()
    kommuner = _enabled_kommuner(settings)
    redis_url = _redis_url(settings)
    if police.police_poll_seconds < MIN_POLL_SECONDS:
        err.print(
            f"[yellow]LAGESBILD_POLICE_POLL_SECONDS={police.police_poll_seconds:g} är för tätt "
            f"för polisens API; hämtar var {MIN_POLL_SECONDS:g}:e sekund.[/yellow]"
        )
    try:
        sent = asyncio.run(
            poll_police(
                police.police_url,
                police.police_poll_seconds,
                redis_url=redis_url,
                kommun_lookup=names,
                kommun_points=points,
                user_agent=police.police_user_agent,
                once=once,
                lookups=lambda: lookup_from_kommuner(kommuner),
            )
        )
    except KeyboardInterrupt:
        return
    console.print(f"Skickade {sent} rapporter från polisens händelser.")


def register(import_app: typer.Typer) -> None:
    """Add ``police`` and ``police-poll`` to the ``lagesbild import`` sub-app."""
    import_app.command("police")(import_police_command)
    import_app.command("police-poll")(poll_police_command)
