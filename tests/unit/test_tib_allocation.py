"""The patrol allocation: known answers for the greedy plan and its constraints."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.geo import distance_m
from shared.patrols.allocation import (
    QUARTER,
    Constraints,
    Place,
    allocate,
    ceil_quarter,
    expected_between,
    flat_rates,
    travel_minutes,
)
from shared.weeks import STOCKHOLM

FRIDAY_21 = datetime(2026, 11, 27, 21, 0, tzinfo=STOCKHOLM)  # a Friday
FRI, SAT = 4, 5


def rates(cells: dict[tuple[int, int], float], base: float = 0.0) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(cells.get((d, h), base) for h in range(24)) for d in range(7))


FRIDAY_NIGHTS = rates({(FRI, 21): 2, (FRI, 22): 2, (FRI, 23): 2, (SAT, 0): 2})
BUSY = Place("Skäggetorps centrum", 58.4270, 15.5890, FRIDAY_NIGHTS)
QUIET = Place("Ryd centrum", 58.4090, 15.5630, flat_rates(0.25))
NO_LIMITS = Constraints(min_visit_minutes=60, speed_kmh=25, max_share=1.0)


def hours_at(visits: list, place: str) -> float:
    return sum((v.end - v.start) / timedelta(hours=1) for v in visits if v.place == place)


def test_a_friday_night_window_picks_the_place_busy_on_friday_nights() -> None:
    visits = allocate([QUIET, BUSY], FRIDAY_21, 4, 1, NO_LIMITS)
    assert [(v.place, v.start, v.end) for v in visits] == [
        (BUSY.name, FRIDAY_21, FRIDAY_21 + timedelta(hours=4))
    ]
    assert visits[0].expected == pytest.approx(8.0)


def test_a_tuesday_morning_window_picks_the_place_busy_then() -> None:
    tuesday_9 = datetime(2026, 11, 24, 9, 0, tzinfo=STOCKHOLM)
    visits = allocate([BUSY, QUIET], tuesday_9, 2, 1, NO_LIMITS)
    assert {v.place for v in visits} == {QUIET.name}
    assert visits[0].expected == pytest.approx(0.5)


def test_the_max_share_spreads_the_hours() -> None:
    limits = Constraints(min_visit_minutes=60, speed_kmh=25, max_share=0.5)
    visits = allocate([BUSY, QUIET], FRIDAY_21, 4, 1, limits)
    assert hours_at(visits, BUSY.name) == 2  # half of 4 patrol hours
    assert visits[0].place == BUSY.name and visits[0].start == FRIDAY_21
    assert visits[1].place == QUIET.name
    assert hours_at(visits, QUIET.name) <= 2


def test_travel_time_between_places_is_respected() -> None:
    far = Place("Tornby", 58.4450, 15.6550, rates({(FRI, 23): 5, (SAT, 0): 5}))
    minutes = travel_minutes(BUSY, far, 25)
    assert minutes == pytest.approx(
        distance_m(BUSY.lat, BUSY.lon, far.lat, far.lon) / 416.67, abs=1
    )
    visits = allocate([BUSY, far], FRIDAY_21, 4, 1, Constraints(60, 25, 1.0))
    assert [v.place for v in visits] == [BUSY.name, far.name]
    # the travel, rounded up to the next quarter hour
    assert visits[1].start == ceil_quarter(visits[0].end + timedelta(minutes=minutes))
    assert timedelta(0) <= visits[1].start - visits[0].end - timedelta(minutes=minutes) < QUARTER
    assert visits[1].end <= FRIDAY_21 + timedelta(hours=4)


def test_an_open_decision_raises_a_place_above_an_equal_one() -> None:
    a = Place("A", 58.41, 15.60, flat_rates(1.0))
    b = Place("B", 58.42, 15.60, flat_rates(1.0))
    assert allocate([a, b], FRIDAY_21, 1, 1, NO_LIMITS)[0].place == "A"  # tie: list order
    weighted = Place("B", 58.42, 15.60, flat_rates(1.0), weight=1.5)
    assert allocate([a, weighted], FRIDAY_21, 1, 1, NO_LIMITS)[0].place == "B"


def test_two_patrols_do_not_cover_the_same_place_at_the_same_time() -> None:
    visits = allocate([BUSY, QUIET], FRIDAY_21, 4, 2, NO_LIMITS)
    by_patrol = {v.patrol: v for v in visits}
    assert by_patrol[1].place == BUSY.name and by_patrol[1].end - by_patrol[1].start == timedelta(
        hours=4
    )
    assert by_patrol[2].place == QUIET.name


def test_nothing_to_expect_proposes_nothing() -> None:
    empty = Place("Tomt", 58.41, 15.60, flat_rates(0.0))
    assert allocate([empty], FRIDAY_21, 8, 2) == []
    assert allocate([], FRIDAY_21, 8, 2) == []


def test_a_visit_never_runs_past_the_window_nor_below_the_minimum() -> None:
    visits = allocate([QUIET], FRIDAY_21, 2.5, 1, Constraints(60, 25, 1.0))
    assert [(v.start, v.end) for v in visits] == [(FRIDAY_21, FRIDAY_21 + timedelta(hours=2))]


def test_expected_incidents_count_parts_of_hours() -> None:
    assert expected_between(FRIDAY_NIGHTS, FRIDAY_21, FRIDAY_21 + timedelta(minutes=30)) == 1.0
    assert expected_between(FRIDAY_NIGHTS, FRIDAY_21 - timedelta(hours=1), FRIDAY_21) == 0.0
    # across the change to winter time (2026-10-25 03:00 -> 02:00): 25 local hours
    day = datetime(2026, 10, 25, 0, 0, tzinfo=STOCKHOLM)
    next_day = datetime(2026, 10, 26, 0, 0, tzinfo=STOCKHOLM)
    assert expected_between(flat_rates(1.0), day, next_day) == pytest.approx(25)
    visits = allocate([QUIET], day, 25, 1, Constraints(60, 25, 1.0))
    assert visits[0].end == next_day


def test_a_patrol_waits_for_the_busy_hour_instead_of_giving_up() -> None:
    late = Place("Kvällsplats", 58.41, 15.60, rates({(FRI, 23): 3}))
    visits = allocate([late], FRIDAY_21, 4, 1, NO_LIMITS)
    assert [(v.start, v.end) for v in visits] == [
        (FRIDAY_21 + timedelta(hours=2), FRIDAY_21 + timedelta(hours=3))
    ]


def on_quarter(moment: datetime) -> bool:
    local = moment.astimezone(STOCKHOLM)
    return local.minute % 15 == 0 and local.second == 0 and local.microsecond == 0


def test_visits_start_and_end_on_quarter_hours() -> None:
    # an odd start, an odd visit length and places an odd number of minutes apart
    odd_start = FRIDAY_21 + timedelta(minutes=7, seconds=13)
    far = Place("Tornby", 58.4450, 15.6550, rates({(FRI, 23): 5, (SAT, 0): 5}))
    assert travel_minutes(BUSY, far, 25) % 15 != 0
    visits = allocate([BUSY, far, QUIET], odd_start, 5, 2, Constraints(50, 25, 0.6))
    assert len(visits) >= 3 and {v.place for v in visits} >= {BUSY.name, far.name}
    for v in visits:
        assert on_quarter(v.start) and on_quarter(v.end), (v.place, v.start, v.end)
        assert v.end - v.start >= timedelta(minutes=60)  # 50 minutes rounded up to 4 quarters
        assert odd_start <= v.start and v.end <= odd_start + timedelta(hours=5)
    assert min(v.start for v in visits) == FRIDAY_21 + timedelta(minutes=15)
    for a in visits:  # one patrol at a place at a time
        for b in visits:
            if a is not b and a.place == b.place:
                assert a.end <= b.start or b.end <= a.start
    # across the change to winter time, quarters stay quarters of Stockholm's clock
    night = datetime(2026, 10, 25, 1, 52, tzinfo=STOCKHOLM)
    assert all(
        on_quarter(v.start) and on_quarter(v.end)
        for v in allocate([QUIET], night, 3, 1, Constraints(45, 25, 1.0))
    )
    assert ceil_quarter(FRIDAY_21) == FRIDAY_21 and ceil_quarter(odd_start) == FRIDAY_21 + QUARTER
