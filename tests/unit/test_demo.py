"""The Linköping demo generator: valid, deterministic, and shaped like a real lägesbild."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.demo_data import generate_demo_reports, write_jsonl
from shared.areas import OTHER_AREA, KommunAreas, load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import ReportV1
from shared.weeks import STOCKHOLM, iso_week_of

END = datetime(2025, 6, 18, 12, 0, tzinfo=STOCKHOLM)  # a Wednesday in 2025-W25
WEEKS = 8
EXPECTED_WEEKS = [f"2025-W{w}" for w in range(17, 25)]
PERSONNUMMER = re.compile(r"\b(\d{2})?\d{6}[-+]\d{4}\b")


@pytest.fixture(scope="module")
def linkoping() -> KommunAreas:
    return load_kommuner()["0580"]


@pytest.fixture(scope="module")
def reports(linkoping: KommunAreas) -> list[dict[str, Any]]:
    return generate_demo_reports(linkoping, weeks=WEEKS, end=END)


def _local(report: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(report["occurred_at"]).astimezone(STOCKHOLM)


def _week(report: dict[str, Any]) -> str:
    return iso_week_of(datetime.fromisoformat(report["occurred_at"]))


def test_every_report_is_a_valid_report_v1(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        parsed = ReportV1.model_validate(report)
        assert parsed.kommun == "0580"
        assert parsed.category in DEFAULT_CATEGORIES
        assert parsed.description
    json.dumps(reports)  # JSON-ready as is


def test_report_ids_are_unique(reports: list[dict[str, Any]]) -> None:
    ids = [r["report_id"] for r in reports]
    assert len(set(ids)) == len(ids)


def test_deterministic_for_the_same_arguments(linkoping, reports) -> None:
    assert generate_demo_reports(linkoping, weeks=WEEKS, end=END) == reports
    assert generate_demo_reports(linkoping, weeks=WEEKS, end=END, seed=1) != reports


def test_covers_exactly_the_complete_weeks_before_end(reports: list[dict[str, Any]]) -> None:
    assert sorted({_week(r) for r in reports}) == EXPECTED_WEEKS
    assert all(datetime.fromisoformat(r["occurred_at"]) <= END for r in reports)


def test_end_on_a_week_boundary_includes_the_week_just_ended(linkoping: KommunAreas) -> None:
    monday = datetime(2025, 3, 31, tzinfo=STOCKHOLM)  # 2025-W14 starts; DST began in W13
    reports = generate_demo_reports(linkoping, weeks=2, end=monday)
    assert {_week(r) for r in reports} == {"2025-W12", "2025-W13"}
    assert max(datetime.fromisoformat(r["occurred_at"]) for r in reports) < monday


def test_volume_per_week(reports: list[dict[str, Any]]) -> None:
    per_week = Counter(_week(r) for r in reports)
    assert all(150 <= n <= 400 for n in per_week.values()), per_week


def test_all_points_inside_the_kommun(linkoping, reports) -> None:
    assert all(linkoping.contains(r["lat"], r["lon"]) for r in reports)


def test_some_reports_fall_outside_the_named_areas(linkoping, reports) -> None:
    assert any(linkoping.area_of(r["lat"], r["lon"]) == OTHER_AREA for r in reports)


def _weekend_night(moment: datetime) -> bool:
    """Friday or Saturday 20:00 to 03:00 the next morning."""
    weekday, hour = moment.weekday(), moment.hour
    return (weekday in (4, 5) and hour >= 20) or (weekday in (5, 6) and hour < 3)


def test_city_disorder_peaks_on_weekend_nights(linkoping, reports) -> None:
    disorder = [
        _local(r)
        for r in reports
        if r["category"] == "ordningsstorning"
        and linkoping.area_of(r["lat"], r["lon"]) == "Innerstaden"
    ]
    share = sum(map(_weekend_night, disorder)) / len(disorder)
    assert share > 0.5  # 14 of 168 hours: a uniform spread would give about 0.08


def test_drugs_at_skaggetorp_on_school_day_afternoons(linkoping, reports) -> None:
    times = [
        _local(r)
        for r in reports
        if r["category"] == "narkotika" and linkoping.area_of(r["lat"], r["lon"]) == "Skäggetorp"
    ]
    in_window = [t for t in times if t.weekday() < 5 and 14 <= t.hour < 18]
    assert len(in_window) >= 0.9 * len(times) > 0  # near-duplicates may slip a few minutes


def test_klotter_rises_in_skaggetorp(linkoping, reports) -> None:
    per_week = Counter(
        _week(r)
        for r in reports
        if r["category"] == "klotter" and linkoping.area_of(r["lat"], r["lon"]) == "Skäggetorp"
    )
    assert per_week[EXPECTED_WEEKS[-1]] > 2 * per_week[EXPECTED_WEEKS[0]] > 0


def test_a_few_descriptions_carry_fake_personal_data(reports: list[dict[str, Any]]) -> None:
    with_pnr = [r for r in reports if PERSONNUMMER.search(r["description"])]
    assert 1 <= len(with_pnr) <= 0.05 * len(reports)
    assert {_week(r) for r in with_pnr} == set(EXPECTED_WEEKS)  # every week has one


def _metres(a: dict[str, Any], b: dict[str, Any]) -> float:
    dy = (a["lat"] - b["lat"]) * 111_320
    dx = (a["lon"] - b["lon"]) * 111_320 * math.cos(math.radians(a["lat"]))
    return math.hypot(dx, dy)


def test_near_duplicates_by_another_organisation(reports: list[dict[str, Any]]) -> None:
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in reports:
        by_category[r["category"]].append(r)
    pairs = 0
    for group in by_category.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                apart = abs(_local(a) - _local(b))
                if (
                    a["organisation"] != b["organisation"]
                    and apart <= timedelta(minutes=20)
                    and _metres(a, b) <= 30
                ):
                    pairs += 1
    assert 0.02 * len(reports) <= pairs <= 0.06 * len(reports)


def test_write_jsonl_round_trips(reports: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "demo" / "reports.jsonl"
    assert write_jsonl(reports[:50], path) == 50
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == reports[:50]
    assert "Linköping" in path.read_text(encoding="utf-8")  # ensure_ascii=False


def test_rejects_naive_end_and_other_kommuner(linkoping: KommunAreas) -> None:
    with pytest.raises(ValueError):
        generate_demo_reports(linkoping, weeks=1, end=datetime(2025, 6, 18))
    other = KommunAreas("0180", "Stockholm", linkoping.boundary, linkoping.areas, {})
    with pytest.raises(ValueError):
        generate_demo_reports(other, weeks=1, end=END)
