"""The demo's region: Mjölby and Eskilstuna beside Linköping, without named areas."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from services.demo_regions import REGION, generate_region_reports, plan_places, region_plan
from shared.areas import OTHER_AREA
from shared.contracts import ReportV1
from shared.national import boundary_only

END = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("region", REGION, ids=lambda r: r.kommun)
def test_region_reports_are_valid_inside_the_kommun_and_deterministic(region) -> None:
    areas = boundary_only(region.kommun)
    reports = generate_region_reports(region, areas, weeks=6, end=END)
    assert reports == generate_region_reports(region, areas, weeks=6, end=END)
    assert len({r["report_id"] for r in reports}) == len(reports)
    for r in reports:
        ReportV1.model_validate(r)
        assert r["kommun"] == region.kommun
        assert areas.contains(r["lat"], r["lon"])
        assert areas.area_of(r["lat"], r["lon"]) == OTHER_AREA  # no named areas
    per_week = Counter(r["report_id"].rsplit("-", 1)[0] for r in reports)
    assert len(per_week) == 6
    low, high = {"0586": (20, 60), "0484": (80, 150)}[region.kommun]
    assert all(low <= n <= high for n in per_week.values()), per_week


def test_the_plans_places_become_known_places_inside_their_kommun() -> None:
    names = {}
    for region in REGION:
        places = plan_places(region_plan(region)[0])
        areas = boundary_only(region.kommun)
        assert all(areas.contains(p.lat, p.lon) for p in places)
        names[region.kommun] = {p.name for p in places}
    assert {"Gallerian", "Gästisparken"} <= names["0586"]
    assert {"Fristadstorget", "Eskilstuna central", "Centrum"} <= names["0484"]


def test_a_rise_is_built_in() -> None:
    mjolby = REGION[0]
    reports = generate_region_reports(mjolby, boundary_only("0586"), weeks=6, end=END)
    disorder = Counter(
        r["report_id"].rsplit("-", 1)[0] for r in reports if r["category"] == "ordningsstorning"
    )
    weeks = sorted(disorder)
    assert disorder[weeks[-1]] > 2 * disorder[weeks[0]]
