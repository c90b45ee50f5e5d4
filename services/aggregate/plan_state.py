"""The plan's state in the week, for the meeting pack: each medborgarlöfte and each
samverkansområde with this week's count, the week before and the trend, and the patrols the
TiB's recommendation proposes for the days until the next meeting ("Kommande dagar"). Pure.

Counts follow the counting rule (`shared.counting`: händelser, never likely duplicates) and
a promise counts what `followup.promise_covers` says it is about (its categories, at its
areas or within its places' radius). The week before is only given when the snapshot may be
compared with it (`shared.counting.comparison`); else `previous` is None and the trend "–".

The patrols come from the same recommendation as the TiB's (`shared.patrols`): the week's
hotspots and areas with an open decision as places, their level spread over the week by the
week's own time profile, and this week's and (when comparable) last week's reports near them
as history. The window starts when the week is over (Monday 00:00, when the weekly build
runs) and lasts `UPCOMING_DAYS` days, up to the next weekly meeting; it is derived from the
week, not from the build's clock, so a rebuild stays identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from services.aggregate.followup import promise_covers
from services.aggregate.logic import Incident
from shared.contracts import (
    DecisionV1,
    PlanAreaStateV1,
    PromiseStateV1,
    UpcomingPatrolV1,
    WeekSnapshotV1,
)
from shared.counting import is_counted
from shared.formats import date_sv, decimal_sv
from shared.geo import distance_m
from shared.patrol_orders import Visit
from shared.patrols.allocation import Constraints
from shared.patrols.allocation import Visit as PlannedVisit
from shared.patrols.planning import Seen, candidates, recommend
from shared.places import fold
from shared.plan import Activity, FocusArea, Plan, Promise
from shared.weeks import STOCKHOLM, parse_week, week_bounds

UPCOMING_DAYS = 7  # until the next weekly meeting
PATROLS_PER_DAY = 2
MAX_PATROLS = 10
# One day's recommendation: one patrol, visits of at least 2 hours, at most 4 hours a place.
DAY_CONSTRAINTS = Constraints(min_visit_minutes=120, speed_kmh=25.0, max_share=4 / 24)
DAY_PATROLS = 1

AreaOf = Callable[[float, float], str]


def trend(count: int, previous: int | None) -> str:
    """ "ökar", "minskar", "oförändrad", "ny" (nothing the week before) or "–" (no
    comparable week before)."""
    if previous is None:
        return "–"
    if count > previous:
        return "ny" if previous == 0 else "ökar"
    return "minskar" if count < previous else "oförändrad"


def in_force(plans: Iterable[Plan], iso_week: str) -> list[Plan]:
    year, week = parse_week(iso_week)
    days = (date.fromisocalendar(year, week, 1), date.fromisocalendar(year, week, 7))
    return [p for p in plans if p.period.overlaps(*days)]


# --- medborgarlöften -------------------------------------------------------------------------


def _period_start(promise: Promise, week_end: date) -> date:
    """The start of the promise's follow-up period (month or quarter) the week ends in."""
    if promise.rhythm == "kvartal":
        return date(week_end.year, 3 * ((week_end.month - 1) // 3) + 1, 1)
    return week_end.replace(day=1)


def _names(item: Promise | Activity) -> set[str]:
    return {fold(n) for n in [*item.areas, *(p.name for p in item.places)]}


def _about(decision: DecisionV1, ids: set[str], names: set[str]) -> bool:
    return decision.activity_id in ids or fold(decision.target) in names


def _active(decision: DecisionV1, iso_week: str) -> bool:
    return decision.from_week <= iso_week and (
        decision.status == "open" or decision.until_week >= iso_week
    )


def _decision_line(decision: DecisionV1) -> str:
    """ "Beslut från vecka 45: Snabb klottersanering (Skäggetorp)"."""
    week = parse_week(decision.from_week)[1]
    return f"Beslut från vecka {week}: {decision.measure} ({decision.target})"


def _report_lines(
    decisions: Sequence[DecisionV1], start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    lines = []
    for d in decisions:
        for r in d.reports:
            if start <= r.reported_at < end:
                day = date_sv(r.reported_at.astimezone(STOCKHOLM).date())
                by = f" ({r.by})" if r.by else ""
                lines.append((r.reported_at, f"{day}: {r.text}{by}"))
    return sorted(lines)


def _near_place(visit: Visit, promise: Promise) -> bool:
    if visit.lat is not None and visit.lon is not None:
        here = (visit.lat, visit.lon)
        if any(distance_m(p.lat, p.lon, *here) <= p.radius_m for p in promise.places):
            return True
    names = _names(promise)
    return fold(visit.place) in names or (visit.area is not None and fold(visit.area) in names)


def _presence_line(visits: Sequence[Visit], promise: Promise, iso_week: str) -> str | None:
    start, end = week_bounds(iso_week)
    here = [v for v in visits if v.hours_within(start, end) > 0 and _near_place(v, promise)]
    if not here:
        return None
    hours = sum(v.hours_within(start, end) for v in here)
    visits_text = "1 besök" if len(here) == 1 else f"{len(here)} besök"
    week = parse_week(iso_week)[1]
    return f"Väktare på plats {decimal_sv(hours)} timmar ({visits_text}) vecka {week}"


def promise_states(
    plans: Sequence[Plan],
    iso_week: str,
    incidents: Sequence[Incident],
    previous_incidents: Sequence[Incident],
    comparable: bool,
    decisions: Sequence[DecisionV1],
    visits: Sequence[Visit],
) -> list[PromiseStateV1]:
    """Every medborgarlöfte of the plans in force: its count this week (and the week before
    when comparable), and what was done in its follow-up period: the report-backs of the
    decisions about it, and the guards' hours at its places in the week."""
    _, week_end = week_bounds(iso_week)
    last_day = (week_end - timedelta(days=1)).astimezone(STOCKHOLM).date()
    out = []
    for plan in in_force(plans, iso_week):
        for promise in plan.promises:
            count = sum(1 for i in incidents if promise_covers(promise, i))
            previous = (
                sum(1 for i in previous_incidents if promise_covers(promise, i))
                if comparable
                else None
            )
            period = _period_start(promise, last_day)
            start = datetime.combine(period, time(0), tzinfo=STOCKHOLM)
            about = [d for d in decisions if _about(d, {promise.id}, _names(promise))]
            done = [_decision_line(d) for d in about if _active(d, iso_week)]
            done += [line for _, line in _report_lines(about, start, week_end)]
            presence = _presence_line(visits, promise, iso_week)
            out.append(
                PromiseStateV1(
                    promise_id=promise.id,
                    title=promise.promise,
                    places=[p.name for p in promise.places] + list(promise.areas),
                    categories=list(promise.categories),
                    count=count,
                    previous=previous,
                    trend=trend(count, previous),
                    done=done + ([presence] if presence else []),
                )
            )
    return out


# --- samverkansområden -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    areas: tuple[str, ...]
    categories: tuple[str, ...]  # empty: every category

    def covers(self, incident: Incident) -> bool:
        if not is_counted(incident):
            return False
        if self.categories and incident.category not in self.categories:
            return False
        return not self.areas or incident.area in self.areas


def _scope(focus: FocusArea, area_of: AreaOf) -> _Scope:
    areas: dict[str, None] = {}
    categories: dict[str, None] = {}
    for a in focus.activities:
        areas.update(dict.fromkeys(a.areas))
        areas.update(dict.fromkeys(area_of(p.lat, p.lon) for p in a.places))
        categories.update(dict.fromkeys(a.categories))
    # one activity without categories works on every category
    if any(not a.categories for a in focus.activities):
        categories = {}
    return _Scope(tuple(areas), tuple(categories))


def _decided_here(
    decision: DecisionV1, scope: _Scope, target_area: Callable[[str], str | None]
) -> bool:
    """A decision at one of the scope's areas about one of its categories (either naming
    none: any)."""
    if not scope.areas or target_area(decision.target) not in scope.areas:
        return False
    wanted = set(scope.categories)
    return not wanted or not decision.categories or bool(wanted & set(decision.categories))


def plan_area_states(
    plans: Sequence[Plan],
    snapshot: WeekSnapshotV1,
    incidents: Sequence[Incident],
    previous_incidents: Sequence[Incident],
    comparable: bool,
    area_of: AreaOf,
    target_area: Callable[[str], str | None],
) -> list[PlanAreaStateV1]:
    """Every samverkansområde of the plans in force: the areas and categories its activities
    name (a place counts for the area it lies in), this week's count there and the week
    before when comparable, the week's hotspots in those areas, and the open decisions on
    its activities or on its areas and categories. `target_area`: the area a decision's
    target lies in."""
    open_decisions = [d for d in snapshot.open_decisions if d.status == "open"]
    out = []
    for plan in in_force(plans, snapshot.iso_week):
        for focus in plan.focus_areas:
            scope = _scope(focus, area_of)
            count = sum(1 for i in incidents if scope.covers(i))
            previous = sum(1 for i in previous_incidents if scope.covers(i)) if comparable else None
            hotspots = [
                h.name
                for h in snapshot.hotspots
                if (not scope.areas or set(h.areas) & set(scope.areas))
                and (not scope.categories or set(h.categories) & set(scope.categories))
            ]
            ids = {a.id for a in focus.activities}
            decided = [
                d
                for d in open_decisions
                if d.activity_id in ids or _decided_here(d, scope, target_area)
            ]
            out.append(
                PlanAreaStateV1(
                    plan_area_id=focus.id,
                    name=focus.name,
                    areas=list(scope.areas),
                    categories=list(scope.categories),
                    count=count,
                    previous=previous,
                    trend=trend(count, previous),
                    hotspots=hotspots,
                    open_decisions=len(decided),
                )
            )
    return out


# --- kommande dagar ------------------------------------------------------------------------


def upcoming_window(iso_week: str) -> tuple[datetime, datetime]:
    """From the end of the week (when the weekly build runs) to the next meeting."""
    _, end = week_bounds(iso_week)
    start = end.astimezone(STOCKHOLM)
    return start, start + timedelta(days=UPCOMING_DAYS)


def _seen(incidents: Iterable[Incident]) -> list[Seen]:
    return [
        Seen(i.occurred_at, i.category, i.lat, i.lon, i.area)
        for i in incidents
        if is_counted(i) and i.location_precision != "centroid"
    ]


def _per_hour(visit: PlannedVisit) -> float:
    return visit.expected / ((visit.end - visit.start) / timedelta(hours=1))


def upcoming_patrols(
    snapshot: WeekSnapshotV1,
    incidents: Sequence[Incident],
    previous_incidents: Sequence[Incident],
    comparable: bool,
    area_centres: Mapping[str, tuple[float, float]],
) -> list[UpcomingPatrolV1]:
    """The TiB's recommendation (`shared.patrols`) for each day until the next meeting: at
    most `PATROLS_PER_DAY` visits a day (the most expected incidents per hour, one a place)
    and `MAX_PATROLS` in all, in time order. History: this week's reports, and last week's
    when comparable."""
    history = _seen(incidents) + (_seen(previous_incidents) if comparable else [])
    weeks = 2 if comparable else 1
    decisions = [d for d in snapshot.open_decisions if d.status == "open"]
    cands = candidates(snapshot, history, weeks, decisions, area_centres)
    if not cands:
        return []
    start, end = upcoming_window(snapshot.iso_week)
    chosen = []
    day = start
    while day < end:
        next_day = day + timedelta(days=1)  # wall-clock: the next local midnight
        hours = (next_day.astimezone(UTC) - day.astimezone(UTC)) / timedelta(hours=1)
        visits = recommend(
            cands,
            day,
            hours,
            DAY_PATROLS,
            DAY_CONSTRAINTS,
            weeks,
            snapshot.categories,
            snapshot.iso_week,
        )
        # the busiest visits (expected incidents per hour), one per place and day
        best = sorted(visits, key=lambda v: (-_per_hour(v), v.start, v.place))
        places: set[str] = set()
        for v in best:
            if len(places) < PATROLS_PER_DAY and v.place not in places:
                places.add(v.place)
                chosen.append(v)
        day = next_day
    chosen = sorted(chosen, key=lambda v: (-_per_hour(v), v.start, v.place))[:MAX_PATROLS]
    return [
        UpcomingPatrolV1(
            start=v.start.astimezone(STOCKHOLM),
            end=v.end.astimezone(STOCKHOLM),
            place=v.place,
            area=v.area,
            lat=round(v.lat, 6),
            lon=round(v.lon, 6),
            expected=round(v.expected, 2),
            reason=v.reason,
        )
        for v in sorted(chosen, key=lambda v: (v.start, v.place))
    ]
