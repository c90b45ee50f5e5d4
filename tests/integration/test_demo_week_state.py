"""The demo's six weeks built by the real aggregate (its store on a SQLite file, its week
builder, Linköping's example plan and the demo's decision): the planted rises are flagged
as unusual, hotspots stay few, and every snapshot carries the pack's plan state —
medborgarlöften, samverkansområden and the patrols proposed until the next meeting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.aggregate import plan_store, store
from services.aggregate.builder import WeekBuilder
from services.demo_data import generate_demo_reports
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1, DecisionV1, ReportV1, WeekSnapshotV1
from shared.db import init_db, make_engine
from shared.plan import parse_plan
from shared.weeks import STOCKHOLM, iso_week_of, shift_week

END = datetime(2026, 11, 25, 12, tzinfo=STOCKHOLM)  # a Wednesday: six weeks W42–W47
WEEKS = [shift_week("2026-W47", -i) for i in reversed(range(6))]
PLAN = (Path(__file__).resolve().parents[2] / "plans" / "linkoping.toml").read_text("utf-8")


def _accepted(report: dict[str, Any], area_of: Callable[[float, float], str]) -> AcceptedReportV1:
    r = ReportV1.model_validate(report)
    return AcceptedReportV1(
        report_id=r.report_id,
        organisation=r.organisation,
        kommun=r.kommun,
        source=r.source,
        category=r.category,
        occurred_at=r.occurred_at,
        iso_week=iso_week_of(r.occurred_at),
        area=area_of(r.lat, r.lon),
        lat=r.lat,
        lon=r.lon,
        description=r.description or "",
        accepted_at=r.occurred_at + timedelta(hours=1),
    )


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WeekSnapshotV1]]:
    db = tmp_path_factory.mktemp("demo-weeks") / "lagesbild.db"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    kommuner = load_kommuner()
    linkoping = kommuner["0580"]
    builder = WeekBuilder(engine, kommuner, DEFAULT_CATEGORIES)
    reports = generate_demo_reports(linkoping, weeks=len(WEEKS), end=END)
    accepted = [_accepted(r, linkoping.area_of) for r in reports]
    store.add_incidents(engine, accepted, builder.grid_cell_of)
    plan_store.save_plan(engine, parse_plan(PLAN), PLAN, END)
    # as the demo does: a decision on the plan's klottersanering in Skäggetorp
    plan_store.add_decision(
        engine,
        DecisionV1(
            decision_id="demo-klottersanering-skaggetorp",
            kommun="0580",
            measure="Snabb klottersanering inom 24 timmar",
            activity_id="klottersanering",
            target="Skäggetorp",
            categories=["klotter", "skadegorelse"],
            responsible=["Kommunen"],
            from_week=WEEKS[-3],
            until_week=shift_week(WEEKS[-1], 4),
            decided_at=END,
        ),
    )
    try:
        yield {w: builder.build("0580", w, END)[0] for w in WEEKS}
    finally:
        engine.dispose()


def test_some_week_has_an_honest_rise_and_hotspots_stay_few(
    weeks: dict[str, WeekSnapshotV1],
) -> None:
    alerts = {w: [(s.area, s.category) for s in snap.stats if s.alert] for w, snap in weeks.items()}
    # the planted rises: skadegörelse in Skäggetorp the week before last, störande samlingar
    # at Resecentrum (Innerstaden) in the last week
    assert ("Skäggetorp", "skadegorelse") in alerts[WEEKS[-2]], alerts
    assert ("Innerstaden", "storande_samling") in alerts[WEEKS[-1]], alerts
    assert all(len(a) <= 2 for a in alerts.values()), alerts  # nothing else lights up
    for snap in weeks.values():
        assert len(snap.hotspots) <= 8, (snap.iso_week, [h.name for h in snap.hotspots])
    # the rises are matched to the plan: the activity at Resecentrum, the promise in Skäggetorp
    rise_links = {(link.target_name, link.activity_id) for link in weeks[WEEKS[-1]].plan_links}
    assert any(a == "resecentrum-narvaro" for _, a in rise_links), rise_links


def test_the_snapshot_carries_promises_plan_areas_and_upcoming_patrols(
    weeks: dict[str, WeekSnapshotV1],
) -> None:
    last, before = weeks[WEEKS[-1]], weeks[WEEKS[-2]]
    promise = next(p for p in before.promises if p.promise_id == "skaggetorp-trygghet")
    assert promise.places == ["Skäggetorp"] and "skadegorelse" in promise.categories
    # counted as the cells count: the promise's categories in its area
    cells = {(c.area, c.category): c.count for c in before.cells}
    assert promise.count == sum(cells.get(("Skäggetorp", c), 0) for c in promise.categories)
    assert promise.previous is not None and promise.trend == "ökar"
    assert any("klottersanering" in line for line in promise.done), promise.done
    # the first week has no complete week before it: nothing is compared
    first = next(p for p in weeks[WEEKS[0]].promises if p.promise_id == "skaggetorp-trygghet")
    assert first.previous is None and first.trend == "–"

    areas = {a.plan_area_id: a for a in last.plan_areas}
    public_space = areas["otrygghet-offentliga-rummet"]
    assert "Innerstaden" in public_space.areas and "storande_samling" in public_space.categories
    assert public_space.previous is not None and public_space.count > public_space.previous
    assert areas["sociala-risker"].open_decisions == 0
    assert sum(a.open_decisions for a in last.plan_areas) >= 1  # klottersanering's area

    patrols = last.upcoming_patrols
    assert 1 <= len(patrols) <= 10
    monday = datetime(2026, 11, 23, tzinfo=STOCKHOLM)
    per_day: dict[object, int] = {}
    for p in patrols:
        start = p.start.astimezone(STOCKHOLM)
        assert monday <= p.start < p.end <= monday + timedelta(days=7)
        assert start.minute % 15 == 0 and p.end.astimezone(STOCKHOLM).minute % 15 == 0
        assert p.expected > 0 and p.reason.startswith(p.place)
        per_day[start.date()] = per_day.get(start.date(), 0) + 1
    assert max(per_day.values()) <= 2
    assert any(p.place in {h.name for h in last.hotspots} for p in patrols)
