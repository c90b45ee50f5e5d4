"""Which plan activities address this week's hotspots and unusual rises, and why. Pure.

An activity matches a target when its period overlaps the week, it shares a category with
the target (or names none), and it is at the target's place: one of its areas is the
target's, or one of its places lies within reach. An activity that names neither categories
nor areas nor places is plan-wide and is never listed: it would hide every gap. Time windows
never link by themselves; when an activity has them, at least one of the target's events
must fall inside, and the reason says how many did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from shared.contracts import PlanGapV1, PlanLinkV1
from shared.geo import distance_m
from shared.plan import Period, Place, Plan, TimeWindow, _Linked

AreaOf = Callable[[float, float], str]  # (lat, lon) -> area name


@dataclass(frozen=True)
class Target:
    """A hotspot or an unusual rise, as far as matching needs it."""

    kind: str  # "hotspot" | "rise"
    name: str
    areas: tuple[str, ...]
    categories: tuple[str, ...]
    centroid: tuple[float, float] | None = None  # (lat, lon); hotspots only
    radius_m: float = 0.0  # the hotspot's reach from its centroid
    times: tuple[tuple[int, int], ...] = field(default=())  # (weekday, hour) of its events


def _place_reasons(item: _Linked, target: Target, area_of: AreaOf | None) -> list[str]:
    reasons = [f"område: {a}" for a in item.areas if a in target.areas]
    for place in item.places:
        if _near(place, target, area_of):
            reasons.append(f"plats: {place.name}")
    return reasons


def _near(place: Place, target: Target, area_of: AreaOf | None) -> bool:
    if target.centroid is not None:
        reach = place.radius_m + target.radius_m
        return distance_m(place.lat, place.lon, *target.centroid) <= reach
    return area_of is not None and area_of(place.lat, place.lon) in target.areas


def _time_reason(
    windows: Sequence[TimeWindow], times: Sequence[tuple[int, int]], texts: list[str]
) -> str | None:
    """None: no window fits; "": nothing to say; else the reason."""
    if not windows or not times:
        return ""
    inside = sum(1 for day, hour in times if any(w.covers(day, hour) for w in windows))
    if inside == 0:
        return None
    return f"tid: {inside} av {len(times)} händelser inom {', '.join(texts)}"


def match_item(
    item: _Linked, target: Target, labels: Mapping[str, str], area_of: AreaOf | None = None
) -> list[str] | None:
    """Why `item` addresses `target`, or None when it does not."""
    if not (item.categories or item.areas or item.places):
        return None
    shared = [c for c in item.categories if c in target.categories]
    if item.categories and not shared:
        return None
    place = _place_reasons(item, target, area_of)
    if (item.areas or item.places) and not place:
        return None
    time = _time_reason(item.windows(), target.times, item.times)
    if time is None:
        return None
    reasons = [f"kategori: {', '.join(labels.get(c, c) for c in shared)}"] if shared else []
    return reasons + place + ([time] if time else [])


def _active(period: Period | None, plan: Plan, week: tuple[date, date]) -> bool:
    # An activity without its own period runs for the whole plan.
    return (period or plan.period).overlaps(*week)


def link_plans(
    plans: Sequence[Plan],
    targets: Sequence[Target],
    week: tuple[date, date],
    labels: Mapping[str, str],
    area_of: AreaOf | None = None,
) -> tuple[list[PlanLinkV1], list[PlanGapV1]]:
    """Links for every target a plan addresses, and a gap for every target none does.
    No plan in force, no gaps: then there is nothing to compare against."""
    in_force = [plan for plan in plans if plan.period.overlaps(*week)]
    links: list[PlanLinkV1] = []
    gaps: list[PlanGapV1] = []
    for target in targets:
        found = [
            PlanLinkV1(
                target=target.kind,
                target_name=target.name,
                plan_id=plan.plan_id,
                activity_id=activity_id,
                activity=getattr(item, "what", None) or getattr(item, "promise", ""),
                focus_area=focus,
                responsible=list(item.responsible),
                reasons=reasons,
                categories=list(item.categories),
            )
            for plan in in_force
            for focus, activity_id, item in plan.linked()
            if _active(item.period, plan, week)
            and (reasons := match_item(item, target, labels, area_of)) is not None
        ]
        links.extend(found)
        if in_force and not found:
            gaps.append(
                PlanGapV1(
                    target=target.kind, target_name=target.name, categories=list(target.categories)
                )
            )
    return links, gaps
