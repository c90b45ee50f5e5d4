"""`lagesbild`: the operator's command line. The composition root: it may use every service.

Fast: nothing heavy is imported at start. The commands defined here import what they need
in their bodies, and the commands that live with their service are in `LAZY_COMMANDS`, a
static table (name → where it lives, one-line help): `lagesbild --help` lists them from the
table, and a command's module is imported only when that command runs. In Swedish
throughout, typer's and click's own words included (`services/cli_sv.py`).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

from services import cli_sv

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from shared.config import Settings


@dataclass(frozen=True)
class Lazy:
    """A command that lives with its service, imported only when it runs."""

    target: str  # "module:attr": a typer.Typer (a command group) or a command function
    help: str  # the line `lagesbild --help` shows without importing the module
    setup: str | None = None  # "module:function" called with the loaded Typer first


LAZY_COMMANDS: dict[str, Lazy] = {
    "intake": Lazy(
        "services.intake.cli:intake_command",
        "Kör intake-tjänsten: webbformulär, HTTP-API och Open311.",
    ),
    "tib": Lazy("services.tib.cli:tib_app", "TiB: livebild och väktaruppdrag."),
    "maps-serve": Lazy(
        "services.maps.server:serve_command",
        "Servera arkivet av lägesbilder över HTTP (med behörighet).",
    ),
    "screenshot": Lazy(
        "services.maps.screenshot:screenshot_command",
        "Skärmbilder (PNG) av veckans karta och mötesunderlag.",
    ),
    "import": Lazy(
        "services.intake.cli:import_app",
        "Importera rapporter från fil (veckoblad, polisens händelser).",
        # import csv lives with the intake, import police with the ingest
        setup="services.ingest.police_cli:register",
    ),
    "kommun": Lazy(
        "services.kommun_cli:kommun_app", "Anslutna kommuner: anslut en kommun, lista dem."
    ),
    "areas": Lazy("services.kommun_cli:areas_app", "En kommuns områden från GIS-fil."),
    "places": Lazy("services.kommun_cli:places_app", "En kommuns kända platser."),
    "org": Lazy("services.intake.cli:org_app", "Organisationer och deras nycklar."),
    "audit": Lazy("services.intake.cli:audit_app", "Granskningsloggen: vem gjorde vad, när."),
    "plan": Lazy(
        "services.aggregate.plan_cli:plan_app",
        "Handlingsplanen: samverkansområden, åtgärder, medborgarlöften.",
    ),
    "decision": Lazy(
        "services.aggregate.plan_cli:decision_app",
        "Mötets beslut: åtgärd, plats, ansvar, veckor.",
    ),
    "forecast": Lazy(
        "services.aggregate.forecast_cli:forecast_command",
        "Prognos: nästa veckas hotspot-celler som GeoJSON.",
    ),
    "evaluate": Lazy(
        "services.aggregate.forecast_cli:evaluate_command",
        "Utvärdera prognosen vecka för vecka mot baslinjen.",
    ),
}


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_lazy(name: str, entry: Lazy) -> Any:
    """The click command for a LAZY_COMMANDS entry (imports its module)."""
    target = _resolve(entry.target)
    if isinstance(target, typer.Typer):
        if entry.setup:
            _resolve(entry.setup)(target)
        holder = typer.Typer(add_completion=False)
        holder.add_typer(target, name=name)
        group = typer.main.get_command(holder)
        return group.commands[name]  # type: ignore[attr-defined]
    single = typer.Typer(add_completion=False)
    single.command(name, short_help=entry.help)(target)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """The root command: eager commands as usual, LAZY_COMMANDS imported on first use."""

    lazy: ClassVar[dict[str, Lazy]] = LAZY_COMMANDS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self.lazy if name not in eager)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if command is None:
            entry = self.lazy.get(cmd_name)
            if entry is None:
                return None
            if self._listing:  # help lists the name and line without importing anything
                return TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
            command = self.commands[cmd_name] = load_lazy(cmd_name, entry)
        return cli_sv.localize(command)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer._click.exceptions.UsageError as exc:
            # typer suggests among the loaded commands only; the lazy ones count too
            if args and "Did you mean" not in exc.message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, EOFError):
            cli_sv.rich_in_swedish()  # typer prints "Avbrutet." from rich_utils
            raise

    def main(self, *args: Any, **kwargs: Any) -> Any:
        cli_sv.install()
        cli_sv.localize(self)
        return super().main(*args, **kwargs)


app = typer.Typer(
    cls=LazyGroup,
    help="Lägesbild: veckans lägesbild för kommun och polis.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["--help", "-h"]},
)
week_app = typer.Typer(help="Veckans lägesbild.", no_args_is_help=True)
app.add_typer(week_app, name="week")
db_app = typer.Typer(help="Databasens schema (Alembic-migreringar).", no_args_is_help=True)
app.add_typer(db_app, name="db")
rejected_app = typer.Typer(help="Avvisade rapporter: visa och skicka om.", no_args_is_help=True)
app.add_typer(rejected_app, name="rejected")


class _LazyConsole:
    """A rich Console made on first use (rich is not imported by commands that need none)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def real(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


console: Any = _LazyConsole(soft_wrap=True)
err: Any = _LazyConsole(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")]


def _settings() -> Settings:
    from shared.config import Settings

    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the bad variable
        typer.secho(f"Fel i konfigurationen (LAGESBILD_…): {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _redis_url(settings: Settings) -> str:
    """The Redis to talk to; a clear message and exit 3 at once when none answers there."""
    from shared.redis_runtime import RedisUnavailableError, require_redis

    try:
        url = require_redis(settings)
    except RedisUnavailableError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(3) from exc
    if settings.redis_url and not _reachable(url):
        typer.secho(
            f"Ingen Redis svarar på {url} (LAGESBILD_REDIS_URL). Kontrollera adressen "
            "och att servern körs.",
            fg="red",
            err=True,
        )
        raise typer.Exit(3)
    return url


def _reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether anything accepts a connection at a redis:// or rediss:// address (a unix
    socket: whether it exists), without importing the Redis client."""
    import os
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return os.path.exists(parts.path)
    try:
        port = parts.port or 6379
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _engine(settings: Settings) -> Any:
    from shared.db import init_db, make_engine

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return engine


def _run_service(factory_path: str) -> None:
    import signal

    from shared.config import Settings
    from shared.observability import configure_logging

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # SIGTERM before FastStream installs its own handler (imports, migrations): nothing is
    # in flight yet, so stop at once, and with exit status 0 like a graceful stop.
    signal.signal(signal.SIGTERM, exit_now)
    try:
        log_format = Settings().log_format  # LAGESBILD_LOG_FORMAT=json: one object a line
    except Exception:
        log_format = "text"  # _settings() below reports the bad variable
    configure_logging(log_format, logging.INFO)
    settings = _settings()
    from shared.redis_runtime import ensure_redis

    url, server = ensure_redis(settings)
    settings = settings.model_copy(update={"redis_url": url})
    module, _, attr = factory_path.partition(":")
    create_app: Callable[[Settings], Any] = getattr(__import__(module, fromlist=[attr]), attr)
    try:
        asyncio.run(create_app(settings).run())
    except KeyboardInterrupt:
        pass
    finally:
        if server:
            server.stop()


@app.command()
def ingest() -> None:
    """Kör ingest-tjänsten: validerar och lagrar rapporter från strömmen."""
    _run_service("services.ingest.main:create_app")


@app.command()
def aggregate() -> None:
    """Kör aggregate-tjänsten: räknar per område, vecka och kategori; bygger veckor."""
    _run_service("services.aggregate.main:create_app")


@app.command()
def maps() -> None:
    """Kör maps-tjänsten: ritar veckans karta när en lägesbild är klar."""
    _run_service("services.maps.main:create_app")


ServiceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        "-s",
        help="Bara denna tjänst (kan upprepas): ingest, aggregate, maps, intake, tib, maps-serve.",
    ),
]


@app.command()
def up(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65533,
            help="Första porten för /metrics och /healthz: ingest får den, aggregate och "
            "maps de två följande (standard: LAGESBILD_METRICS_PORT; 0 = av).",
        ),
    ] = None,
    only: ServiceOption = None,
) -> None:
    """Kör alla tjänster för utveckling (och en inbäddad Redis vid behov).

    Ingest, aggregate, maps, intake, TiB och arkivet (maps-serve) körs som egna processer,
    mot en inbäddad Redis om LAGESBILD_REDIS_URL inte anger en annan.
    Ctrl-C eller SIGTERM stoppar tjänsterna och sist Redis.
    """
    import signal

    from services.supervisor import (
        ALL_SERVICES,
        METRICS_SERVICES,
        exited,
        start_services,
        stop_services,
    )
    from shared.redis_runtime import RedisUnavailableError, ensure_redis

    names = list(dict.fromkeys(only or ALL_SERVICES))
    unknown = [n for n in names if n not in ALL_SERVICES]
    if unknown:
        typer.secho(
            f"Okänd tjänst: {', '.join(unknown)}. Välj bland {', '.join(ALL_SERVICES)}.",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    settings = _settings()
    base = settings.metrics_port if metrics_port is None else metrics_port
    extra: dict[str, dict[str, str]] = {}
    for offset, name in enumerate(METRICS_SERVICES):  # one port each, never shared
        extra[name] = {"LAGESBILD_METRICS_PORT": str(base + offset if base else 0)}

    # Ctrl-C and SIGTERM both mean "stop everything". During start-up they are only noted
    # (a half-started server must not be left behind); afterwards they interrupt the wait.
    state = {"stop": False, "armed": False}

    def request_stop(signum: int, frame: object) -> None:
        state["stop"] = True
        if state["armed"]:
            state["armed"] = False  # once: a second signal must not cut the stopping short
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = None
    procs: dict[str, Any] = {}
    failed = False
    try:
        try:
            url, server = ensure_redis(settings)
        except RedisUnavailableError as exc:
            typer.secho(f"Redis kunde inte startas: {exc}", fg="red", err=True)
            raise typer.Exit(3) from exc
        if not state["stop"]:
            procs = start_services(
                {"LAGESBILD_REDIS_URL": url}, services=names, per_service_env=extra
            )
            where = "inbäddad Redis" if server else "Redis"
            console.print(
                f"Kör {', '.join(names)} mot {where} på {url}"
                + (f"; /healthz från port {base}" if base else "")
                + ". Avsluta med Ctrl-C."
            )
        state["armed"] = True
        if state["stop"]:
            raise KeyboardInterrupt
        while not exited(procs):
            time.sleep(0.5)
        state["armed"] = False
        failed = True
        typer.secho(
            f"En tjänst avslutades: {', '.join(exited(procs))}. Stoppar de andra.",
            fg="red",
            err=True,
        )
    except KeyboardInterrupt:
        console.print("Stoppar tjänsterna …")
    finally:
        state["armed"] = False
        stop_services(procs)
        if server:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise typer.Exit(1)
    console.print("Alla tjänster har stoppats.")


@app.command()
def submit(
    file: Annotated[
        Path, typer.Argument(metavar="FIL", help="JSONL-fil, en rapport per rad ('-' = stdin).")
    ],
) -> None:
    """Skicka rapporter till strömmen; varje rad blir en rapport."""
    from shared.report_submit import submit_lines

    settings = _settings()
    url = _redis_url(settings)
    if str(file) == "-":
        lines = sys.stdin.buffer.read().splitlines()
    elif not file.is_file():
        err.print(f"[red]Filen finns inte: {file}[/red]")
        raise typer.Exit(2)
    else:
        lines = file.read_bytes().splitlines()
    sent = asyncio.run(submit_lines(url, lines))
    console.print(f"Skickade {sent} rapporter till strömmen.")


STATUS_LABELS = {  # the words of shared/counting.py: rapporter, troliga dubbletter, händelser
    "stored_reports": "Lagrade rapporter (troliga dubbletter inräknade)",
    "linked_duplicates": "Troliga dubbletter (länkade, räknas inte)",
    "rejected_reports": "Avvisade rapporter",
    "conflicts": "Konflikter (samma id, annat innehåll)",
    "aggregated_reports": "Rapporter i aggregate",
    "counted_reports": "Händelser i aggregate (rapporter utom troliga dubbletter)",
    "week_snapshots": "Veckoversioner",
    "pending": "Väntande poster (lästa, ej kvitterade)",
    "unread": "Olästa poster",
    "dead_letters": "Döda brev (avvisade strömmen)",
}


@app.command()
def status(
    as_json: JsonFlag = False,
    from_db: Annotated[
        bool,
        typer.Option(
            "--db",
            help="Räkna i databasen nu i stället för att läsa tjänsternas egna siffror.",
        ),
    ] = False,
) -> None:
    """Antal lagrade och avvisade rapporter och väntande poster i strömmarna.

    Siffrorna kommer från de körande tjänsterna (ingest och aggregate håller sina egna
    siffror aktuella i Redis); har någon av dem inte rapporterat, eller med --db, räknas
    de i databasen."""
    settings = _settings()
    url = _redis_url(settings)  # first: without Redis, say so at once
    from rich.table import Table

    current: Any = None
    if not from_db:
        from shared.service_status import reported_status

        current, silent = reported_status(url)
        if current is None:
            err.print(
                f"[dim]Inga aktuella siffror från {' och '.join(silent)} (körs tjänsten?): "
                "räknar i databasen.[/dim]"
            )
    if current is None:
        from services.cli_ops import status as read_status

        current = asyncio.run(read_status(_engine(settings), url))
    if as_json:
        print(json.dumps(current.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table("Mått", "Antal", title="Läge")
    for key, value in current.as_dict().items():
        if key in STATUS_LABELS:
            table.add_row(STATUS_LABELS[key], str(value))
    console.print(table)
    console.print(_status_source(current))
    streams = Table("Ström", "Poster", "Grupp", "Väntande", "Olästa", title="Strömmar")
    for state in current.streams:
        groups: dict[str, dict[str, Any]] = dict(state.groups)
        for missing in state.missing_groups:  # its service has not started yet
            groups[missing] = {"pending": "ej skapad", "lag": "–"}
        for group, counts in (groups or {"–": {}}).items():
            streams.add_row(
                state.stream,
                str(state.length),
                group,
                str(counts.get("pending", "–")),
                str(counts.get("lag", "–")),
            )
    if current.streams:
        console.print(streams)


def _status_source(current: Any) -> str:
    """Where the numbers come from: the services' reports (when, and whether current) or
    the database, counted now."""
    if current.source != "services":
        return "Källa: databasen, räknat nu."
    parts = []
    for service, report in current.reports.items():
        at = report.at.astimezone().strftime("%H:%M:%S")
        state = "aktuell" if report.current else "uppdateras"
        parts.append(f"{service} {at} ({state})")
    return "Källa: tjänsternas egna siffror: " + ", ".join(parts) + "."


@week_app.command("build")
def week_build(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod.")] = "0580",
    as_json: JsonFlag = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Sekunder att vänta på aggregate-tjänsten.")
    ] = 120,
) -> None:
    """Be aggregate-tjänsten bygga veckans lägesbild nu (maps-tjänsten ritar den)."""
    from services.cli_ops import BuildRefused, build_week
    from services.maps.render import week_summary
    from shared.weeks import EARLIEST_WEEK, iso_week_of, parse_week, shift_week

    try:
        wanted = parse_week(week)
    except ValueError as exc:
        err.print(f"[red]Ogiltig vecka {week!r}: skriv ISO-veckan, t.ex. 2026-W47.[/red]")
        raise typer.Exit(2) from exc
    # What no data can make buildable is refused here; the rest the aggregate checks.
    latest = shift_week(iso_week_of(datetime.now(UTC)), 1)
    if not parse_week(EARLIEST_WEEK) <= wanted <= parse_week(latest):
        err.print(
            f"[red]Veckan {week} ligger utanför det som kan byggas: från {EARLIEST_WEEK} "
            f"till {latest} (nästa vecka). Kontrollera veckan.[/red]"
        )
        raise typer.Exit(2)
    settings = _settings()
    url = _redis_url(settings)
    try:
        ready = asyncio.run(build_week(url, kommun, week, timeout))
    except BuildRefused as exc:
        err.print(f"[red]Aggregate-tjänsten bygger inte veckan: {exc}[/red]")
        raise typer.Exit(2) from exc
    except TimeoutError as exc:
        err.print(
            f"[red]Aggregate-tjänsten svarade inte inom {timeout:.0f} s. Kör den "
            "(lagesbild aggregate, eller alla tjänster med lagesbild up); beställningen "
            "ligger kvar på strömmen och byggs när tjänsten startar.[/red]"
        )
        raise typer.Exit(4) from exc
    snapshot = ready.snapshot
    summary = week_summary(snapshot)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    state = "ny revision" if ready.new_revision else "oförändrad"
    console.print(
        f"{snapshot.kommun_name} {summary['week_label']}: {_compared(summary)}, "
        f"revision {snapshot.revision} ({state})."
    )


CodeOption = Annotated[str | None, typer.Option("--code", help="Bara denna orsakskod.")]


@rejected_app.command("list")
def rejected_list(
    code: CodeOption = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="Även omskickade.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Visa avvisade rapporter med orsak och vad som ska rättas."""
    from rich.table import Table

    from services.ingest.rejected import rejected_rows

    rows = rejected_rows(_engine(_settings()), code=code, include_replayed=include_replayed)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table(
        "Id", "Kod", "Fält", "Orsak", "Innehåll", title=f"Avvisade rapporter ({len(rows)})"
    )
    for r in rows:
        table.add_row(str(r.id), r.code, r.field_name or "", r.message_sv, r.payload[:60])
    console.print(table)


@rejected_app.command("replay")
def rejected_replay(
    code: CodeOption = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Bara dessa id (kan upprepas).")
    ] = None,
) -> None:
    """Skicka avvisade rapporter igen, t.ex. efter att en kategori lagts till."""
    from services.cli_ops import replay_rejected
    from services.ingest.rejected import rejected_rows

    settings = _settings()
    engine = _engine(settings)
    rows = [r for r in rejected_rows(engine, code=code) if not ids or r.id in ids]
    if not rows:
        console.print("Inga avvisade rapporter att skicka om.")
        return
    sent = asyncio.run(replay_rejected(engine, _redis_url(settings), rows))
    console.print(f"Skickade om {sent} rapporter; resultatet syns i `lagesbild status`.")


@week_app.command("pdf")
def week_pdf(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    out: Annotated[Path, typer.Option("--out", help="PDF-filen att skriva, t.ex. v47.pdf.")],
    kommun: Annotated[
        str | None, typer.Option("--kommun", help="Kommunkod (standard: den första).")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Den offentliga versionen (antal under 3 som <3).")
    ] = False,
) -> None:
    """Skriv ut veckans mötesunderlag som PDF (A4) med Chromium; bilagan på egen sida."""
    from services.maps.pdf import pdf_command  # Playwright and the renderer only here

    pdf_command(week=week, out=out, kommun=kommun, public=public)


@week_app.command("show")
def week_show(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod.")] = "0580",
    revision: Annotated[int | None, typer.Option("--revision", help="Tidigare revision.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Visa en byggd veckas lägesbild (senaste eller en tidigare revision)."""
    from services.aggregate.store import latest_snapshot
    from services.maps.render import week_summary

    snapshot = latest_snapshot(_engine(_settings()), kommun, week, revision)
    if snapshot is None:
        which = f"revision {revision}" if revision else "någon revision"
        err.print(
            f"[red]{kommun} {week} har ingen {which}. Bygg den med `lagesbild week build`.[/red]"
        )
        raise typer.Exit(1)
    summary = week_summary(snapshot)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    console.print(
        f"{snapshot.kommun_name} {summary['week_label']} revision {snapshot.revision}: "
        f"{_compared(summary)} (byggd {summary['built_at_text']}, "
        f"{snapshot.content_hash[:12]})."
    )


def _compared(summary: dict[str, Any]) -> str:
    """ "208 händelser (216 rapporter, varav 8 troliga dubbletter); förra veckan 207 (+1)",
    or why there is no comparison: the summary's own words (shared/counting.py)."""
    from shared.formats import number_sv, signed_sv

    if summary["previous_total"] is None:
        return f"{summary['headline']}; {summary['comparison']['reason']}"
    return (
        f"{summary['headline']}; förra veckan {number_sv(summary['previous_total'])} "
        f"({signed_sv(summary['change'])})"
    )


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Räkna bara, ta inte bort.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Gallra (GDPR): ta bort råa rapporter, fritext och punkter äldre än lagringstiden."""
    from services.cli_ops import purge_all

    settings = _settings()
    counts = purge_all(
        _engine(settings),
        now=datetime.now(UTC),
        retention_days=settings.retention_days,
        dry_run=dry_run,
        run_by="operatör (lagesbild purge)",
        data_dir=settings.data_dir,
    )
    if as_json:
        print(json.dumps({"dry_run": dry_run, "removed": counts}, indent=2))
        return
    verb = "Skulle ta bort" if dry_run else "Tog bort"
    parts = ", ".join(f"{name}: {n}" for name, n in counts.items())
    console.print(f"{verb} (äldre än {settings.retention_days} dagar): {parts}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrera databasen till senaste schemat (görs också när en tjänst startar)."""
    settings = _settings()
    _engine(settings)
    console.print(f"Schemat är aktuellt i {settings.resolved_database_url}.")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="Vad ändringen gör.")],
) -> None:
    """Skapa en ny migrering från skillnaden mellan modellerna och databasen (utvecklare)."""
    from alembic import command

    from shared.db import alembic_config

    engine = _engine(_settings())
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)


def settings_classes() -> list[type[BaseSettings]]:
    """The shared settings, then each service's own (`services/<service>/config.py`)."""
    from services.aggregate.config import AggregateSettings
    from services.ingest.config import IngestSettings
    from services.intake.config import IntakeSettings
    from services.maps.config import MapsSettings
    from services.tib.config import TibSettings
    from shared.config import Settings

    return [Settings, IngestSettings, AggregateSettings, MapsSettings, IntakeSettings, TibSettings]


def env_example() -> str:
    """Every LAGESBILD_ variable with its default, as deploy/lagesbild.env.example holds it."""
    lines = [
        "# Every LAGESBILD_ setting with its default (generated by `lagesbild env-example`).",
        "# Copy to lagesbild.env and adjust; an empty value means the built-in default.",
    ]
    seen: set[str] = set()
    for cls in settings_classes():
        for name, field in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            default = field.get_default(call_default_factory=True)
            if isinstance(default, dict | list):
                default = json.dumps(default, ensure_ascii=False)
            lines += [f"# {field.description}"] if field.description else []
            lines.append(f"LAGESBILD_{name.upper()}={'' if default is None else default}")
    return "\n".join(lines) + "\n"


@app.command("env-example")
def env_example_command() -> None:
    """Skriv ut alla LAGESBILD_-variabler med standardvärden (för en .env-fil)."""
    print(env_example(), end="")


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option("--out", help="Utmapp för lägesbilderna.")] = None,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=104, help="Antal veckor.")] = 6,
) -> None:
    """Huvudjobbet: starta Redis och tjänsterna, mata in en demokommun, bygg veckorna."""
    from services.demo_run import run_demo

    settings = _settings()
    if out is not None:
        settings = settings.model_copy(update={"output_dir": out})
    raise typer.Exit(run_demo(settings, weeks, console.real()))


def main() -> None:
    app(prog_name="lagesbild")


if __name__ == "__main__":
    main()
