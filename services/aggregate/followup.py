"""Did it help? Before/after counts for the meeting's decisions and the medborgarlöften. Pure.

A decision's target is compared with comparable places that got no measure: the ratio of
rate ratios (after/before at the target over after/before elsewhere, same weeks, same
categories), so a town-wide change (season, a police campaign) is not credited to the
measure. Its 95 % interval uses the log-normal approximation for Poisson counts,
var(log RR) = 1/a + 1/b + 1/c + 1/d, with half an event added to every count when one is 0.
This is a before/after comparison, not proof of cause; docs/plan.md says more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.aggregate.logic import Incident
from shared.areas import KOMMUN_LEVEL_AREA, OTHER_AREA
from shared.contracts import DecisionV1, FollowUpV1
from shared.counting import HANDELSE, is_counted, missing_reason
from shared.formats import date_sv, local
from shared.geo import distance_m
from shared.plan import Promise
from shared.weeks import STOCKHOLM, shift_week

BEFORE_WEEKS = 8
MAX_AFTER_WEEKS = 26
RECENT_WEEKS = 12  # decisions that ended at most this long ago are still followed up
MIN_EVENTS = 10  # fewer at the target (or elsewhere), and nothing can be said surely
Z_95 = 1.96
_NOT_COMPARABLE = {OTHER_AREA, KOMMUN_LEVEL_AREA}  # rural rest and unplaced events


def target_areas(target: str, area_names: Sequence[str]) -> list[str]:
    """An area's name, or a hotspot's ("Skäggetorp, norra delen", "Ryd/Valla m.fl."): the
    area(s) it is named after. Hotspot shapes change from week to week; their areas do not."""
    if target in area_names:
        return [target]
    head = target.split(",")[0].removesuffix(" m.fl.")
    return [name for name in head.split("/") if name in area_names]


def window_weeks(decision: DecisionV1, iso_week: str) -> tuple[list[str], list[str]]:
    """The weeks before the decision took effect, and its weeks up to `iso_week`."""
    before = [shift_week(decision.from_week, -i) for i in range(BEFORE_WEEKS, 0, -1)]
    last = min(decision.until_week, iso_week)
    after = [shift_week(last, -i) for i in range(MAX_AFTER_WEEKS - 1, -1, -1)]
    return before, [w for w in after if w >= decision.from_week]


def weeks_needed(decisions: Iterable[DecisionV1], iso_week: str) -> list[str]:
    weeks: set[str] = set()
    for decision in decisions:
        before, after = window_weeks(decision, iso_week)
        weeks.update(before, after)
    return sorted(weeks)


def rate_ratio(
    before: int, after: int, other_before: int, other_after: int
) -> tuple[float, float, float]:
    """(ratio of rate ratios, low, high) with a 95 % log-normal interval."""
    counts: list[float] = [before, after, other_before, other_after]
    if 0 in counts:
        counts = [n + 0.5 for n in counts]
    b, a, ob, oa = counts
    ratio = (a / b) / (oa / ob)
    spread = Z_95 * math.sqrt(sum(1 / n for n in counts))
    return ratio, ratio * math.exp(-spread), ratio * math.exp(spread)


def _percent(ratio: float) -> str:
    return f"{abs(round((ratio - 1) * 100))} %"


def statement(before: int, after: int, other_before: int, other_after: int) -> str:
    if min(before + after, other_before + other_after) < MIN_EVENTS:
        return (
            f"För få händelser för att säga något säkert ({before} före, {after} efter på platsen)."
        )
    ratio, low, high = rate_ratio(before, after, other_before, other_after)
    interval = f"95 % konfidensintervall {low:.2f}–{high:.2f}"
    if high < 1:
        return (
            f"Minskade med ca {_percent(ratio)} mer än jämförbara platser utan åtgärd ({interval})."
        )
    if low > 1:
        return f"Ökade med ca {_percent(ratio)} mer än jämförbara platser utan åtgärd ({interval})."
    return (
        f"Ingen säker skillnad mot jämförbara platser utan åtgärd (kvot {ratio:.2f}, {interval})."
    )


def _sum(
    counts: Mapping[str, Counter[tuple[str, str]]],
    weeks: list[str],
    areas: Iterable[str],
    categories: Sequence[str],
) -> int:
    wanted = set(areas)
    return sum(
        n
        for week in weeks
        for (area, category), n in counts.get(week, Counter()).items()
        if area in wanted and (not categories or category in categories)
    )


def follow_up(
    decision: DecisionV1,
    decisions: Sequence[DecisionV1],
    counts: Mapping[str, Counter[tuple[str, str]]],
    area_names: Sequence[str],
    iso_week: str,
) -> FollowUpV1:
    """The decision's target against the areas no decision of `decisions` targets."""
    before_weeks, after_weeks = window_weeks(decision, iso_week)
    areas = target_areas(decision.target, area_names)
    treated = {a for d in decisions for a in target_areas(d.target, area_names)}
    others = [a for a in area_names if a not in treated and a not in _NOT_COMPARABLE]
    cats = decision.categories
    before, after = _sum(counts, before_weeks, areas, cats), _sum(counts, after_weeks, areas, cats)
    o_before = _sum(counts, before_weeks, others, cats)
    o_after = _sum(counts, after_weeks, others, cats)
    ratio: tuple[float | None, float | None, float | None] = (None, None, None)
    if not areas:
        text = f"Målet {decision.target!r} kunde inte knytas till något område."
    elif not after_weeks:
        text = "Åtgärden har inte börjat än."
    else:
        ratio = tuple(round(x, 3) for x in rate_ratio(before, after, o_before, o_after))  # type: ignore[assignment]
        text = statement(before, after, o_before, o_after)
    return FollowUpV1(
        decision_id=decision.decision_id,
        target=decision.target,
        weeks_before=len(before_weeks),
        weeks_after=len(after_weeks),
        before=before,
        after=after,
        comparison_before=o_before,
        comparison_after=o_after,
        ratio=ratio[0],
        ratio_low=ratio[1],
        ratio_high=ratio[2],
        statement=text,
    )


# --- medborgarlöften: a monthly summary per promise -----------------------------------------
@dataclass(frozen=True)
class PromiseMonth:
    promise_id: str
    promise: str
    month: str  # "2026-11"
    count: int
    previous_count: int  # the month before
    planned: list[str]  # the promise's measures
    done: list[str]  # decisions linked to the promise and active in the month
    statement: str
    # None: both months fully covered and compared; else why they are not
    # ("jämförelse saknas: data från 19 okt")
    comparison_missing: str | None = None


def promise_covers(promise: Promise, incident: Incident) -> bool:
    """Is the incident one the promise is about: its categories, at its areas or places."""
    if not is_counted(incident):
        return False
    if promise.categories and incident.category not in promise.categories:
        return False
    if not (promise.areas or promise.places):
        return True
    point = (incident.lat, incident.lon)
    return incident.area in promise.areas or any(
        distance_m(p.lat, p.lon, *point) <= p.radius_m for p in promise.places
    )


def count_between(
    promise: Promise, incidents: Iterable[Incident], start: datetime, end: datetime
) -> int:
    return sum(1 for i in incidents if start <= i.occurred_at < end and promise_covers(promise, i))


def month_statement(count: int, previous: int) -> str:
    if count + previous < MIN_EVENTS:
        return f"För få händelser för att säga något säkert ({previous} förra månaden, {count} nu)."
    a, b = (count, previous) if 0 not in (count, previous) else (count + 0.5, previous + 0.5)
    ratio, spread = a / b, Z_95 * math.sqrt(1 / a + 1 / b)
    low, high = ratio * math.exp(-spread), ratio * math.exp(spread)
    if high < 1:
        return f"Tydlig minskning: {count} mot {previous} förra månaden (−{_percent(ratio)})."
    if low > 1:
        return f"Tydlig ökning: {count} mot {previous} förra månaden (+{_percent(ratio)})."
    return f"Ingen säker förändring: {count} mot {previous} förra månaden."


def month_coverage(
    bounds: tuple[datetime, datetime, datetime], data_from: date | None, now: datetime | None
) -> str | None:
    """Why the month cannot be compared with the month before, or None when both are fully
    covered: the data starts after the previous month began, or the month is not over."""
    previous_start, _, end = bounds
    if data_from is not None and data_from > previous_start.astimezone(STOCKHOLM).date():
        return missing_reason(data_from)
    if now is not None and now < end:
        return f"jämförelse saknas: månaden är inte slut (data till {date_sv(local(now).date())})"
    return None


def promise_month(
    promise: Promise,
    month: str,
    incidents: Sequence[Incident],
    bounds: tuple[datetime, datetime, datetime],
    decisions: Sequence[DecisionV1],
    *,
    data_from: date | None = None,
    now: datetime | None = None,
) -> PromiseMonth:
    """`bounds`: start of the previous month, of this month, of the next month. `data_from`
    (the kommun's first day with data) and `now`: a month not fully covered is not compared
    (`month_coverage`)."""
    previous_start, start, end = bounds
    count = count_between(promise, incidents, start, end)
    previous = count_between(promise, incidents, previous_start, start)
    missing = month_coverage(bounds, data_from, now)
    said = month_statement(count, previous)
    done = sorted(
        f"{d.measure} ({d.target}, {d.from_week}–{d.until_week})"
        for d in decisions
        if d.activity_id == promise.id
    )
    return PromiseMonth(
        promise.id,
        promise.promise,
        month,
        count,
        previous,
        list(promise.measures),
        done,
        f"{HANDELSE.of(count)} i månaden; {missing}." if missing else said,
        missing,
    )
