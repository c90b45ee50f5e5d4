"""The hotspot grid: 250 m cells over a kommun, and what each cell should hold by chance."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import shapely
from shapely import prepared
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from services.aggregate.analysis import negbin_sf
from services.aggregate.logic import Incident
from shared.areas import OTHER_AREA, KommunAreas
from shared.geo import METRES_PER_DEGREE, metres_per_degree_lon

GridCell = tuple[int, int]


class HotspotGrid:
    """A square grid in metres on an equirectangular projection around the kommun.

    Anchored at the kommun's bounding box, so a cell is the same cell every week. Over a
    kommun's few tens of kilometres the projection is good to well under a percent.
    """

    def __init__(self, kommun: KommunAreas, cell_m: float) -> None:
        self.lon0, self.lat0, maxx, maxy = kommun.boundary.bounds
        self.kx = metres_per_degree_lon((self.lat0 + maxy) / 2)
        self.ky = METRES_PER_DEGREE
        self.cell_m = cell_m
        nx = math.ceil((maxx - self.lon0) * self.kx / cell_m)
        ny = math.ceil((maxy - self.lat0) * self.ky / cell_m)
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
        lon, lat = (
            self.lon0 + (ix + 0.5) * cell_m / self.kx,
            self.lat0 + (iy + 0.5) * cell_m / self.ky,
        )
        self.mask = shapely.contains_xy(kommun.boundary, lon, lat)  # [iy, ix]: centre inside
        self.boundary = kommun.boundary
        self._areas = [(a.name, a.geometry, prepared.prep(a.geometry)) for a in kommun.areas]
        self._prepared_boundary = prepared.prep(kommun.boundary)
        self._fractions: dict[GridCell, dict[str, float]] = {}

    def cell(self, lat: float, lon: float) -> GridCell:
        return (
            math.floor((lon - self.lon0) * self.kx / self.cell_m),
            math.floor((lat - self.lat0) * self.ky / self.cell_m),
        )

    def inside(self, c: GridCell) -> bool:
        ny, nx = self.mask.shape
        return 0 <= c[0] < nx and 0 <= c[1] < ny and bool(self.mask[c[1], c[0]])

    def square(self, c: GridCell) -> BaseGeometry:
        d = self.cell_m
        x0, y0 = self.lon0 + c[0] * d / self.kx, self.lat0 + c[1] * d / self.ky
        return box(x0, y0, x0 + d / self.kx, y0 + d / self.ky)

    def cells_per_area(self) -> dict[str, float]:
        """Each area's size in cells (OTHER_AREA: the rest of the kommun)."""
        cell = (self.cell_m / self.kx) * (self.cell_m / self.ky)
        sizes = {name: geom.area / cell for name, geom, _ in self._areas}
        sizes[OTHER_AREA] = max(0.0, self.boundary.area / cell - sum(sizes.values()))
        return sizes

    def fractions(self, c: GridCell) -> dict[str, float]:
        """Which share of the cell lies in which area; cells on a border are split."""
        if c not in self._fractions:
            self._fractions[c] = self._split(self.square(c))
        return self._fractions[c]

    def _split(self, square: BaseGeometry) -> dict[str, float]:
        if not self._prepared_boundary.intersects(square):
            return {}
        shares: dict[str, float] = {}
        for name, geom, prep in self._areas:
            if prep.contains(square):
                return {name: 1.0}
            if prep.intersects(square):
                shares[name] = square.intersection(geom).area / square.area
        inside = 1.0
        if not self._prepared_boundary.contains(square):
            inside = square.intersection(self.boundary).area / square.area
        if inside - sum(shares.values()) > 1e-6:
            shares[OTHER_AREA] = inside - sum(shares.values())
        return shares


def window(c: GridCell) -> list[GridCell]:
    """The cell and its eight neighbours: 750 × 750 m."""
    return [(c[0] + dx, c[1] + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


class Density:
    """What a set of cells should hold if reports were spread evenly over each area.

    Each cell expects its own area's density, so a neighbourhood on the edge of a busy area is
    not a hotspot of the quiet area next to it, and the whole town is not one hotspot just for
    being denser than the forest; never less than the kommun-wide density, so one report in an
    empty area is not one either. The density comes from the rest of the area (the cells
    tested left out), or a cluster of ten in a small area would mostly explain itself; and the
    rest's own uncertainty widens the tail (negative binomial, as in `analysis`).
    """

    def __init__(self, points: Sequence[Incident], grid: HotspotGrid) -> None:
        self.grid = grid
        self.cells = grid.cells_per_area()
        self.counts = Counter(grid.cell(i.lat, i.lon) for i in points)
        self.by_area = Counter((grid.cell(i.lat, i.lon), i.area) for i in points)
        self.totals = Counter(i.area for i in points)
        self.kommun_rate = len(points) / max(1.0, sum(self.cells.values()))

    def p_value(self, cells: Sequence[GridCell], observed: int) -> float:
        """P(at least `observed` reports in `cells`) if they held only their areas' share."""
        parts: Counter[str] = Counter()
        for c in cells:
            parts.update(self.grid.fractions(c))
        mean = var_extra = 0.0
        for area, part in parts.items():
            rest = self.totals[area] - sum(self.by_area.get((c, area), 0) for c in cells)
            rest_cells = self.cells.get(area, 0.0) - part
            rate = (rest + 0.5) / rest_cells if rest_cells >= 1 else 0.0
            if rate > self.kommun_rate:
                mean += part * rate
                var_extra += (part * rate) ** 2 / (rest + 0.5)
            else:
                mean += part * self.kommun_rate
        return negbin_sf(observed, mean, mean**2 / var_extra if var_extra else math.inf)
