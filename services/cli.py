"""`lagesbild`: the operator's command line. The composition root: it may use every service."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shared.config import Settings
from shared.redis_runtime import RedisUnavailableError, ensure_redis, require_redis

app = typer.Typer(help="Lägesbild: veckans lägesbild för kommun och polis.", no_args_is_help=True)
week_app = typer.Typer(help="Veckans lägesbild.", no_args_is_help=True)
app.add_typer(week_app, name="week")
db_app = typer.Typer(help="Databasens schema (Alembic-migreringar).", no_args_is_help=True)
app.add_typer(db_app, name="db")
rejected_app = typer.Typer(help="Avvisade rapporter: visa och skicka om.", no_args_is_help=True)
app.add_typer(rejected_app, name="rejected")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")]


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the bad variable
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_…):[/red] {exc}")
        raise typer.Exit(2) from exc


def _redis_url(settings: Settings) -> str:
    try:
        return require_redis(settings)
    except RedisUnavailableError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc


def _engine(settings: Settings) -> Any:
    from shared.db import init_db, make_engine

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return engine


def _run_service(factory_path: str) -> None:
    import signal

    from shared.observability import OpsSettings, configure_logging

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # SIGTERM before FastStream installs its own handler (imports, migrations): nothing is
    # in flight yet, so stop at once, and with exit status 0 like a graceful stop.
    signal.signal(signal.SIGTERM, exit_now)
    try:
        log_format = OpsSettings().log_format  # LAGESBILD_LOG_FORMAT=json: one object a line
    except Exception:
        log_format = "text"  # _settings() below reports the bad variable
    configure_logging(log_format, logging.INFO)
    settings = _settings()
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


@app.command()
def up() -> None:
    """Kör alla tre tjänsterna (och en inbäddad Redis vid behov) för utveckling."""
    from services.supervisor import SERVICES, exited, start_services, stop_services

    settings = _settings()
    url, server = ensure_redis(settings)
    procs = start_services({"LAGESBILD_REDIS_URL": url}, services=(*SERVICES, "intake"))
    console.print(f"Tjänsterna (och intake på http) körs mot {url}. Avsluta med Ctrl-C.")
    try:
        while not exited(procs):
            time.sleep(0.5)
        err.print(f"[red]En tjänst avslutades: {', '.join(exited(procs))}[/red]")
    except KeyboardInterrupt:
        pass
    finally:
        stop_services(procs)
        if server:
            server.stop()


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="JSONL-fil, en rapport per rad ('-' = stdin).")],
) -> None:
    """Skicka rapporter till strömmen; varje rad blir en rapport."""
    from services.operator import submit_lines

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


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Antal lagrade och avvisade rapporter och väntande poster i strömmarna."""
    from services.operator import status as read_status

    settings = _settings()
    current = asyncio.run(read_status(_engine(settings), _redis_url(settings)))
    if as_json:
        print(json.dumps(current.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table("Mått", "Antal", title="Läge")
    for key, value in current.as_dict().items():
        if key != "streams":
            table.add_row(key, str(value))
    console.print(table)


@week_app.command("build")
def week_build(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod.")] = "0580",
    as_json: JsonFlag = False,
) -> None:
    """Bygg veckans lägesbild nu (och låt maps-tjänsten rita den)."""
    from services.aggregate.builder import UnknownKommunError, WeekBuilder
    from services.maps.render import week_summary
    from shared.areas import load_kommuner
    from shared.categories import category_catalog
    from shared.contracts import LAGESBILD_READY_STREAM, LagesbildReadyV1
    from shared.weeks import parse_week

    try:
        parse_week(week)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings()
    builder = WeekBuilder(
        _engine(settings),
        load_kommuner(settings.areas_dir, settings.area_name_property),
        category_catalog(settings.extra_categories),
    )
    try:
        snapshot, is_new = builder.build(kommun, week, datetime.now(UTC))
    except UnknownKommunError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    url = _redis_url(settings)
    asyncio.run(_publish(url, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=snapshot)))
    summary = week_summary(snapshot)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    state = "ny revision" if is_new else "oförändrad"
    console.print(
        f"{snapshot.kommun_name} {week}: {summary['total']} händelser "
        f"(förra veckan {summary['previous_total']}), revision {snapshot.revision} ({state})."
    )


CodeOption = Annotated[str | None, typer.Option("--code", help="Bara denna orsakskod.")]


@rejected_app.command("list")
def rejected_list(
    code: CodeOption = None,
    include_replayed: Annotated[bool, typer.Option("--all", help="Även omskickade.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Visa avvisade rapporter med orsak och vad som ska rättas."""
    from services.operator import rejected_rows

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
    from services.operator import rejected_rows, replay_rejected

    settings = _settings()
    engine = _engine(settings)
    rows = [r for r in rejected_rows(engine, code=code) if not ids or r.id in ids]
    if not rows:
        console.print("Inga avvisade rapporter att skicka om.")
        return
    sent = asyncio.run(replay_rejected(engine, _redis_url(settings), rows))
    console.print(f"Skickade om {sent} rapporter; resultatet syns i `lagesbild status`.")


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
        f"{snapshot.kommun_name} {week} revision {snapshot.revision}: {summary['total']} händelser "
        f"(byggd {snapshot.built_at:%Y-%m-%d %H:%M} UTC, {snapshot.content_hash[:12]})."
    )


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Räkna bara, ta inte bort.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Gallra (GDPR): ta bort råa rapporter, fritext och punkter äldre än lagringstiden."""
    from services.retention import purge as run_purge

    settings = _settings()
    counts = run_purge(
        _engine(settings),
        now=datetime.now(UTC),
        retention_days=settings.retention_days,
        dry_run=dry_run,
        run_by="operatör (lagesbild purge)",
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


def settings_classes() -> list[type]:
    from services.ingest.police_cli import PoliceSettings
    from services.intake.config import IntakeSettings
    from services.maps.server import MapsServerSettings
    from services.tib.config import TibSettings
    from shared.observability import OpsSettings

    return [Settings, OpsSettings, IntakeSettings, PoliceSettings, TibSettings, MapsServerSettings]


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


async def _publish(url: str, stream: str, message: Any) -> None:
    from faststream.redis import RedisBroker

    async with RedisBroker(url) as broker:
        await broker.publish(message, stream=stream)


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
    raise typer.Exit(run_demo(settings, weeks, console))


def _register_subcommands() -> None:
    # Commands that live with the service they belong to.
    from services.aggregate.forecast_cli import evaluate_command, forecast_command
    from services.aggregate.plan_cli import decision_app, plan_app
    from services.ingest import police_cli
    from services.intake.cli import audit_app, import_app, intake_command, org_app
    from services.maps.screenshot import screenshot_command
    from services.maps.server import serve_command
    from services.tib.cli import tib_app

    police_cli.register(import_app)  # import csv (intake) and import police (ingest)
    app.add_typer(import_app, name="import")
    app.add_typer(org_app, name="org")
    app.add_typer(audit_app, name="audit")
    app.add_typer(tib_app, name="tib")
    app.add_typer(plan_app, name="plan")
    app.add_typer(decision_app, name="decision")
    app.command("maps-serve", help="Servera arkivet av lägesbilder över HTTP (med behörighet).")(
        serve_command
    )
    app.command("screenshot", help="Skärmbilder (PNG) av veckans karta och mötesunderlag.")(
        screenshot_command
    )
    app.command("intake", help="Kör intake-tjänsten: webbformulär, HTTP-API och Open311.")(
        intake_command
    )

    app.command("forecast", help="Prognos: nästa veckas hotspot-celler som GeoJSON.")(
        forecast_command
    )
    app.command("evaluate", help="Utvärdera prognosen vecka för vecka mot baslinjen.")(
        evaluate_command
    )


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
