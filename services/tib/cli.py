"""`lagesbild tib …`: the patrol recommendation on the command line, and the TiB service.

`recommend` reads the TiB's own snapshot table; when it is empty (the TiB has not run
yet) it reads the newest frozen week from `week_snapshot` directly. That table is the
aggregate's: the read is the composition root's (the command line's), never the service's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.tib import store
from services.tib.config import TibSettings
from services.tib.plan import recommendation, visit_dict
from shared.areas import load_kommuner
from shared.categories import category_catalog
from shared.contracts import WeekSnapshotV1
from shared.models import WeekSnapshotRow
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
    """The TiB's newest snapshot, else the newest frozen week (see the module doc)."""
    snap = store.latest_snapshot(engine, kommun)
    if snap is not None:
        return snap
    query = (
        select(WeekSnapshotRow.snapshot_json)
        .where(WeekSnapshotRow.kommun == kommun)
        .order_by(col(WeekSnapshotRow.iso_week).desc(), col(WeekSnapshotRow.revision).desc())
        .limit(1)
    )
    with Session(engine) as s:
        text = s.exec(query).first()
    return WeekSnapshotV1.model_validate_json(text) if text else None


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
        err.print(f"[red]Ingen lägesbild för kommun {kommun} ännu (lagesbild week build).[/red]")
        raise typer.Exit(1)
    areas = load_kommuner(settings.areas_dir, settings.area_name_property).get(kommun)
    labels = category_catalog(settings.extra_categories)
    visits = recommendation(
        engine, snap, begin, hours, patrols, datetime.now(UTC), areas=areas, labels=labels
    )
    if as_json:
        print(json.dumps([visit_dict(v) for v in visits], ensure_ascii=False, indent=2))
        return
    table = Table("patrull", "plats", "från", "till", "väntat", "skäl")
    for v in visits:
        start_local, end_local = v.start.astimezone(STOCKHOLM), v.end.astimezone(STOCKHOLM)
        table.add_row(str(v.patrol), v.place, f"{start_local:%a %H:%M}", f"{end_local:%H:%M}",
                      f"{v.expected:.1f}", v.reason)  # fmt: skip
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
