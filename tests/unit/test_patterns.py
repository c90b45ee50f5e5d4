"""Time profiles in Stockholm time, the peak in Swedish, and reporter coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.aggregate.logic import Incident
from services.aggregate.patterns import (
    coverage,
    describe_peak,
    time_profiles,
    weekly_profile,
)
from shared.areas import OTHER_AREA
from shared.weeks import STOCKHOLM


def _incident(
    at: datetime,
    area: str = "Skäggetorp",
    category: str = "klotter",
    key: str = "Securitas/1",
    duplicate_of: str | None = None,
) -> Incident:
    return Incident(
        key=key,
        area=area,
        category=category,
        source="vaktare",
        occurred_at=at,
        lat=58.42,
        lon=15.6,
        location_precision="exact",
        description="",
        duplicate_of=duplicate_of,
    )


def _local(day: int, hour: int, minute: int = 15) -> datetime:
    """Week 2026-W20 (Mon 11 May), `day` 0 = Monday, in Stockholm time."""
    return datetime(2026, 5, 11 + day, hour, minute, tzinfo=STOCKHOLM)


def _cell(profile, at: datetime) -> int:
    local = at.astimezone(STOCKHOLM)
    return profile[local.weekday()][local.hour]


@pytest.mark.parametrize(
    ("utc", "weekday", "hour"),
    [
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), 6, 2),  # clocks went back: 02:30 CET
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 6, 2),  # the first 02:30 (CEST)
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), 6, 3),  # clocks went forward: 03:30 CEST
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 6, 1),  # still CET: 01:30
        (datetime(2026, 5, 15, 21, 30, tzinfo=UTC), 4, 23),  # a summer Friday, 23:30
        (datetime(2026, 12, 31, 23, 30), 4, 0),  # naive: taken as UTC -> New Year 00:30
    ],
)
def test_profile_is_in_stockholm_time_across_dst(utc: datetime, weekday: int, hour: int) -> None:
    profile = weekly_profile([_incident(utc)])
    assert len(profile) == 7 and all(len(day) == 24 for day in profile)
    assert profile[weekday][hour] == 1 and sum(map(sum, profile)) == 1


def test_profile_counts_duplicates_once() -> None:
    at = _local(2, 14)
    profile = weekly_profile([_incident(at), _incident(at, duplicate_of="Securitas/1")])
    assert _cell(profile, at) == 1


def _friday_saturday_nights() -> list[Incident]:
    nights = [_local(4, h) for h in (22, 23)] + [_local(5, h) for h in (0, 1)]
    nights += [_local(5, h) for h in (22, 23)] + [_local(6, h) for h in (0, 1)]
    noise = [_local(1, 14), _local(3, 9), _local(0, 17)]
    return [_incident(at) for at in nights * 3 + noise]


def test_friday_and_saturday_nights() -> None:
    profile = weekly_profile(_friday_saturday_nights())
    assert describe_peak(profile) == "fre–lör 22–02"


@pytest.mark.parametrize(
    ("moments", "expected"),
    [
        ([_local(d, h) for d in range(5) for h in (15, 16, 17)], "mån–fre 15–18"),
        ([_local(d, 8) for d in range(7)] * 2, "alla dagar 08–09"),
        ([_local(d, 21) for d in (6, 0)] * 3, "sön–mån 21–22"),
        ([_local(d, 12) for d in (1, 3)] * 3, "tis, tor 12–13"),
        ([_local(2, h) for h in range(24)], "ons dygnet runt"),
    ],
)
def test_other_patterns(moments: list[datetime], expected: str) -> None:
    assert describe_peak(weekly_profile([_incident(m) for m in moments])) == expected


def test_too_few_for_a_pattern() -> None:
    profile = weekly_profile([_incident(_local(4, 22))] * 4)
    assert describe_peak(profile) == "för få händelser för ett mönster"


def test_profiles_per_area_category_and_totals() -> None:
    incidents = _friday_saturday_nights() + [
        _incident(_local(2, 10) + timedelta(minutes=n), area="Ryd", category="brand")
        for n in range(6)
    ]
    profiles = {(p.area, p.category): p for p in time_profiles(incidents)}
    assert set(profiles) == {
        ("Skäggetorp", "klotter"),
        ("Skäggetorp", None),
        ("Ryd", "brand"),
        ("Ryd", None),
        (None, None),
    }
    assert profiles[("Skäggetorp", "klotter")].peak == "fre–lör 22–02"
    assert profiles[("Ryd", "brand")].peak == "ons 10–11"
    assert profiles[(None, None)].total == len(incidents)


# --- coverage --------------------------------------------------------------------------------

AREAS = ["Skäggetorp", "Ryd", "Berga", OTHER_AREA]


def test_coverage_tells_zero_from_not_reported() -> None:
    at = _local(1, 12)
    incidents = [
        _incident(at, "Skäggetorp", key="Securitas/1"),
        _incident(at, "Skäggetorp", key="Securitas/2"),
        _incident(at, "Skäggetorp", key="Nattvandrarna/9", duplicate_of="Securitas/1"),
        _incident(at, "Ryd", key="Stångåstaden/x/7"),
    ]
    nollrapporter = [("Securitas", None), ("Fältgruppen", "Berga"), ("Okänd", "Nowhere")]
    rows = {r.area: r for r in coverage(incidents, nollrapporter, AREAS)}
    assert list(rows) == AREAS
    assert rows["Skäggetorp"].reports == {"Nattvandrarna": 1, "Securitas": 2}
    assert rows["Skäggetorp"].nollrapporter == () and rows["Skäggetorp"].status == "rapporterat"
    assert rows["Ryd"].reports == {"Stångåstaden": 1}
    assert rows["Ryd"].nollrapporter == ("Securitas",)
    assert rows["Berga"].status == "nollrapport"
    assert rows["Berga"].nollrapporter == ("Fältgruppen", "Securitas")
    assert rows[OTHER_AREA].nollrapporter == ("Securitas",)


def test_coverage_without_reports_or_declarations() -> None:
    rows = coverage([], [], AREAS)
    assert [r.status for r in rows] == ["ej rapporterat"] * 4
