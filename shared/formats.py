"""Numbers, times and weeks as a Swedish reader expects them, one definition each.

Every page, CSV for people, CLI line and audit list formats through these, so that a number
or a time reads the same wherever it appears:

- integers with a narrow no-break space (U+202F) between thousands: "1 234";
- decimals with a comma: "2,5"; signed changes with a real minus: "+3", "−2", "±0";
- times in Europe/Stockholm with their UTC offset: "2026-11-20 22:15 +01:00", or on a
  page "fre 20 nov 22:15 +01:00";
- weeks as "vecka 47 (16–22 nov 2026)".

Machine outputs (JSON, GeoJSON, the RFC 4180 CSV) keep ISO 8601 and plain numbers. Pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.weeks import STOCKHOLM, parse_week

THOUSANDS = "\u202f"  # narrow no-break space, as Swedish typesetting separates thousands
MINUS = "\u2212"
WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
MONTHS_SV = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def number_sv(n: int) -> str:
    """An integer the Swedish way: "1 234" (narrow no-break space), "−5"."""
    text = f"{abs(int(n)):,}".replace(",", THOUSANDS)
    return f"{MINUS}{text}" if n < 0 else text


def decimal_sv(x: float, digits: int = 1) -> str:
    """A decimal with a comma and thousands separated: "2,5", "1 234,5"."""
    # half up, as people round (198,25 -> 198,3), from the shortest decimal form of x
    rounded = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    text = f"{abs(rounded):,.{digits}f}".replace(",", THOUSANDS).replace(".", ",")
    return f"{MINUS}{text}" if rounded < 0 else text


def signed_sv(n: int | None) -> str:
    """A change: "+3", "−2", "±0"; "–" (a dash) when there is no comparison."""
    if n is None:
        return "–"
    if n == 0:
        return "±0"
    return f"+{number_sv(n)}" if n > 0 else number_sv(n)


def count_or_text(value: int | str | None) -> str:
    """A shown count: an int formatted, a suppressed '<3' / '≥3' as is, None as '–'."""
    if value is None:
        return "–"
    return number_sv(value) if isinstance(value, int) else str(value)


def local(moment: datetime) -> datetime:
    """The moment in Stockholm time (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM)


def offset_text(moment: datetime) -> str:
    """The Stockholm UTC offset of the moment: "+01:00" in winter, "+02:00" in summer."""
    return local(moment).isoformat()[-6:]


def time_sv(moment: datetime) -> str:
    """Date and time for lists, CSV and the CLI: "2026-11-20 22:15 +01:00"."""
    at = local(moment)
    return f"{at:%Y-%m-%d %H:%M} {offset_text(at)}"


def time_seconds_sv(moment: datetime) -> str:
    """As `time_sv` with seconds: "2026-11-20 22:15:07 +01:00" (audit lists)."""
    at = local(moment)
    return f"{at:%Y-%m-%d %H:%M:%S} {offset_text(at)}"


def page_time_sv(moment: datetime) -> str:
    """A time on a page: "fre 20 nov 22:15 +01:00"."""
    at = local(moment)
    return (
        f"{WEEKDAYS_SV[at.weekday()]} {at.day} {MONTHS_SV[at.month - 1]} {at:%H:%M} "
        f"{offset_text(at)}"
    )


def iso_local(moment: datetime) -> str:
    """ISO 8601 in Stockholm time with its offset, for machine outputs read by people too."""
    return local(moment).isoformat(timespec="seconds")


def date_sv(day: date, *, year: bool = False) -> str:
    """ "19 okt", or with the year "19 okt 2026"."""
    text = f"{day.day} {MONTHS_SV[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def week_days(iso_week: str) -> tuple[date, date]:
    """The Monday and the Sunday of an ISO week."""
    year, week = parse_week(iso_week)
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=6)


def week_range_sv(iso_week: str) -> str:
    """The week's days: "16–22 nov 2026", "30 nov – 6 dec 2026", "28 dec 2026 – 3 jan 2027"."""
    first, last = week_days(iso_week)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {MONTHS_SV[last.month - 1]} {last.year}"
    head = date_sv(first, year=first.year != last.year)
    return f"{head} – {date_sv(last, year=True)}"


def week_label_sv(iso_week: str) -> str:
    """ "vecka 47 (16–22 nov 2026)"."""
    _, week = parse_week(iso_week)
    return f"vecka {week} ({week_range_sv(iso_week)})"


def month_sv(year: int, month: int) -> str:
    names = (
        "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
        "september", "oktober", "november", "december",
    )  # fmt: skip
    return f"{names[month - 1]} {year}"
