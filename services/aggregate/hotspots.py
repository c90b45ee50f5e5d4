"""Hotspots: where this week's reports concentrate, across area borders, named for people.

Method (the why in docs/analysis.md): count reports in a 250 m grid over the kommun; test
each cell and its 3 × 3 neighbourhood (a Getis-Ord Gi*-style local sum) against what its
areas' density leaves for it, with exact tails and Benjamini–Hochberg; join the reporting
cells of significant neighbourhoods into convex shapes, and name each after its area(s) and
the nearest known place of the kommun, if one is within reach.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from services.aggregate.analysis import benjamini_hochberg
from services.aggregate.hotspot_grid import Density, GridCell, HotspotGrid, window
from services.aggregate.logic import Incident
from shared.areas import KommunAreas
from shared.counting import is_counted
from shared.places import HOTSPOT_REACH_M, fold, nearest_place

_COMPASS = ("norra", "nordöstra", "östra", "sydöstra", "södra", "sydvästra", "västra", "nordvästra")
# A second area is named when it holds at least this share of the shape's reports.
SECOND_AREA_SHARE = 0.25
# Within this share of the area's radius from its centroid, a shape is "centrala delen".
CENTRAL_SHARE = 0.25


@dataclass(frozen=True)
class Hotspot:
    name: str  # "Skäggetorp, norra delen" or "Innerstaden/Vasastaden"
    areas: tuple[str, ...]  # the named area(s), largest share first
    polygon: list[list[list[float]]]  # GeoJSON Polygon coordinates, WGS84 [lon, lat]
    centroid: tuple[float, float]  # (lat, lon)
    count: int  # reports this week inside the polygon
    previous: int  # ... the previous week
    baseline_mean: float | None  # ... mean per week over the baseline weeks; None: none given
    categories: dict[str, int]  # category code -> count this week, largest first
    cells: int  # grid cells with reports that make up the shape
    score: float  # -log10 of the smallest p-value of its neighbourhoods: higher, surer
    trend: str  # "ny", "ökar", "minskar", "oförändrad" (vs the previous week)


def _usable(incidents: Iterable[Incident]) -> list[Incident]:
    # Reports placed at an area's centroid would make every centroid a hotspot: exact only.
    return [i for i in incidents if is_counted(i) and i.location_precision == "exact"]


def _hot_windows(
    points: Sequence[Incident], grid: HotspotGrid, *, fdr: float, min_count: int
) -> dict[GridCell, float]:
    """Centre cell -> smallest p-value, for the neighbourhoods that stand out from their areas.

    Two scales, the cell and its 3 × 3 neighbourhood (a Gi*-style local sum): a tight cluster at
    a school gate and one spread over a few blocks. Exact tails rather than Gi* z-scores, which
    assume roughly normal cell counts: with a few dozen reports over thousands of cells one
    stray report gives z ≈ 7.

    Only cells and neighbourhoods with at least one report are tested, each with its p-value
    conditional on that (P(X ≥ x) / P(X ≥ 1)), so that BH counts the places that had something
    to test rather than every empty cell of forest: a large rural kommun would otherwise need
    twice the reports for the same hotspot in town.
    """
    density = Density(points, grid)
    counts = density.counts
    tests: list[tuple[GridCell, float]] = []
    for centre in sorted({w for c in counts for w in window(c) if grid.inside(w)}):
        big = sum(counts.get(c, 0) for c in window(centre))
        for cells, observed in (([centre], counts.get(centre, 0)), (window(centre), big)):
            if observed >= 1 and big < min_count:
                tests.append((centre, 1.0))  # still in the family: it was looked at
            elif observed >= 1:
                p, p_any = density.p_value(cells, observed), density.p_value(cells, 1)
                tests.append((centre, min(1.0, p / p_any)))
    q_values = benjamini_hochberg([p for _, p in tests])
    hot: dict[GridCell, float] = {}
    for (centre, p), q in zip(tests, q_values, strict=True):
        if q <= fdr:
            hot[centre] = min(p, hot.get(centre, 1.0))
    return hot


def _components(
    hot: Iterable[GridCell], counts: Counter[GridCell]
) -> list[tuple[list[GridCell], list[GridCell]]]:
    """(reporting cells, hot centres): cells joined when they share a hot neighbourhood."""
    parent: dict[GridCell, GridCell] = {}

    def root(c: GridCell) -> GridCell:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    anchors: dict[GridCell, GridCell] = {}  # hot centre -> one of its reporting cells
    for centre in hot:
        members = [c for c in window(centre) if counts.get(c)]
        for c in members:
            parent.setdefault(c, c)
        for c in members[1:]:
            parent[root(c)] = root(members[0])
        anchors[centre] = members[0]
    groups: dict[GridCell, tuple[list[GridCell], list[GridCell]]] = {}
    for c in sorted(parent):
        groups.setdefault(root(c), ([], []))[0].append(c)
    for centre, anchor in sorted(anchors.items()):
        groups[root(anchor)][1].append(centre)
    return list(groups.values())


def _compass(shape: BaseGeometry, area: BaseGeometry, grid: HotspotGrid) -> str:
    ref, at = area.centroid, shape.centroid
    dx, dy = (at.x - ref.x) * grid.kx, (at.y - ref.y) * grid.ky
    radius = math.sqrt(area.area * grid.kx * grid.ky / math.pi)
    if math.hypot(dx, dy) < CENTRAL_SHARE * radius:
        return "centrala"
    return _COMPASS[round(math.degrees(math.atan2(dx, dy)) / 45) % 8]


def _name(
    shape: BaseGeometry, members: Sequence[Incident], kommun: KommunAreas, grid: HotspotGrid
) -> tuple[str, tuple[str, ...]]:
    shares = Counter(i.area for i in members).most_common()
    named = [a for a, n in shares if n >= SECOND_AREA_SHARE * len(members)] or [
        a for a, _ in shares
    ]
    areas = tuple(named[:2])
    if len(areas) == 2:
        held = sum(n for a, n in shares if a in areas)
        # A shape sprawling over many areas says so rather than pretend it is two.
        return "/".join(areas) + (" m.fl." if held < 2 / 3 * len(members) else ""), areas
    area = areas[0] if areas else kommun.area_of(shape.centroid.y, shape.centroid.x)
    # A known place near the shape's centre names it better than a compass point
    # ("Övriga kommunen, vid Gallerian"); shared/places.py, `lagesbild places import`.
    place = nearest_place(kommun.places, shape.centroid.y, shape.centroid.x, HOTSPOT_REACH_M)
    if place is not None and fold(place.name) != fold(area):
        return f"{area}, vid {place.name}", (area,)
    geometry = {a.name: a.geometry for a in kommun.areas}.get(area, kommun.boundary)
    return f"{area}, {_compass(shape, geometry, grid)} delen", (area,)


def _inside(shape: BaseGeometry, incidents: Sequence[Incident]) -> list[Incident]:
    # Vectorised (one call for all points): a Point object per incident and hotspot was
    # most of a week build's time.
    if not incidents:
        return []
    lons = np.fromiter((i.lon for i in incidents), float, len(incidents))
    lats = np.fromiter((i.lat for i in incidents), float, len(incidents))
    mask = shapely.intersects_xy(shape, lons, lats)  # boundary included, as covers() did
    return [i for i, hit in zip(incidents, mask, strict=True) if hit]


def cells_under(shape: BaseGeometry, grid: HotspotGrid) -> list[GridCell]:
    """The grid cells a hotspot shape touches."""
    minx, miny, maxx, maxy = shape.bounds
    (x0, y0), (x1, y1) = grid.cell(miny, minx), grid.cell(maxy, maxx)
    return [
        (x, y)
        for x in range(x0, x1 + 1)
        for y in range(y0, y1 + 1)
        if shape.intersects(grid.square((x, y)))
    ]


def _baseline_mean(
    shape: BaseGeometry,
    grid: HotspotGrid,
    incidents: Sequence[Incident],
    cells: Mapping[GridCell, int] | None,
    weeks: int,
) -> float | None:
    if weeks <= 0:
        return None
    if cells is not None:
        return sum(cells.get(c, 0) for c in cells_under(shape, grid)) / weeks
    return len(_inside(shape, incidents)) / weeks


def _trend(count: int, previous: int, baseline_mean: float | None) -> str:
    if count > previous:
        return "ny" if previous == 0 and not baseline_mean else "ökar"
    return "minskar" if count < previous else "oförändrad"


def find_hotspots(
    incidents: Sequence[Incident],
    previous_incidents: Sequence[Incident],
    kommun: KommunAreas,
    *,
    cell_m: float = 250.0,
    fdr: float = 0.05,
    min_count: int = 3,
    baseline_incidents: Sequence[Incident] = (),
    baseline_weeks: int = 0,
    baseline_cells: Mapping[GridCell, int] | None = None,
) -> list[Hotspot]:
    """This week's hotspots, surest first. The baseline spans `baseline_weeks` weeks: either
    the reports themselves, or (cheaper, as the weekly build does) counts per grid cell."""
    points = _usable(incidents)
    if not points:
        return []
    grid = HotspotGrid(kommun, cell_m)
    counts = Counter(grid.cell(i.lat, i.lon) for i in points)
    hot = _hot_windows(points, grid, fdr=fdr, min_count=min_count)
    previous, baseline = _usable(previous_incidents), _usable(baseline_incidents)
    spots = []
    for cells, centres in _components(hot, counts):
        shape = orient(unary_union([grid.square(c) for c in cells]).convex_hull, 1.0)
        members = _inside(shape, points)
        name, areas = _name(shape, members, kommun, grid)
        best = min(hot[c] for c in centres)
        before = len(_inside(shape, previous))
        mean = _baseline_mean(shape, grid, baseline, baseline_cells, baseline_weeks)
        spots.append(
            Hotspot(
                name=name,
                areas=areas,
                polygon=[[[round(x, 6), round(y, 6)] for x, y in shape.exterior.coords]],
                centroid=(round(shape.centroid.y, 6), round(shape.centroid.x, 6)),
                count=len(members),
                previous=before,
                baseline_mean=None if mean is None else round(mean, 2),
                categories=dict(Counter(i.category for i in members).most_common()),
                cells=len(cells),
                score=round(min(300.0, -math.log10(max(best, 1e-300))), 1),
                trend=_trend(len(members), before, mean),
            )
        )
    spots.sort(key=lambda s: (-s.score, -s.count, s.name))
    return _unique_names(spots)


def _unique_names(spots: list[Hotspot]) -> list[Hotspot]:
    seen: Counter[str] = Counter()
    out = []
    for s in spots:
        seen[s.name] += 1
        out.append(s if seen[s.name] == 1 else replace(s, name=f"{s.name} ({seen[s.name]})"))
    return out
