"""The week's lägesbild as one frozen snapshot: counts, rises, hotspots, patterns, coverage,
and the plan: activities linked to hotspots and rises, gaps, open decisions and follow-ups.

Pure: every input is passed in (the builder reads it from the store), so a week rebuilt
from the same stored reports is identical, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import shapely
from shapely.geometry import Polygon

from services.aggregate.analysis import cell_stats, describe_change
from services.aggregate.followup import follow_up, window_weeks
from services.aggregate.hotspot_grid import HotspotGrid
from services.aggregate.hotspots import cells_under, find_hotspots
from services.aggregate.logic import Incident, area_cells, count_cells, incident_points
from services.aggregate.patterns import coverage, organisation_of, time_profiles
from services.aggregate.plan_match import Target, link_plans
from services.aggregate.plan_state import plan_area_states, promise_states, upcoming_patrols
from services.aggregate.presence import guard_hours, week_presence
from shared.areas import KommunAreas
from shared.contracts import (
    AreaCoverageV1,
    CellStatsV1,
    DecisionV1,
    FollowUpV1,
    HotspotV1,
    TimeProfileV1,
    WeekSnapshotV1,
)
from shared.counting import (
    comparison,
    coverage_start,
    first_complete_week,
    is_counted,
    is_duplicate,
)
from shared.geo import distance_m
from shared.patrol_orders import Visit
from shared.places import place_area
from shared.plan import Plan
from shared.weeks import STOCKHOLM, parse_week, shift_week

BASELINE_WEEKS_FOR_HOTSPOTS = 8
HOTSPOT_CELL_M = 250.0


@dataclass(frozen=True)
class WeekInputs:
    """Everything a week's lägesbild is computed from."""

    iso_week: str
    incidents: list[Incident]
    previous_incidents: list[Incident]
    history: Mapping[str, Counter[tuple[str, str]]]  # earlier weeks' counts (up to 52)
    # Reports per grid cell over the `recent_weeks` before, where this week has hotspots.
    recent_cells: Mapping[tuple[int, int], int] = field(default_factory=dict)
    recent_weeks: int = 0
    nollrapporter: list[tuple[str, str | None]] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)  # the kommun's current plans
    # Decisions active in the week or ended recently, and area × category counts of the
    # weeks their follow-up compares (plan_store.week_decisions, followup.weeks_needed).
    decisions: list[DecisionV1] = field(default_factory=list)
    decision_counts: Mapping[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    # The guards' visits (TiB check-in to check-out) over the week and the follow-up weeks.
    visits: list[Visit] = field(default_factory=list)
    # The kommun's first day with a stored report, and when registered organisations started
    # reporting (`shared.counting.coverage_start`): weeks before are not compared as complete.
    data_from: date | None = None
    reporters_from: Mapping[str, date] = field(default_factory=dict)


def content_hash(snapshot: WeekSnapshotV1) -> str:
    """Hash of what the week says, not of when it was built: equal content, equal hash."""
    body = snapshot.model_dump(mode="json", exclude={"revision", "built_at", "content_hash"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def reporters_from(inputs: WeekInputs) -> dict[str, date]:
    """The organisations reporting this week that started after the kommun's first data."""
    reporting = {organisation_of(i) for i in inputs.incidents}
    reporting |= {organisation for organisation, _ in inputs.nollrapporter}
    return {
        org: day
        for org, day in sorted(inputs.reporters_from.items())
        if org in reporting and (inputs.data_from is None or day > inputs.data_from)
    }


def _first_week(inputs: WeekInputs) -> str | None:
    start, _ = coverage_start(inputs.data_from, reporters_from(inputs))
    return None if start is None else first_complete_week(start)


def _stats(inputs: WeekInputs) -> list[CellStatsV1]:
    stats = cell_stats(
        count_cells(inputs.incidents),
        inputs.history,
        inputs.iso_week,
        first_week=_first_week(inputs),
    )
    return [CellStatsV1(**asdict(s), text=describe_change(s)) for s in stats]


def _hotspots(inputs: WeekInputs, kommun: KommunAreas) -> list[HotspotV1]:
    spots = find_hotspots(
        inputs.incidents,
        inputs.previous_incidents,
        kommun,
        cell_m=HOTSPOT_CELL_M,
        baseline_cells=inputs.recent_cells,
        baseline_weeks=inputs.recent_weeks,
    )
    return [HotspotV1.model_validate(asdict(h)) for h in spots]


def hotspot_cells(inputs: WeekInputs, kommun: KommunAreas) -> set[tuple[int, int]]:
    """The grid cells under this week's hotspots: the only places whose earlier weeks the
    snapshot needs."""
    grid = HotspotGrid(kommun, HOTSPOT_CELL_M)
    return {
        cell
        for spot in find_hotspots(inputs.incidents, inputs.previous_incidents, kommun)
        for cell in cells_under(Polygon(spot.polygon[0]), grid)
    }


def _profiles(inputs: WeekInputs) -> list[TimeProfileV1]:
    # Area × category profiles only where there is something to see: the snapshot stays small.
    return [
        TimeProfileV1.model_validate(asdict(p))
        for p in time_profiles(inputs.incidents)
        if p.category is None or p.total >= 5
    ]


def _times(incidents: list[Incident]) -> tuple[tuple[int, int], ...]:
    local = sorted(i.occurred_at.astimezone(STOCKHOLM) for i in incidents)
    return tuple((t.weekday(), t.hour) for t in local)


def _targets(
    inputs: WeekInputs,
    hotspots: list[HotspotV1],
    stats: list[CellStatsV1],
    labels: Mapping[str, str],
) -> list[Target]:
    """The week's hotspots and unusual rises, with the times of their events."""
    counted = [i for i in inputs.incidents if is_counted(i)]
    targets = []
    for spot in hotspots:
        shape = Polygon(spot.polygon[0])
        inside = [
            i
            for i in counted
            if i.category in spot.categories and shapely.intersects_xy(shape, i.lon, i.lat)
        ]
        reach = max(distance_m(*spot.centroid, lat, lon) for lon, lat in spot.polygon[0])
        targets.append(
            Target(
                "hotspot",
                spot.name,
                tuple(spot.areas),
                tuple(spot.categories),
                spot.centroid,
                reach,
                _times(inside),
            )
        )
    for s in (s for s in stats if s.alert):
        events = [i for i in counted if (i.area, i.category) == (s.area, s.category)]
        name = f"{s.area} / {labels.get(s.category, s.category)}"
        targets.append(Target("rise", name, (s.area,), (s.category,), times=_times(events)))
    return targets


def _plan_parts(
    inputs: WeekInputs,
    kommun: KommunAreas,
    categories: Mapping[str, str],
    hotspots: list[HotspotV1],
    stats: list[CellStatsV1],
) -> dict[str, list]:
    year, week = parse_week(inputs.iso_week)
    days = (date.fromisocalendar(year, week, 1), date.fromisocalendar(year, week, 7))
    targets = _targets(inputs, hotspots, stats, categories)
    links, gaps = link_plans(inputs.plans, targets, days, categories, kommun.area_of)
    decisions = sorted(inputs.decisions, key=lambda d: (d.from_week, d.decision_id))
    return {
        "plan_links": links,
        "plan_gaps": gaps,
        # Open ones stay on the agenda after their last week, until the meeting closes them.
        "open_decisions": [d for d in decisions if d.status == "open"],
        "followups": [_follow_up(d, decisions, inputs, kommun) for d in decisions],
    }


def _follow_up(
    decision: DecisionV1, decisions: list[DecisionV1], inputs: WeekInputs, kommun: KommunAreas
) -> FollowUpV1:
    """The before/after counts, and the guard hours at the target since the decision. A
    decision that names a known place is followed up in the area the place lies in."""
    at = _place_in_area(decision, kommun)
    others = [_place_in_area(d, kommun) for d in decisions]
    result = follow_up(at, others, inputs.decision_counts, kommun.area_names, inputs.iso_week)
    _, weeks_after = window_weeks(at, inputs.iso_week)
    hours = guard_hours(inputs.visits, at, kommun.area_names, weeks_after)
    return result.model_copy(update={"guard_hours": hours, "target": decision.target})


def _place_in_area(decision: DecisionV1, kommun: KommunAreas) -> DecisionV1:
    area = place_area(kommun, decision.target)
    return decision if area is None else decision.model_copy(update={"target": area})


def build_snapshot(
    *,
    kommun: KommunAreas,
    categories: Mapping[str, str],
    inputs: WeekInputs,
    revision: int,
    built_at: datetime,
) -> WeekSnapshotV1:
    stats, hotspots = _stats(inputs), _hotspots(inputs, kommun)
    draft = WeekSnapshotV1(
        kommun=kommun.kommun,
        kommun_name=kommun.kommun_name,
        iso_week=inputs.iso_week,
        previous_week=shift_week(inputs.iso_week, -1),
        revision=revision,
        content_hash="",
        built_at=built_at,
        categories=dict(categories),
        areas=kommun.area_names,
        cells=area_cells(count_cells(inputs.incidents), count_cells(inputs.previous_incidents)),
        incidents=incident_points(inputs.incidents),
        duplicates_linked=sum(1 for i in inputs.incidents if is_duplicate(i)),
        data_from=inputs.data_from,
        reporters_from=reporters_from(inputs),
        stats=stats,
        hotspots=hotspots,
        time_profiles=_profiles(inputs),
        coverage=[
            AreaCoverageV1.model_validate(asdict(c))
            for c in coverage(inputs.incidents, inputs.nollrapporter, kommun.area_names)
        ],
        **_plan_parts(inputs, kommun, categories, hotspots, stats),
        patrol_presence=week_presence(inputs.visits, inputs.incidents, hotspots, inputs.iso_week),
    )
    draft = draft.model_copy(update=_plan_state(draft, inputs, kommun))
    return draft.model_copy(update={"content_hash": content_hash(draft)})


def _plan_state(draft: WeekSnapshotV1, inputs: WeekInputs, kommun: KommunAreas) -> dict[str, list]:
    """The pack's "Kommande dagar", medborgarlöften and samverkansområden, over the built
    week (`plan_state`); last week's counts only where the week may be compared with it."""
    comparable = comparison(draft).previous
    now, before = inputs.incidents, inputs.previous_incidents
    centres = {}
    for area in kommun.areas:
        point = area.geometry.representative_point()  # inside the area, as the TiB's
        centres[area.name] = (point.y, point.x)
    return {
        "upcoming_patrols": upcoming_patrols(draft, now, before, comparable, centres),
        "promises": promise_states(
            inputs.plans, inputs.iso_week, now, before, comparable, inputs.decisions, inputs.visits
        ),
        "plan_areas": plan_area_states(
            inputs.plans,
            draft,
            now,
            before,
            comparable,
            kommun.area_of,
            lambda target: place_area(kommun, target) or target,
        ),
    }
