"""Patrol presence feeds the lägesbild: the guards' check-in/check-out events on the TiB
orders stream become the week's presence per place and the guard hours at a decision's
target; a visit that ends in an already built week makes a new revision. SQLite and
PostgreSQL; the stream test runs the real services over a real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlmodel import Session, select

from services.aggregate import patrol_store, plan_store, store
from services.aggregate.builder import WeekBuilder
from services.aggregate.models import PatrolEventRow
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import TIB_ORDER_STREAM, AcceptedReportV1, DecisionV1
from shared.db import init_db, make_engine
from shared.streams import envelope
from shared.weeks import iso_week_of, last_complete_week, week_bounds
from tests.conftest import cli_json, service_logs, wait_for
from tests.support.patrols import visit_events

PLACE = (58.4275, 15.5890)  # Skäggetorps centrum
WEEK = "2026-W47"
FRIDAY_20 = datetime(2026, 11, 20, 19, tzinfo=UTC)  # 20:00 in Stockholm


def _report(n: int, at: datetime, north_deg: float = 0.0) -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=f"r{n}", organisation="Väktarbolaget", kommun="0580", source="vaktare",
        category="skadegorelse", occurred_at=at, iso_week=iso_week_of(at), area="Skäggetorp",
        lat=PLACE[0] + north_deg, lon=PLACE[1], accepted_at=at + timedelta(hours=1),
    )  # fmt: skip


@pytest.fixture
def builder(db_url: str) -> WeekBuilder:
    engine = make_engine(db_url)
    init_db(engine)
    return WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)


def test_visits_become_presence_and_guard_hours_at_the_decisions_target(
    builder: WeekBuilder,
) -> None:
    engine = builder.engine
    store.add_incidents(
        engine,
        [
            _report(1, FRIDAY_20 + timedelta(hours=1)),  # while the guard is there
            _report(2, FRIDAY_20 + timedelta(days=1)),  # at the place, guard gone
            _report(3, FRIDAY_20 + timedelta(hours=1), north_deg=0.01),  # 1.1 km away
        ],
    )
    events = visit_events("o1", FRIDAY_20, 3, area="Skäggetorp", incident_report=True)
    events += visit_events("o2", FRIDAY_20 + timedelta(days=2), 2.5, area="Skäggetorp")
    assert len(patrol_store.add_events(engine, events)) == len(events)
    assert patrol_store.add_events(engine, events) == []  # a redelivery stores nothing
    with Session(engine) as session:
        kept = " ".join(session.exec(select(PatrolEventRow.event_json)).all())
    assert "070-1234567" not in kept and "Sven" not in kept  # the guards' notes stay with TiB
    plan_store.add_decision(
        engine,
        DecisionV1(
            decision_id="d1", kommun="0580", measure="Trygghetsväktare kvällstid",
            target="Skäggetorp", responsible=["Kommunen"], from_week="2026-W46",
            until_week="2026-W50", decided_at=datetime(2026, 11, 9, 9, tzinfo=UTC),
        ),
    )  # fmt: skip

    snapshot, _ = builder.build("0580", WEEK, FRIDAY_20 + timedelta(days=4))
    [row] = snapshot.patrol_presence
    assert (row.place, row.area, row.hours, row.visits) == (
        "Skäggetorps centrum",
        "Skäggetorp",
        5.5,
        2,
    )
    assert (row.incidents, row.incidents_during, row.incident_reports) == (2, 1, 1)
    [followup] = snapshot.followups
    assert followup.guard_hours == 5.5
    again, is_new = builder.build("0580", WEEK, FRIDAY_20 + timedelta(days=5))
    assert not is_new and again.content_hash == snapshot.content_hash  # rebuilt bit for bit

    # A later week sees no presence of its own, but the decision's hours so far.
    later, _ = builder.build("0580", "2026-W48", FRIDAY_20 + timedelta(days=9))
    assert later.patrol_presence == [] and later.followups[0].guard_hours == 5.5


@pytest.mark.redis
@pytest.mark.slow
def test_presence_travels_over_the_orders_stream_into_the_meeting_pack(
    running_services: dict[str, Any], service_env: dict[str, str], tmp_path: Path
) -> None:
    week = last_complete_week(datetime.now(UTC))
    start, _ = week_bounds(week)
    redis = Redis.from_url(service_env["LAGESBILD_REDIS_URL"])

    def send(events: list[Any]) -> None:
        for e in events:
            redis.xadd(TIB_ORDER_STREAM, asyncio.run(envelope(e, e.message_id)))  # type: ignore[arg-type]

    send(visit_events("o1", start + timedelta(days=4, hours=19), 3))
    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    init_db(engine)  # the services may still be migrating; this waits for them
    wait_for(lambda: patrol_store.visits_between(engine, "0580", *week_bounds(week)), timeout=30)

    first = cli_json(service_env, "week", "build", "--week", week)
    pack = Path(service_env["LAGESBILD_OUTPUT_DIR"]) / "0580" / week / "motesunderlag.html"
    wait_for(lambda: pack.exists() and "Skäggetorps centrum" in pack.read_text("utf-8"), 30)
    assert "3,0 h" in pack.read_text("utf-8")

    # A guard checks out in the already built week: a new revision with the new hours.
    send(visit_events("o2", start + timedelta(days=5, hours=20), 2))

    def rebuilt() -> Any:
        latest = store.latest_snapshot(engine, "0580", week)
        return latest if latest and latest.revision > first["revision"] else None

    snapshot = wait_for(rebuilt, timeout=30)
    assert [(p.place, p.hours, p.visits) for p in snapshot.patrol_presence] == [
        ("Skäggetorps centrum", 5.0, 2)
    ], service_logs(tmp_path)
    wait_for(lambda: "5,0 h" in pack.read_text("utf-8"), timeout=30)
    assert redis.xpending(TIB_ORDER_STREAM, "aggregate")["pending"] == 0
