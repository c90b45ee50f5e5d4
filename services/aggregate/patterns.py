"""When things happen (weekday × hour in Stockholm time) and who reported where. Pure logic."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from services.aggregate.logic import Incident
from shared.counting import is_counted
from shared.weeks import STOCKHOLM

Profile = tuple[tuple[int, ...], ...]  # 7 × 24: [weekday Monday=0][local hour]
DAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
# Hours and days at least this share of the busiest one belong to the peak: relative, so a
# week with 5 reports and one with 500 are described the same way.
PEAK_SHARE = 0.5
MIN_EVENTS_FOR_PEAK = 5


def _local(moment: datetime) -> datetime:
    # The projection may hand back naive datetimes (SQLite drops the offset); they are UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(STOCKHOLM)


def weekly_profile(incidents: Iterable[Incident]) -> Profile:
    """7 × 24 counts by local weekday and hour; zoneinfo makes DST weeks come out right."""
    grid = [[0] * 24 for _ in range(7)]
    for i in incidents:
        if is_counted(i):
            local = _local(i.occurred_at)
            grid[local.weekday()][local.hour] += 1
    return tuple(tuple(row) for row in grid)


@dataclass(frozen=True)
class TimeProfile:
    area: str | None  # None: the whole kommun
    category: str | None  # None: all categories
    total: int
    counts: Profile
    peak: str  # e.g. "fre–lör 22–02"


def time_profiles(incidents: Sequence[Incident]) -> list[TimeProfile]:
    """Profiles per area × category, per area (category None) and for the kommun (both None)."""
    groups: dict[tuple[str | None, str | None], list[Incident]] = defaultdict(list)
    for i in incidents:
        for key in ((i.area, i.category), (i.area, None), (None, None)):
            groups[key].append(i)
    out = []
    for (area, category), members in groups.items():
        counts = weekly_profile(members)
        total = sum(map(sum, counts))
        if total:
            out.append(TimeProfile(area, category, total, counts, describe_peak(counts)))
    return sorted(out, key=lambda p: (p.area or "", p.category or ""))


def _run_around(values: Sequence[int], best: int, floor: float) -> list[int]:
    """Indices of the cyclic run of values >= floor that contains `best`."""
    n, run = len(values), [best]
    for step in (-1, 1):
        i = (best + step) % n
        while values[i] >= floor and i not in run and len(run) < n:
            if step == 1:
                run.append(i)
            else:
                run.insert(0, i)
            i = (i + step) % n
    return run


def _day_ranges(days: list[int]) -> str:
    if len(days) == 7:
        return "alla dagar"
    chosen = set(days)
    # Start each run where the previous day is not chosen, so "lör–mån" wraps the week.
    starts = [d for d in range(7) if d in chosen and (d - 1) % 7 not in chosen]
    parts = []
    for start in starts:
        end = start
        while (end + 1) % 7 in chosen:
            end = (end + 1) % 7
        parts.append(DAYS_SV[start] if end == start else f"{DAYS_SV[start]}–{DAYS_SV[end]}")
    return ", ".join(parts)


def describe_peak(profile: Profile) -> str:
    """The busiest time in Swedish, e.g. "fre–lör 22–02" (the nights starting Fri and Sat)."""
    total = sum(map(sum, profile))
    if total < MIN_EVENTS_FOR_PEAK:
        return "för få händelser för ett mönster"
    by_hour = [sum(day[h] for day in profile) for h in range(24)]
    hours = _run_around(by_hour, max(range(24), key=by_hour.__getitem__), PEAK_SHARE * max(by_hour))
    start, end = hours[0], (hours[-1] + 1) % 24
    # A night belongs to the evening it starts: Saturday 01:00 in a 22–02 peak is Friday night.
    by_day = [0] * 7
    for day in range(7):
        for h in hours:
            by_day[(day - 1) % 7 if h < start else day] += profile[day][h]
    floor = PEAK_SHARE * max(by_day)
    days = sorted(d for d in range(7) if by_day[d] >= floor and by_day[d] > 0)
    when = "dygnet runt" if len(hours) == 24 else f"{start:02d}–{end:02d}"
    return f"{_day_ranges(days)} {when}"


CoverageStatus = Literal["rapporterat", "nollrapport", "ej rapporterat"]


@dataclass(frozen=True)
class AreaCoverage:
    area: str
    reports: dict[str, int]  # organisation -> reports this week (duplicates included)
    nollrapporter: tuple[str, ...]  # organisations that declared "nothing to report" here
    status: CoverageStatus  # "ej rapporterat": a 0 here means unknown, not zero


def organisation_of(incident: Incident) -> str:
    # Incident keys are "organisation/report_id"; prefer a real field once Incident has one.
    return getattr(incident, "organisation", None) or incident.key.split("/", 1)[0]


def coverage(
    incidents: Iterable[Incident],
    nollrapporter: Iterable[tuple[str, str | None]],
    area_names: Sequence[str],
) -> list[AreaCoverage]:
    """Per area: who reported, who declared zero ((organisation, area or None = whole kommun)).

    A nollrapport for an area not in `area_names` is ignored. Duplicates count: the reporter
    did cover the area even if someone else reported the same thing first.
    """
    reports: dict[str, Counter[str]] = defaultdict(Counter)
    for i in incidents:
        reports[i.area][organisation_of(i)] += 1
    declared: dict[str, set[str]] = defaultdict(set)
    for organisation, area in nollrapporter:
        for name in area_names if area is None else [area]:
            declared[name].add(organisation)
    out = []
    for area in area_names:
        by_org = dict(sorted(reports[area].items()))
        zero = tuple(sorted(declared[area] - set(by_org)))
        status: CoverageStatus = (
            "rapporterat" if by_org else "nollrapport" if zero else "ej rapporterat"
        )
        out.append(AreaCoverage(area, by_org, zero, status))
    return out
