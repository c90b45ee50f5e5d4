"""The weekly schedule, with a controlled clock: when it fires and what it builds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.aggregate.jobs import weeks_to_build
from shared.scheduling import parse_cron
from shared.weeks import STOCKHOLM


def _next(cron: str, after: datetime) -> datetime:
    fire = parse_cron(cron).get_next_fire_time(None, after)
    assert fire is not None
    return fire.astimezone(STOCKHOLM)


def test_the_default_fires_monday_six_in_stockholm_time() -> None:
    fire = _next("0 6 * * mon", datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # a Wednesday
    assert (fire.year, fire.month, fire.day, fire.hour, fire.minute) == (2026, 11, 30, 6, 0)
    assert fire.weekday() == 0


@pytest.mark.parametrize(
    ("after", "expected_day"),
    [
        (datetime(2026, 3, 24, 12, 0, tzinfo=UTC), (2026, 3, 30)),  # the Monday after spring DST
        (datetime(2026, 10, 20, 12, 0, tzinfo=UTC), (2026, 10, 26)),  # the Monday after autumn DST
    ],
)
def test_it_fires_at_six_local_time_on_both_sides_of_dst(
    after: datetime, expected_day: tuple[int, int, int]
) -> None:
    fire = _next("0 6 * * mon", after)
    assert (fire.year, fire.month, fire.day) == expected_day
    assert fire.hour == 6


def test_a_numeric_weekday_is_refused_because_apscheduler_counts_from_monday() -> None:
    with pytest.raises(ValueError, match="by name"):
        parse_cron("15 3 * * 1")


def test_a_malformed_line_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="5 fields"):
        parse_cron("mon 06:00")


def test_the_build_covers_the_last_complete_week_and_catches_up_missed_ones() -> None:
    monday_morning = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 06:00 Stockholm, week 49 begins
    built = {"2026-W43", "2026-W44", "2026-W45", "2026-W47"}
    # Six weeks back from W48 is W43–W48; W42 is beyond the catch-up horizon.
    assert weeks_to_build(monday_morning, built, weeks_back=6) == ["2026-W46", "2026-W48"]


def test_a_built_last_week_is_rebuilt_so_late_reports_make_a_revision() -> None:
    now = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert weeks_to_build(now, {"2026-W48"}, weeks_back=1) == ["2026-W48"]
