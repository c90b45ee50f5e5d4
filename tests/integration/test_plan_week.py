"""The week's lägesbild with a plan and decisions: links, gaps, carry-over, follow-up, and
plans and decisions stored idempotently, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from services.aggregate import plan_store, store
from services.aggregate.builder import WeekBuilder
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1, DecisionReportV1, DecisionV1, new_message_id
from shared.db import init_db, make_engine
from shared.plan import parse_plan

WEEK = "2026-W47"
FRIDAY_22 = datetime(2026, 11, 20, 21, tzinfo=UTC)  # 22:00 in Stockholm
PLAN_TEXT = (Path(__file__).resolve().parents[2] / "plans" / "linkoping.toml").read_text("utf-8")
LINKOPING = load_kommuner()["0580"]


def _cluster(area: str, category: str, n: int, seed: int) -> list[AcceptedReportV1]:
    centre = next(a for a in LINKOPING.areas if a.name == area).geometry.representative_point()
    rng = np.random.default_rng(seed)
    return [
        AcceptedReportV1(
            report_id=f"{area}-{i}",
            organisation="Väktarbolaget",
            kommun="0580",
            source="vaktare",
            category=category,
            occurred_at=FRIDAY_22 + timedelta(minutes=7 * i),
            iso_week=WEEK,
            area=area,
            lat=centre.y + rng.uniform(-3e-4, 3e-4),
            lon=centre.x + rng.uniform(-5e-4, 5e-4),
            accepted_at=FRIDAY_22 + timedelta(days=1),
        )
        for i in range(n)
    ]


def _decision(decision_id: str, from_week: str, until_week: str, **kw: object) -> DecisionV1:
    fields = {
        "decision_id": decision_id,
        "kommun": "0580",
        "measure": "Nattvandring fredag och lördag",
        "activity_id": "nattvandring",
        "target": "Skäggetorp, centrala delen",
        "categories": ["storande_samling"],
        "responsible": ["Kommunen"],
        "from_week": from_week,
        "until_week": until_week,
        "decided_at": datetime(2026, 11, 2, 9, tzinfo=UTC),
    }
    return DecisionV1.model_validate({**fields, **kw})


@pytest.fixture
def builder(db_url: str) -> WeekBuilder:
    engine = make_engine(db_url)
    init_db(engine)
    return WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)


def test_hotspots_are_linked_to_the_plan_and_unplanned_ones_are_gaps(
    builder: WeekBuilder,
) -> None:
    store.add_incidents(
        builder.engine,
        _cluster("Skäggetorp", "storande_samling", 8, 1) + _cluster("Malmslätt", "brand", 8, 2),
    )
    plain, _ = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=3))
    assert plain.plan_links == [] and plain.plan_gaps == []  # no plan loaded: nothing to say
    plan_store.save_plan(builder.engine, parse_plan(PLAN_TEXT), PLAN_TEXT, FRIDAY_22)

    snapshot, is_new = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=4))
    assert is_new and snapshot.revision == 2
    spots = {h.name for h in snapshot.hotspots}
    assert spots == {"Skäggetorp, centrala delen", "Malmslätt, centrala delen"}
    links = {link.activity_id: link for link in snapshot.plan_links}
    assert {"hotspot-patrullering", "nattvandring", "skaggetorp-trygghet"} <= set(links)
    assert links["hotspot-patrullering"].reasons == [
        "kategori: Störande samling",
        "område: Skäggetorp",
        "tid: 8 av 8 händelser inom fre-lör 18:00-03:00",
    ]
    assert all(link.target_name == "Skäggetorp, centrala delen" for link in links.values())
    [gap] = snapshot.plan_gaps
    assert (gap.target_name, gap.categories) == ("Malmslätt, centrala delen", ["brand"])


def test_open_decisions_carry_over_and_each_is_followed_up(builder: WeekBuilder) -> None:
    store.add_incidents(builder.engine, _cluster("Skäggetorp", "storande_samling", 8, 1))
    for d in (
        _decision("overdue", "2026-W44", "2026-W45"),  # open past its end: still on the agenda
        _decision("current", "2026-W46", "2026-W50"),
        _decision("closed", "2026-W45", "2026-W48", status="closed"),
        _decision("future", "2026-W49", "2026-W52"),
        _decision("ancient", "2026-W10", "2026-W20"),
        _decision("elsewhere", "2026-W46", "2026-W50", kommun="0586"),
    ):
        assert plan_store.add_decision(builder.engine, d)
    snapshot, _ = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=3))
    assert [d.decision_id for d in snapshot.open_decisions] == ["overdue", "current"]
    followups = {f.decision_id: f for f in snapshot.followups}
    assert set(followups) == {"overdue", "current", "closed"}
    current = followups["current"]
    assert (current.weeks_before, current.weeks_after, current.before, current.after) == (
        8,
        2,
        0,
        8,
    )
    assert current.statement.startswith("För få händelser")

    again, is_new = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=5))
    assert not is_new and again.content_hash == snapshot.content_hash  # deterministic

    close = _decision("current", "2026-W46", "2026-W50", status="closed", message_id="m2")
    assert plan_store.add_decision(builder.engine, close)
    assert not plan_store.add_decision(builder.engine, _decision("current", "2026-W46", "2026-W50"))
    closed, is_new = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=6))
    assert is_new and [d.decision_id for d in closed.open_decisions] == ["overdue"]
    next_week, _ = builder.build("0580", "2026-W48", FRIDAY_22 + timedelta(days=10))
    assert [d.decision_id for d in next_week.open_decisions] == ["overdue"]


def test_report_backs_owner_and_progress_reach_the_week(builder: WeekBuilder) -> None:
    """The aggregate keeps what readers merge: report-backs (by id, none lost when an event
    carries only the newest), the owner and the status; redelivery changes nothing."""
    first = _decision("d1", "2026-W46", "2026-W50", owner="Fastighetsägaren")
    assert plan_store.add_decision(builder.engine, first)
    early = DecisionReportV1(
        reported_at=FRIDAY_22, text="Belysningen lagad", by="Kommunen", progress="pågår"
    )
    late = DecisionReportV1(reported_at=FRIDAY_22 + timedelta(days=1), text="Klotter sanerat")
    for reports in ([early], [late]):  # each event carries only its own report
        event = first.model_copy(update={"message_id": new_message_id(), "reports": reports})
        assert plan_store.add_decision(builder.engine, event)
    assert not plan_store.add_decision(builder.engine, event)  # redelivered
    stored = plan_store.stored_decision(builder.engine, "d1")
    assert stored is not None
    assert [r.text for r in stored.reports] == ["Belysningen lagad", "Klotter sanerat"]
    assert (stored.owner, stored.progress) == ("Fastighetsägaren", "pågår")
    snapshot, _ = builder.build("0580", WEEK, FRIDAY_22 + timedelta(days=3))
    [open_decision] = snapshot.open_decisions
    assert [r.by for r in open_decision.reports] == ["Kommunen", ""]
    assert open_decision.owner == "Fastighetsägaren"


def test_a_plan_loaded_again_makes_a_new_version_only_when_it_changed(
    builder: WeekBuilder,
) -> None:
    plan = parse_plan(PLAN_TEXT)
    first, is_new = plan_store.save_plan(builder.engine, plan, PLAN_TEXT, FRIDAY_22)
    assert (first.version, is_new) == (1, True)
    assert plan_store.save_plan(builder.engine, plan, PLAN_TEXT, FRIDAY_22)[1] is False
    changed = PLAN_TEXT.replace("Hot-spot-patrullering", "Hot spot-patrullering")
    second, is_new = plan_store.save_plan(builder.engine, parse_plan(changed), changed, FRIDAY_22)
    assert (second.version, is_new) == (2, True)
    [current] = plan_store.current_plans(builder.engine, "0580")
    assert current.version == 2 and "Hot spot-patrullering" in current.toml_text
    old = plan_store.plan_version(builder.engine, "0580", plan.plan_id, version=1)
    assert old is not None and old.toml_text == PLAN_TEXT
