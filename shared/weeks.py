"""ISO weeks in Europe/Stockholm: the unit of the weekly lägesbild."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_week_of(moment: datetime) -> str:
    """The ISO week ("2026-W47") of an aware moment, as a Swede's calendar shows it."""
    if moment.tzinfo is None:
        raise ValueError("iso_week_of needs an aware datetime")
    year, week, _ = moment.astimezone(STOCKHOLM).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> tuple[int, int]:
    """Parse "2026-W47" into (2026, 47); raises ValueError with a readable message."""
    match = _WEEK_RE.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO week: {text!r} (expected e.g. 2026-W47)")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{year} has no week {week}") from exc
    return year, week


def week_bounds(iso_week: str) -> tuple[datetime, datetime]:
    """[start, end) of the week as aware UTC datetimes (Monday 00:00 Stockholm time)."""
    year, week = parse_week(iso_week)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time(0), tzinfo=STOCKHOLM)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=STOCKHOLM)
    return start.astimezone(UTC), end.astimezone(UTC)


def shift_week(iso_week: str, weeks: int) -> str:
    """The week `weeks` weeks after (negative: before) `iso_week`."""
    year, week = parse_week(iso_week)
    monday = date.fromisocalendar(year, week, 1) + timedelta(weeks=weeks)
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def last_complete_week(now: datetime) -> str:
    """The most recent ISO week that has fully ended at `now`."""
    return shift_week(iso_week_of(now), -1)


def weeks_between(start: datetime, end: datetime) -> list[str]:
    """The ISO weeks (Stockholm) that the period [start, end] touches, in order."""
    weeks, last = [iso_week_of(start)], iso_week_of(end)
    while weeks[-1] < last:
        weeks.append(shift_week(weeks[-1], 1))
    return weeks


# --- which weeks can be built --------------------------------------------------------

EARLIEST_WEEK = "2000-W01"
WEEK_MARGIN = 52  # weeks before the oldest stored data (a year of baseline)


class WeekOutOfRangeError(ValueError):
    """A week too far from the data to build; the message is Swedish, for the operator."""


def buildable_weeks(now: datetime, oldest: str | None) -> tuple[str, str]:
    """[first, last] weeks worth building at `now`: from `WEEK_MARGIN` weeks before the
    oldest stored data (or before this week, with none), never before 2000, up to next
    week."""
    current = iso_week_of(now)
    first = shift_week(min(oldest, current) if oldest else current, -WEEK_MARGIN)
    return max(first, EARLIEST_WEEK), shift_week(current, 1)


def check_buildable(iso_week: str, now: datetime, oldest: str | None = None) -> None:
    """Raise WeekOutOfRangeError for a week outside `buildable_weeks` (e.g. 9999-W01, a
    typo for 2025-W01), which would only make an empty lägesbild of nothing."""
    year, week = parse_week(iso_week)
    first, last = buildable_weeks(now, oldest)
    if parse_week(first) <= (year, week) <= parse_week(last):
        return
    basis = (
        f"äldsta lagrade data är från {oldest}"
        if oldest
        else "det finns inga lagrade rapporter ännu"
    )
    raise WeekOutOfRangeError(
        f"Veckan {iso_week} ligger utanför det som kan byggas: från {first} till {last} "
        f"({basis}; högst {WEEK_MARGIN} veckor före det och en vecka framåt). "
        "Kontrollera veckan."
    )


_LOOSE_WEEK_RE = re.compile(
    r"^(?:(?P<year>\d{4})\s*-?\s*(?:w|v|v\.|vecka)\s*|(?:w|v|v\.|vecka|veckan|week)\s*)?"
    r"(?P<week>\d{1,2})$"
)


def read_week(text: str, now: datetime) -> str:
    """A week as people write it: "2026-W50", "2026-w50", "v50", "v 50", "vecka 50", "50"
    or "2026 v50" -> "2026-W50" (with a year, the W or v is needed: "2026-50" is none).
    Without a year, the week-of-year nearest `now` (so "2" in December is next January's).
    ValueError (Swedish) when it is no week."""
    cleaned = " ".join((text or "").strip().lower().split())
    match = _LOOSE_WEEK_RE.match(cleaned)
    if not match:
        raise ValueError(f"{text!r} är ingen vecka: skriv t.ex. v50, vecka 50 eller 2026-W50")
    week = int(match["week"])
    if match["year"]:
        candidates = [int(match["year"])]
    else:
        this_year = int(iso_week_of(now)[:4])
        candidates = [this_year, this_year + 1, this_year - 1]
    today = now.astimezone(STOCKHOLM).date()
    found: list[tuple[int, str]] = []
    for year in candidates:
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            continue
        found.append((abs((monday - today).days), f"{year}-W{week:02d}"))
    if not found:
        year_text = f"{candidates[0]} har" if match["year"] else "året har"
        raise ValueError(f"{year_text} ingen vecka {week}")
    return min(found)[1]
