"""`lagesbild tib …`: the patrol recommendation on the command line, and the TiB service.

`recommend` reads the TiB's own store only (the newest snapshot it heard on
lagesbild.lagesbild.ready.v1, its open decisions and its live window), as the service does:
nothing of the aggregate's tables. Without a snapshot there it says how to get one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from services.tib import store
from services.tib.config import TibSettings
from services.tib.patrol_plan import patrol_plan, visit_dict
from shared.categories import category_catalog
from shared.contracts import WeekSnapshotV1
from shared.formats import decimal_sv, page_time_sv
from shared.kommuner import live_kommuner
from shared.weeks import STOCKHOLM

tib_app = typer.Typer(help="TiB: livebild och väktaruppdrag.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings() -> TibSettings:
    try:
        return TibSettings()
    except Exception as exc:
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_…):[/red] {exc}")
        raise typer.Exit(2) from exc


def snapshot_for(engine: Engine, kommun: str) -> WeekSnapshotV1 | None:
    """The newest snapshot of the kommun in the TiB's own store."""
    return store.latest_snapshot(engine, kommun)


def _parse_from(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"[red]--from {text!r} är ingen tid; skriv t.ex. 2026-11-27T21:00.[/red]")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


@tib_app.command()
def recommend(
    kommun: Annotated[str, typer.Option("--kommun", help="kommunkod, t.ex. 0580")],
    start: Annotated[str, typer.Option("--from", help="passets början, t.ex. 2026-11-27T21:00")],
    hours: Annotated[float, typer.Option("--hours", min=0.25, help="passets längd i timmar")],
    patrols: Annotated[int, typer.Option("--patrols", min=1, help="antal patruller")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")] = False,
) -> None:
    """Föreslå var och när patrullerna gör mest nytta, med skäl för varje besök."""
    from shared.db import init_db, make_engine

    settings = _settings()
    begin = _parse_from(start)
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    snap = snapshot_for(engine, kommun)
    if snap is None:
        err.print(
            f"[red]TiB har ingen lägesbild för kommun {kommun} ännu. Den kommer på strömmen "
            "när en vecka byggs (lagesbild week build); TiB-tjänsten (lagesbild tib serve) "
            "sparar den.[/red]"
        )
        raise typer.Exit(1)
    areas = live_kommuner(settings, engine).get(kommun)
    labels = category_catalog(settings.extra_categories)
    visits = patrol_plan(
        engine, snap, begin, hours, patrols, datetime.now(UTC), areas=areas, labels=labels
    )
    if as_json:
        print(json.dumps([visit_dict(v) for v in visits], ensure_ascii=False, indent=2))
        return
    table = Table("patrull", "plats", "från", "till", "väntat (händelser)", "skäl")
    for v in visits:
        end_local = v.end.astimezone(STOCKHOLM)
        table.add_row(str(v.patrol), v.place, page_time_sv(v.start), f"{end_local:%H:%M}",
                      f"ca {decimal_sv(v.expected)}", v.reason)  # fmt: skip
    console.print(f"Lägesbild {snap.iso_week}, {len(visits)} besök:")
    console.print(table)


@tib_app.command()
def serve() -> None:
    """Kör TiB-tjänsten: livebilden på /tib och API:t under /api/v1/tib."""
    import logging

    from services.tib.main import create_app
    from shared.http_server import serve as serve_http
    from shared.redis_runtime import ensure_redis

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings()
    url, server = ensure_redis(settings)
    settings = settings.model_copy(update={"redis_url": url})
    console.print(
        f"TiB på http://{settings.tib_host}:{settings.tib_port}/tib (logga in med nyckeln)"
    )
    try:
        serve_http(create_app(settings), settings.tib_host, settings.tib_port, settings)
    finally:
        if server:
            server.stop()
