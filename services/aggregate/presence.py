"""Where the guards were and what happened there (pure).

The TiB's patrol orders end in check-in and check-out; those visits become the week's
patrol presence per place, next to the incidents at that place — during the week and while
a guard was there — and the guard hours at each decision's target since it took effect.
"Presence" is not proof of effect: the meeting reads it next to the follow-up's numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import shapely
from shapely.geometry import Polygon

from services.aggregate.followup import target_areas
from services.aggregate.logic import Incident
from shared.contracts import PLACE_REACH_M, DecisionV1, HotspotV1, PatrolPresenceV1
from shared.counting import is_counted
from shared.geo import distance_m
from shared.patrol_orders import Visit
from shared.weeks import week_bounds


def with_areas(visits: Iterable[Visit], area_of: Callable[[float, float], str]) -> list[Visit]:
    """Visits placed by coordinates only get the area they lie in, so they count for
    decisions on that area like the ones the TiB named an area for."""
    return [
        replace(v, area=area_of(v.lat, v.lon))
        if v.area is None and v.lat is not None and v.lon is not None
        else v
        for v in visits
    ]


def _hotspot_at(visit: Visit, hotspots: Sequence[HotspotV1]) -> HotspotV1 | None:
    for spot in hotspots:
        if spot.name == visit.place:
            return spot
    if visit.lat is None or visit.lon is None:
        return None
    for spot in hotspots:
        if shapely.intersects_xy(Polygon(spot.polygon[0]), visit.lon, visit.lat):
            return spot
    return None


def _at_place(
    visit: Visit, spot: HotspotV1 | None, incidents: Iterable[Incident]
) -> list[Incident]:
    """The incidents at the place: within reach of its point, else in its hotspot's shape,
    else in its area. Unplaced (kommun-level) reports are never at a place."""
    placed = [i for i in incidents if i.location_precision != "centroid"]
    if visit.lat is not None and visit.lon is not None:
        here = (visit.lat, visit.lon)
        return [i for i in placed if distance_m(*here, i.lat, i.lon) <= PLACE_REACH_M]
    if spot is not None:
        shape = Polygon(spot.polygon[0])
        return [i for i in placed if shapely.intersects_xy(shape, i.lon, i.lat)]
    return [i for i in placed if visit.area is not None and i.area == visit.area]


def _during(incident: Incident, visits: Sequence[Visit]) -> bool:
    return any(v.start <= incident.occurred_at < v.end for v in visits)


def week_presence(
    visits: Iterable[Visit],
    incidents: Sequence[Incident],
    hotspots: Sequence[HotspotV1],
    iso_week: str,
) -> list[PatrolPresenceV1]:
    """Guard hours per place in the week (visits clipped to it), most hours first."""
    start, end = week_bounds(iso_week)
    by_place: dict[str, list[Visit]] = defaultdict(list)
    for v in visits:
        if v.hours_within(start, end) > 0:
            by_place[v.place].append(v)
    counted = [i for i in incidents if is_counted(i)]
    rows = []
    for place, seen in by_place.items():
        last = max(seen, key=lambda v: (v.start, v.order_id))  # where the place was last put
        spot = _hotspot_at(last, hotspots)
        there = _at_place(last, spot, counted)
        rows.append(
            PatrolPresenceV1(
                place=place,
                area=last.area,
                lat=last.lat,
                lon=last.lon,
                hotspot=spot.name if spot else None,
                hours=round(sum(v.hours_within(start, end) for v in seen), 2),
                visits=len(seen),
                incident_reports=sum(v.incident_reports for v in seen),
                incidents=len(there),
                incidents_during=sum(1 for i in there if _during(i, seen)),
            )
        )
    return sorted(rows, key=lambda r: (-r.hours, r.place))


def _serves(visit: Visit, decision: DecisionV1, area_names: Sequence[str]) -> bool:
    """A visit counts for a decision when it was at its target (by name) or in its areas."""
    if visit.place == decision.target:
        return True
    return visit.area is not None and visit.area in target_areas(decision.target, area_names)


def guard_hours(
    visits: Iterable[Visit],
    decision: DecisionV1,
    area_names: Sequence[str],
    weeks: Sequence[str],
) -> float:
    """The guards' hours at the decision's target in the given weeks (its weeks so far)."""
    if not weeks:
        return 0.0
    start, _ = week_bounds(min(weeks))
    _, end = week_bounds(max(weeks))
    hours = sum(v.hours_within(start, end) for v in visits if _serves(v, decision, area_names))
    return round(hours, 2)


def presence_period(iso_week: str, follow_weeks: Sequence[str]) -> tuple[datetime, datetime]:
    """The span of time whose visits a week's snapshot needs: the week, and the weeks its
    decisions' follow-up covers."""
    weeks = [iso_week, *follow_weeks]
    return week_bounds(min(weeks))[0], week_bounds(max(weeks))[1]
