"""`lagesbild demo`: the whole product on one machine, end to end, through the streams."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import Engine

from services import cli_ops
from services.aggregate.plan_cli import plan_message
from services.demo_data import SKAGGETORP_C, generate_demo_reports
from services.demo_regions import REGION, enable_region, generate_region_reports, region_plan
from services.supervisor import exited, start_services, stop_services
from shared.categories import category_catalog
from shared.config import Settings
from shared.contracts import (
    DECISION_STREAM,
    PLAN_STREAM,
    TIB_ORDER_STREAM,
    DecisionV1,
    PatrolOrderEventV1,
    PatrolOrderV1,
)
from shared.db import init_db, make_engine
from shared.kommuner import LiveKommuner, areas_dir_of, live_kommuner
from shared.plan import check_plan, parse_plan
from shared.redis_runtime import ensure_redis
from shared.report_submit import submit_lines
from shared.weeks import STOCKHOLM, iso_week_of, last_complete_week, shift_week, week_bounds

DEMO_KOMMUN = "0580"
DEMO_GUARDS = "Trygghetsväktarna Linköping (demo)"
# A few submissions that must be rejected, so the demo shows the dead-letter path too.
BROKEN_LINES = [
    b'{"report_id": "demo-trasig-1", "kommun": "0580"',
    b'{"version": 1, "report_id": "demo-okand-kategori", "kommun": "0580", "source": "vaktare",'
    b' "organisation": "Demo", "category": "ufo", "occurred_at": "2026-01-01T12:00:00+01:00",'
    b' "lat": 58.41, "lon": 15.62}',
]


REPO = Path(__file__).resolve().parents[1]
DEMO_PLAN = REPO / "plans" / "linkoping.toml"


def _plan_and_decision(
    settings: Settings, engine: Engine, url: str, weeks: list[str], now: datetime, console: Console
) -> None:
    """Load Linköping's example plan and record one meeting decision, so the meeting pack
    shows linked åtgärder, gaps, an open decision and its follow-up."""
    if not DEMO_PLAN.exists():  # an installed package without the repo's examples
        return
    text = DEMO_PLAN.read_text(encoding="utf-8")
    plan = parse_plan(text)
    check_plan(plan, category_catalog(settings.extra_categories), live_kommuner(settings, engine))
    # As `lagesbild plan load` does: on the plan stream, for the aggregate and the archive.
    asyncio.run(cli_ops.send_message(url, PLAN_STREAM, plan_message(plan, text, now)))
    start = weeks[max(0, len(weeks) - 3)]
    decision = DecisionV1(
        decision_id="demo-klottersanering-skaggetorp",
        kommun=DEMO_KOMMUN,
        measure="Snabb klottersanering inom 24 timmar (Broken Windows)",
        activity_id="klottersanering",
        target="Skäggetorp",
        categories=["klotter", "skadegorelse"],
        responsible=["Kommunen, tekniska förvaltningen"],
        from_week=start,
        until_week=shift_week(weeks[-1], 4),
        decided_at=now,
    )
    asyncio.run(cli_ops.send_message(url, DECISION_STREAM, decision))
    console.print(f"Plan: {plan.title}; beslut från {start}: {decision.measure} i Skäggetorp.")


def _region_plans(
    settings: Settings, url: str, kommuner: LiveKommuner, now: datetime, console: Console
) -> None:
    """Mjölby's and Eskilstuna's example plans (plans/), as their meeting packs show them."""
    for region in REGION:
        if not region.plan_file.exists():  # an installed package without the repo's examples
            continue
        plan, text = region_plan(region)
        check_plan(plan, category_catalog(settings.extra_categories), kommuner)
        asyncio.run(cli_ops.send_message(url, PLAN_STREAM, plan_message(plan, text, now)))
        console.print(f"Plan: {plan.title}.")


def demo_patrols(weeks: list[str]) -> list[PatrolOrderEventV1]:
    """TiB-directed guard visits at Skäggetorps centrum, Friday and Saturday 21–01 in the
    demo's last two weeks: check-in and check-out, so the meeting pack shows presence."""
    events: list[PatrolOrderEventV1] = []
    for week in weeks[-2:]:
        monday = week_bounds(week)[0].astimezone(STOCKHOLM)
        for day in (4, 5):
            start = (monday + timedelta(days=day)).replace(hour=21).astimezone(UTC)
            order = PatrolOrderV1(
                order_id=f"demo-{week}-{day}",
                kommun=DEMO_KOMMUN,
                place=SKAGGETORP_C.place,
                lat=SKAGGETORP_C.lat,
                lon=SKAGGETORP_C.lon,
                area="Skäggetorp",
                start=start,
                end=start + timedelta(hours=4),
                task="Synlig patrullering vid centrum och gångtunneln",
            )
            steps = [("issued", -60, "TiB Linköping"), ("checked_in", 5, DEMO_GUARDS),
                     ("checked_out", 235, DEMO_GUARDS)]  # fmt: skip
            events += [
                PatrolOrderEventV1(
                    # fixed ids: running the demo again stores no second copy of an event
                    message_id=f"{order.order_id}-{kind}",
                    order_id=order.order_id,
                    kommun=DEMO_KOMMUN,
                    kind=kind,
                    at=start + timedelta(minutes=minutes),
                    by=by,
                    order=order if kind == "issued" else None,
                )
                for kind, minutes, by in steps
            ]
    return events


def run_demo(settings: Settings, weeks: int, console: Console) -> int:
    now = datetime.now(UTC)
    out = settings.resolved_output_dir
    url, server = ensure_redis(settings)
    settings = settings.model_copy(update={"redis_url": url})
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    env = {
        "LAGESBILD_REDIS_URL": url,
        "LAGESBILD_OUTPUT_DIR": str(out.resolve()),
        "LAGESBILD_DATA_DIR": str(settings.data_dir.resolve()),
    }
    if settings.database_url:
        env["LAGESBILD_DATABASE_URL"] = settings.database_url
    # The region (Mjölby, Eskilstuna) is enabled before the services start; they would see
    # it within seconds anyway (shared/kommuner.py).
    region = enable_region(engine, areas_dir_of(settings), now)
    kommuner = live_kommuner(settings, engine)
    procs = start_services(env, log_dir=settings.data_dir / "logs")
    console.print(f"Redis: {url} · databas: {settings.resolved_database_url}")
    try:
        kommun = kommuner[DEMO_KOMMUN]
        reports = generate_demo_reports(kommun, weeks=weeks, end=now)
        for r in REGION:
            reports += generate_region_reports(r, kommuner[r.kommun], weeks=weeks, end=now)
        lines = [json.dumps(r, ensure_ascii=False).encode() for r in reports] + BROKEN_LINES
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Skickar rapporter", total=len(lines))
            asyncio.run(submit_lines(url, lines, lambda n: progress.advance(task, n)))
        names = ", ".join(kommuner[k].kommun_name for k in (DEMO_KOMMUN, *region))
        console.print(f"Skickade {len(lines)} rapporter ({names}; {weeks} veckor).")
        state = asyncio.run(cli_ops.wait_until_idle(engine, url, timeout_s=600))
        console.print(
            f"Lagrade {state.stored_reports}, avvisade {state.rejected_reports}, "
            f"troliga dubbletter {state.linked_duplicates}."
        )
        last = last_complete_week(now)
        week_list = [shift_week(last, -i) for i in reversed(range(weeks))]
        _plan_and_decision(settings, engine, url, week_list, now, console)
        _region_plans(settings, url, kommuner, now, console)
        patrols = demo_patrols(week_list)
        for event in patrols:
            asyncio.run(cli_ops.send_message(url, TIB_ORDER_STREAM, event))
        console.print(f"Väktarpass: {len(patrols) // 3} besök vid {SKAGGETORP_C.place}.")
        asyncio.run(cli_ops.wait_until_idle(engine, url, timeout_s=120))
        since = asyncio.run(cli_ops.request_builds(url, DEMO_KOMMUN, week_list))
        for code in region:
            asyncio.run(cli_ops.request_builds(url, code, week_list))
        expected = {(k, w) for k in (DEMO_KOMMUN, *region) for w in week_list}
        asyncio.run(cli_ops.wait_for_published(url, since, expected, timeout_s=600))
        if (dead := asyncio.run(cli_ops.status(engine, url)).dead_letters) > 0:
            logs = settings.data_dir / "logs"
            console.print(
                f"[red]{dead} interna händelser kunde inte användas (se strömmen "
                f"lagesbild.dead-letter.v1 och tjänsternas loggar i {logs}).[/red]"
            )
            return 1
        if failed := exited(procs):
            console.print(f"[red]Tjänster avslutades oväntat: {', '.join(failed)}[/red]")
            return 1
        console.print(f"Veckor: {week_list[0]} – {week_list[-1]} (nu är det {iso_week_of(now)}).")
        console.print(f"[bold green]Klart.[/bold green] Öppna {(out / 'index.html').resolve()}")
        return 0
    finally:
        stop_services(procs)
        engine.dispose()
        if server:
            server.stop()
