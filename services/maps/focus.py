"""Veckans fokus: the few places the meeting should talk about first. Pure.

The rule (docs/analysis.md, "Veckans fokus"): every hotspot and every unusual rise is a
candidate; its priority is

    log2(1 + significance) × severity × trend factor

where significance is −log10 of its p-value against the place's own expectation (the
hotspot's `score`; a rise's q-value, else its p-value), severity the count-weighted mean of
its categories' weights (`shared.categories.CATEGORY_SEVERITY`, 1–3) and the trend factor
`TREND_FACTOR[trend]` (1 when the week before cannot be compared). A rise inside a hotspot
(its area and category are the hotspot's) is part of that hotspot, not a place of its own.
At most MAX_FOCUS places, highest priority first.

Also here: the weekday × hour span of a place's events in words ("fre–lör 22–02") and the
choice of the one plan activity to highlight.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import shapely
from shapely.geometry import Point, shape

from shared.categories import severity
from shared.contracts import (
    CellStatsV1,
    DecisionV1,
    HotspotV1,
    IncidentPoint,
    PatrolPresenceV1,
    PlanLinkV1,
    WeekSnapshotV1,
)
from shared.counting import comparison, is_counted
from shared.formats import WEEKDAYS_SV
from shared.places import fold
from shared.weeks import STOCKHOLM

MAX_FOCUS = 5
TREND_FACTOR: dict[str, float] = {"ökar": 1.25, "ny": 1.25, "oförändrad": 1.0, "minskar": 0.8}
WHEN_SHARE = 2 / 3  # the span in words holds at least this share of the place's events


@dataclass(frozen=True)
class When:
    text: str  # "fre–lör 22–02", "alla dagar 08–17", "" without events
    inside: int  # events inside the span
    total: int  # events in all


@dataclass(frozen=True)
class FocusPlace:
    kind: str  # "hotspot" | "rise"
    name: str
    target: str  # what a decision about it names (the hotspot, or the rise's area)
    areas: tuple[str, ...]
    categories: tuple[tuple[str, int], ...]  # (code, händelser), largest first
    count: int
    previous: int | None  # None: the week before is not comparable
    baseline_mean: float | None
    trend: str
    significance: float  # −log10 p against the place's own expectation
    severity: float
    trend_factor: float
    priority: float
    rise: bool  # an unusual rise is (part of) it
    polygon: list[list[list[float]]] | None  # GeoJSON Polygon [lon, lat]; None: the area
    points: tuple[tuple[float, float], ...]  # (lat, lon) of its händelser with a point
    when: When
    links: tuple[PlanLinkV1, ...] = ()
    decisions: tuple[DecisionV1, ...] = ()
    presence: tuple[PatrolPresenceV1, ...] = field(default=())

    @property
    def dominant(self) -> str:
        return self.categories[0][0] if self.categories else ""


# --- significance, severity, trend ------------------------------------------------------------


def _neg_log10(p: float | None) -> float:
    if p is None:
        return 0.0
    return -math.log10(max(p, 1e-300))


def rise_significance(stat: CellStatsV1) -> float:
    return _neg_log10(stat.q_value if stat.q_value is not None else stat.p_value)


def mean_severity(categories: Iterable[tuple[str, int]]) -> float:
    pairs = [(code, n) for code, n in categories if n > 0]
    total = sum(n for _, n in pairs)
    if not total:
        return 1.0
    return sum(severity(code) * n for code, n in pairs) / total


def priority(significance: float, severity_: float, trend_factor: float) -> float:
    # log: p = 10⁻²⁰ is not twice as urgent as 10⁻¹⁰, it is only surer
    return math.log2(1 + significance) * severity_ * trend_factor


# --- when, in words ------------------------------------------------------------------------------


def local_times(incidents: Iterable[IncidentPoint]) -> list[tuple[int, int]]:
    """(weekday, hour) in Stockholm time, Monday = 0."""
    out = []
    for i in incidents:
        t: datetime = i.occurred_at.astimezone(STOCKHOLM)
        out.append((t.weekday(), t.hour))
    return out


def _best_window(values: Sequence[int], period: int, need: int) -> tuple[int, int]:
    """The shortest circular window (start, length) holding at least `need` of `values`;
    among equals the one holding most, then the earliest start."""
    for length in range(1, period + 1):
        best: tuple[int, int] | None = None
        for start in range(period):
            held = sum(1 for v in values if (v - start) % period < length)
            if held >= need and (best is None or held > best[1]):
                best = (start, held)
        if best is not None:
            return best[0], length
    return 0, period


def _days_text(start: int, length: int) -> str:
    if length >= 6:
        return "alla dagar"
    if length == 1:
        return WEEKDAYS_SV[start]
    return f"{WEEKDAYS_SV[start]}–{WEEKDAYS_SV[(start + length - 1) % 7]}"


def when_in_words(times: Sequence[tuple[int, int]], share: float = WHEN_SHARE) -> When:
    """The shortest hour window, then the shortest run of days, that hold `share` of the
    events: "fre–lör 22–02" (a night counts to the evening it began)."""
    n = len(times)
    if n == 0:
        return When("", 0, 0)
    h_start, h_len = _best_window([h for _, h in times], 24, math.ceil(share * n))
    in_hours = [(d, h) for d, h in times if (h - h_start) % 24 < h_len]
    # after midnight inside a window that began the evening before: that evening's night
    nights = [(d - 1) % 7 if h_start + h_len > 24 and h < h_start else d for d, h in in_hours]
    d_start, d_len = _best_window(nights, 7, math.ceil(share * len(nights)))
    inside = sum(1 for d in nights if (d - d_start) % 7 < d_len)
    days = _days_text(d_start, d_len)
    if d_len >= 5 and not _concentrated(inside, len(nights), d_len, 7):
        days = "alla dagar"
    hours = f"{h_start:02d}–{(h_start + h_len) % 24:02d}"
    if h_len >= 20 or (h_len >= 12 and not _concentrated(len(in_hours), n, h_len, 24)):
        hours = "hela dygnet"
    return When(f"{days} {hours}", inside, n)


def _concentrated(held: int, total: int, length: int, period: int) -> bool:
    """A long span says something only if it holds clearly more than its share of the
    period (15 % more): else the events are simply spread out."""
    return held / total >= CONCENTRATED * length / period


CONCENTRATED = 1.15


# --- the plan activity to highlight ----------------------------------------------------------


def best_activity(
    links: Sequence[PlanLinkV1], dominant: str
) -> tuple[PlanLinkV1 | None, list[PlanLinkV1]]:
    """The one activity whose categories include the dominant category, most reasons
    (place, time) first; the others, in the plan's order."""
    matching = [link for link in links if dominant and dominant in link.categories]
    if not matching:
        return None, list(links)
    best = max(matching, key=lambda link: (len(link.reasons), -links.index(link)))
    return best, [link for link in links if link is not best]


# --- the candidates ------------------------------------------------------------------------------


def _polygon_of(h: HotspotV1) -> shapely.Geometry:
    return shape({"type": "Polygon", "coordinates": h.polygon})


def _counted(snapshot: WeekSnapshotV1) -> list[IncidentPoint]:
    return [i for i in snapshot.incidents if is_counted(i)]


def _same(a: str, b: str) -> bool:
    return fold(a) == fold(b)


def _decisions(snapshot: WeekSnapshotV1, names: Sequence[str]) -> tuple[DecisionV1, ...]:
    return tuple(
        d
        for d in snapshot.open_decisions
        if d.status == "open" and any(_same(d.target, name) for name in names)
    )


def _hotspot_place(
    snapshot: WeekSnapshotV1,
    h: HotspotV1,
    rises: list[CellStatsV1],
    compared: bool,
    incidents: list[IncidentPoint],
) -> FocusPlace:
    poly = _polygon_of(h)
    shapely.prepare(poly)
    inside = [
        i for i in incidents if i.location_precision == "exact" and poly.covers(Point(i.lon, i.lat))
    ]
    cats = tuple(sorted(h.categories.items(), key=lambda kv: (-kv[1], kv[0])))
    sig = max([h.score, *(rise_significance(s) for s in rises)])
    trend = h.trend if compared else "–"
    factor = TREND_FACTOR.get(trend, 1.0)
    sev = mean_severity(cats)
    presence = tuple(
        p
        for p in snapshot.patrol_presence
        if p.hotspot == h.name
        or (p.lat is not None and p.lon is not None and poly.covers(Point(p.lon, p.lat)))
    )
    return FocusPlace(
        kind="hotspot",
        name=h.name,
        target=h.name,
        areas=tuple(h.areas),
        categories=cats,
        count=h.count,
        previous=h.previous if compared else None,
        baseline_mean=h.baseline_mean,
        trend=trend,
        significance=round(sig, 3),
        severity=round(sev, 3),
        trend_factor=factor,
        priority=round(priority(sig, sev, factor), 3),
        rise=bool(rises),
        polygon=h.polygon,
        points=tuple((i.lat, i.lon) for i in inside),
        when=when_in_words(local_times(inside)),
        links=tuple(
            link
            for link in snapshot.plan_links
            if link.target == "hotspot" and link.target_name == h.name
        ),
        decisions=_decisions(snapshot, [h.name, *h.areas]),
        presence=presence,
    )


def _rise_place(
    snapshot: WeekSnapshotV1, s: CellStatsV1, compared: bool, incidents: list[IncidentPoint]
) -> FocusPlace:
    label = snapshot.categories.get(s.category, s.category)
    mine = [i for i in incidents if i.area == s.area and i.category == s.category]
    sig = rise_significance(s)
    previous = s.previous if compared else None
    trend = "–" if previous is None else _trend(s.count, previous)
    factor = TREND_FACTOR.get(trend, 1.0)
    sev = float(severity(s.category))
    return FocusPlace(
        kind="rise",
        name=f"{s.area}: {label.lower()}",
        target=s.area,
        areas=(s.area,),
        categories=((s.category, s.count),),
        count=s.count,
        previous=previous,
        baseline_mean=s.mean_8,
        trend=trend,
        significance=round(sig, 3),
        severity=sev,
        trend_factor=factor,
        priority=round(priority(sig, sev, factor), 3),
        rise=True,
        polygon=None,
        points=tuple((i.lat, i.lon) for i in mine if i.location_precision == "exact"),
        when=when_in_words(local_times(mine)),
        links=tuple(
            link
            for link in snapshot.plan_links
            if link.target == "rise" and link.target_name == f"{s.area} / {label}"
        ),
        decisions=_decisions(snapshot, [s.area]),
        presence=tuple(p for p in snapshot.patrol_presence if p.area == s.area),
    )


def _trend(count: int, previous: int) -> str:
    if count > previous:
        return "ny" if previous == 0 else "ökar"
    return "minskar" if count < previous else "oförändrad"


def focus_places(snapshot: WeekSnapshotV1, limit: int = MAX_FOCUS) -> list[FocusPlace]:
    """The week's focus places, highest priority first (see the module's docstring)."""
    compared = comparison(snapshot).previous
    incidents = _counted(snapshot)
    alerts = [s for s in snapshot.stats if s.alert]
    absorbed: set[tuple[str, str]] = set()
    places = []
    for h in snapshot.hotspots:
        mine = [s for s in alerts if s.area in h.areas and h.categories.get(s.category, 0) > 0]
        absorbed |= {(s.area, s.category) for s in mine}
        places.append(_hotspot_place(snapshot, h, mine, compared, incidents))
    for s in alerts:
        if (s.area, s.category) not in absorbed:
            places.append(_rise_place(snapshot, s, compared, incidents))
    places.sort(key=lambda p: (-p.priority, -p.count, p.name))
    return places[:limit]
