"""The intake's commands, registered in `lagesbild` by services/cli.py:

lagesbild org add|list|revoke   -> org_app
lagesbild audit list            -> audit_app
lagesbild import csv FILE       -> import_app (or import_csv_command)
lagesbild intake                -> intake_command
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import Engine

from services.intake import audit, csv_import
from services.intake.config import IntakeSettings
from shared import access

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

org_app = typer.Typer(help="Organisationer och deras nycklar.", no_args_is_help=True)
audit_app = typer.Typer(help="Granskningsloggen: vem gjorde vad, när.", no_args_is_help=True)
import_app = typer.Typer(help="Importera rapporter från fil.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")]


def _settings() -> IntakeSettings:
    try:
        return IntakeSettings()
    except Exception as exc:  # pydantic's message names the bad variable
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_…):[/red] {exc}")
        raise typer.Exit(2) from exc


def _guard_delivery(settings: IntakeSettings, name: str, *, open_it: bool) -> None:
    """Create (or remove) the guard company's delivery: its consumer group on the orders
    stream (shared/streams.py: open_guard_delivery). Exit 3 with what to do when no Redis
    answers: the organisation itself is registered either way."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from shared.contracts import TIB_ORDER_STREAM, guard_company_group
    from shared.redis_runtime import RedisUnavailableError, require_redis
    from shared.streams import close_guard_delivery, open_guard_delivery

    async def change(url: str) -> None:
        redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            if open_it:
                await open_guard_delivery(redis, name)
            else:
                await close_guard_delivery(redis, name)
        finally:
            await redis.aclose()

    try:
        asyncio.run(change(require_redis(settings)))
    except (RedisUnavailableError, RedisError, OSError) as exc:
        group = guard_company_group(name)
        if open_it:
            err.print(
                f"[red]Uppdragsleveransen (gruppen {group} på {TIB_ORDER_STREAM}) kunde inte "
                f"skapas: {exc}. Kör `lagesbild org guard-company {name!r}` igen när Redis "
                "svarar; utan den kan uppdrag gallras innan väktarbolaget har läst dem.[/red]"
            )
            raise typer.Exit(3) from exc
        err.print(
            f"[yellow]Uppdragsleveransen (gruppen {group} på {TIB_ORDER_STREAM}) kunde inte "
            f"tas bort: {exc}. Ta bort den med XGROUP DESTROY när Redis svarar.[/yellow]"
        )


def _engine(settings: IntakeSettings) -> Engine:
    from shared.db import init_db, make_engine

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return engine


# --- org ---------------------------------------------------------------------------


@org_app.command("add")
def org_add(
    name: Annotated[str, typer.Argument(help="Organisationens namn, t.ex. 'Securitas Linköping'.")],
    kommun: Annotated[
        list[str],
        typer.Option(
            help="Kommunkod, t.ex. 0580. En administratör kan gälla flera: upprepa --kommun."
        ),
    ],
    role: Annotated[str, typer.Option(help=f"Roll: {', '.join(access.ROLES)}.")] = "reporter",
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Tillåten källa (kan upprepas).")
    ] = None,
    guard_company: Annotated[
        bool,
        typer.Option(
            "--guard-company",
            help="Väktarbolag: får ta TiB:s uppdrag (rollen reporter, källa vaktare/ordningsvakt).",
        ),
    ] = False,
) -> None:
    """Lägg till en organisation och skriv ut dess nyckel (visas bara nu)."""
    settings = _settings()
    engine = _engine(settings)
    first, *extra = kommun
    try:
        org, token = access.create_organisation(
            engine, name, first, role, source or [], guard_company=guard_company,
            extra_kommuner=extra,
        )  # fmt: skip
    except access.OrganisationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    detail = f"add role={role} kommuner={','.join(org.kommun_list)}"
    if org.guard_company:
        detail += " guard_company"
    audit.record(engine, "cli", "admin", "change", f"org:{org.name}", "", detail)
    if org.guard_company:  # its orders are kept for it from now on
        _guard_delivery(settings, org.name, open_it=True)
    kommuner = ", ".join(org.kommun_list)
    role_label = access.ROLE_LABELS.get(org.role, org.role)
    what = f"{role_label}{', väktarbolag' if org.guard_company else ''}"
    console.print(f"Organisationen {org.name} ({what}, kommun {kommuner}) är tillagd.")
    console.print("Nyckel (visas bara nu, spara den säkert):")
    print(token)  # plain print: no wrapping, easy to copy or pipe


@org_app.command("guard-company")
def org_guard_company(
    name: Annotated[str, typer.Argument(help="Organisationens namn.")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Ta bort markeringen i stället.")
    ] = False,
) -> None:
    """Markera en organisation som väktarbolag (får ta TiB:s uppdrag), eller ta bort det.
    Väktarbolaget får en egen leverans av uppdragen (en grupp på uppdragsströmmen)."""
    settings = _settings()
    engine = _engine(settings)
    try:
        org = access.set_guard_company(engine, name, not remove)
    except access.OrganisationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    change = "guard_company off" if remove else "guard_company on"
    audit.record(engine, "cli", "admin", "change", f"org:{org.name}", "", change)
    _guard_delivery(settings, org.name, open_it=not remove)
    if remove:
        console.print(f"{org.name} är inte längre väktarbolag och kan inte ta uppdrag.")
    else:
        console.print(f"{org.name} är väktarbolag och kan ta TiB:s uppdrag.")


@org_app.command("list")
def org_list(as_json: JsonFlag = False) -> None:
    """Visa organisationerna (utan nycklar)."""
    orgs = access.list_organisations(_engine(_settings()))
    rows = [
        {
            "name": o.name,
            "kommun": o.kommun,
            "kommuner": o.kommun_list,
            "role": o.role,
            "guard_company": o.guard_company,
            "sources": o.sources,
            "created_at": o.created_at.isoformat(),
            "revoked_at": o.revoked_at.isoformat() if o.revoked_at else None,
        }
        for o in orgs
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from shared.formats import time_sv

    table = Table("Namn", "Kommun", "Roll", "Väktarbolag", "Källor", "Skapad", "Återkallad")
    for o in orgs:
        revoked = time_sv(o.revoked_at) if o.revoked_at else ""
        table.add_row(
            o.name, ", ".join(o.kommun_list), access.ROLE_LABELS.get(o.role, o.role),
            "ja" if o.guard_company else "",
            ", ".join(o.sources), time_sv(o.created_at), revoked,
        )  # fmt: skip
    console.print(table)


@org_app.command("revoke")
def org_revoke(name: Annotated[str, typer.Argument(help="Organisationens namn.")]) -> None:
    """Återkalla organisationens nyckel; den slutar gälla direkt."""
    settings = _settings()
    engine = _engine(settings)
    caller = access.caller_by_name(engine, name)
    if not access.revoke_organisation(engine, name):
        err.print(f"[red]Ingen aktiv organisation heter {name!r}.[/red]")
        raise typer.Exit(1)
    audit.record(engine, "cli", "admin", "change", f"org:{name}", "", "revoke")
    if caller is not None and caller.guard_company:  # its orders are no longer kept for it
        _guard_delivery(settings, name, open_it=False)
    console.print(f"Nyckeln för {name} är återkallad.")


# --- audit -------------------------------------------------------------------------


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(help="Högst så många, nyast först.")] = 100,
    organisation: Annotated[str | None, typer.Option(help="Bara denna organisation.")] = None,
    action: Annotated[
        str | None, typer.Option(help=f"Bara denna åtgärd: {', '.join(audit.ACTIONS)}.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Visa granskningsloggen."""
    entries = audit.entries(
        _engine(_settings()), limit=limit, organisation=organisation, action=action
    )
    rows = [audit.as_dict(e) for e in entries]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from shared.formats import time_seconds_sv

    table = Table("Tid (Stockholm)", "Organisation", "Roll", "Åtgärd", "Objekt", "Adress")
    for e, r in zip(entries, rows, strict=True):
        table.add_row(
            time_seconds_sv(e.at), str(r["organisation"]), str(r["role"]), str(r["action"]),
            str(r["object"]), str(r["remote_addr"]),
        )  # fmt: skip
    console.print(table)


# --- import ------------------------------------------------------------------------


@import_app.command("csv")
def import_csv_command(
    file: Annotated[Path, typer.Argument(help="CSV- eller .xlsx-fil, en rapport per rad.")],
    org: Annotated[str, typer.Option("--org", help="Organisationen (från `org add`).")],
    map: Annotated[
        list[str] | None,
        typer.Option("--map", help="fält=Rubrik, t.ex. --map occurred_at=Tidpunkt (upprepas)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Kontrollera bara; skicka ingenting.")
    ] = False,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Källa för rader utan källkolumn, t.ex. vaktare."),
    ] = None,
) -> None:
    """Importera en veckorapport (CSV/Excel): kontrollera varje rad, skicka de godkända."""
    from services.intake.context import IntakeContext

    settings = _settings()
    engine = _engine(settings)
    caller = _import_caller(engine, org)
    if source is not None:
        if source not in caller.sources:
            err.print(f"[red]Källan {source!r} är inte tillåten för {org}.[/red]")
            raise typer.Exit(1)
        caller = replace(caller, sources=(source,))  # rows may then only use this one
    ctx = IntakeContext.build(settings)
    try:
        mapping = csv_import.parse_mapping(map or [])
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("Kontrollerar rader", total=csv_import.count_rows(file))
            result = csv_import.check_file(
                file,
                caller,
                ctx.categories,
                lambda payload: ctx.validate(payload, caller.organisation),
                mapping,
                on_row=lambda: progress.advance(task),
            )
    except (csv_import.SheetError, OSError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    sent = 0 if dry_run or not result.accepted else _publish(settings, result)
    if not dry_run:
        audit.record(
            engine, caller.organisation, caller.role, "submit", f"csv:{file.name}", "cli",
            f"{sent} skickade, {len(result.rejected)} avvisade",
        )  # fmt: skip
    _print_summary(file, result, sent, dry_run)


def _import_caller(engine: Engine, name: str) -> access.Caller:
    caller = access.caller_by_name(engine, name)
    if caller is None:
        err.print(
            f"[red]Ingen aktiv organisation heter {name!r}; lägg till den med `org add`.[/red]"
        )
        raise typer.Exit(1)
    if not caller.can(access.SUBMIT):
        err.print(f"[red]Rollen {caller.role} får inte skicka rapporter.[/red]")
        raise typer.Exit(1)
    return caller


def _publish(settings: IntakeSettings, result: csv_import.ImportResult) -> int:
    from shared.redis_runtime import RedisUnavailableError, require_redis
    from shared.report_submit import submit_lines

    try:
        url = require_redis(settings)
    except RedisUnavailableError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc
    lines = result.lines()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Skickar", total=len(lines))
        return asyncio.run(submit_lines(url, lines, on_chunk=lambda n: progress.advance(task, n)))


def _print_summary(file: Path, result: csv_import.ImportResult, sent: int, dry_run: bool) -> None:
    """The outcome; the rejected rows also to FILE.avvisade.csv, except in a dry run,
    which writes nothing at all."""
    verb = "skulle skickas (provkörning)" if dry_run else "skickade"
    console.print(
        f"{file.name}: {result.total} rader, {len(result.accepted)} godkända "
        f"({sent if not dry_run else len(result.accepted)} {verb}), "
        f"{len(result.rejected)} avvisade."
    )
    if not result.rejected:
        if not dry_run:
            csv_import.write_rejects(file, result)
        return
    table = Table("Rad", "Kod", "Orsak")
    for r in result.rejected:
        table.add_row(str(r.row), r.code, r.message_sv)
    console.print(table)
    if dry_run:
        console.print("Provkörning: ingen fil skrevs.")
        return
    target = csv_import.write_rejects(file, result)
    console.print(f"De avvisade raderna finns i {target}.")


# --- the service -------------------------------------------------------------------


def intake_command() -> None:
    """Kör intake-tjänsten: HTTP-API, Open311 och rapportformuläret (/rapport)."""
    import logging

    from services.intake.main import create_app
    from shared.http_server import serve
    from shared.redis_runtime import ensure_redis

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings()
    url, server = ensure_redis(settings)
    settings = settings.model_copy(update={"redis_url": url})
    console.print(
        f"Intake på http://{settings.intake_host}:{settings.intake_port}/rapport "
        f"(API-dokumentation: /docs)"
    )
    try:
        serve(create_app(settings), settings.intake_host, settings.intake_port, settings)
    finally:
        if server:
            server.stop()
