"""Next-week hotspot forecast on a square grid. Pure functions: no I/O, no now().

The pieces, in the order they are used:

* `Points`: incident times and positions in metres in one metric CRS (`points_from_latlon`
  projects WGS84 with pyproj, `points_from_xy` takes projected data as it is).
* `Grid`: square cells of `cell_m` metres aligned to multiples of `cell_m` in that CRS, so a
  cell is the same cell whatever data or cut-off it was built from.
* `Method`: how a cell is scored from the incidents before the cut-off. The **baseline** is
  the plain count of the last 52 weeks per cell. A method may use its own, smaller cell size
  (`cell_m`; `fine` counts on 83⅓ m cells) and may shrink a fine cell's count
  towards its 250 m parent's (`shrink`). The other methods weight each incident by
  ``0.5 ** (age_weeks / half_life_weeks)`` (an exponentially time-decayed count, still over
  the last 52 weeks) and/or add ``neighbour_weight`` times the scores of the 8 neighbouring
  cells (spatial smoothing) and/or spread each incident over its cell and the adjacent ones
  with a Gaussian of ``kernel_m`` metres (position uncertainty). Methods made for point data
  (kernel density, a self-exciting point process, a long-term + near-repeat blend) are
  `PointMethod`s in services/aggregate/forecast_points.py. The default (`DEFAULT_METHOD`) is
  the baseline: no method beat it both on snapped positions and on GPS-like (jittered) ones
  by the fourth round's rule (docs/forecast.md, "Fourth round: GPS-like points").
* `jitter`: GPS-like positions from snapped ones (a Gaussian displacement of every point), so
  an evaluation can show whether a gain survives positions that are not snapped to blocks.
* The **study area** is the set of cells with at least one incident in all data before the
  cut-off ("the cells that ever had an incident in the training data"). It leaves out water,
  parks and land outside the jurisdiction that a bounding box or convex hull would count, so
  PAI figures are not inflated by empty area. It is always made of the study grid's cells
  (`cell_m` of `forecast`/`evaluate`, default 250 m), whatever cell size a method chooses
  with, so methods with different cell sizes are compared on the same area.
* `forecast`: rank the candidate cells by score and take the top ``round(area_fraction *
  study km² / cell km²)`` (at least one), i.e. the requested share of the study area within
  half a cell. Candidates are the method's cells whose centre lies in a study-area cell.
* `evaluate`: rolling weekly, for each ISO week train on everything before its Monday,
  forecast, and score that week's incidents: hit rate = share inside the chosen cells,
  PAI = hit rate / (chosen km² / study km²).

Times are naive wall-clock times in the data's own local time (the CLI converts aware
timestamps); weeks start on Monday 00:00 of that clock.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

DEFAULT_CELL_M = 250.0
DEFAULT_AREA_FRACTION = 0.05
WINDOW_WEEKS = 52
JITTER_SEED = 20  # default seed of `jitter` in the study and the CLI (docs/forecast.md)
WGS84_EPSG = 4326
SWEREF99TM_EPSG = 3006

_WEEK = np.timedelta64(7 * 24 * 3600, "s")
_SECONDS_PER_WEEK = 7 * 24 * 3600.0
# Sweden's extent in WGS84 (west, south, east, north): data centred here use SWEREF 99 TM.
_SWEDEN_BBOX = (10.5, 55.0, 24.5, 69.1)

TimeLike = date | datetime | np.datetime64 | str


# ---------------------------------------------------------------------------------------------
# Points and projections


@dataclass(frozen=True, eq=False)
class Points:
    """Incidents: times (datetime64[s], naive local) and x/y metres in CRS `epsg`."""

    t: NDArray[np.datetime64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    epsg: int

    def __post_init__(self) -> None:
        if not (self.t.ndim == self.x.ndim == self.y.ndim == 1):
            raise ValueError("t, x and y must be one-dimensional")
        if not (len(self.t) == len(self.x) == len(self.y)):
            raise ValueError(
                f"t, x and y differ in length: {len(self.t)}, {len(self.x)}, {len(self.y)}"
            )
        if not (np.isfinite(self.x).all() and np.isfinite(self.y).all()):
            raise ValueError("x and y must be finite numbers")

    def __len__(self) -> int:
        return len(self.t)

    def select(self, mask: NDArray[np.bool_]) -> Points:
        return Points(self.t[mask], self.x[mask], self.y[mask], self.epsg)


def to_datetime64(times: Iterable[TimeLike] | NDArray[Any]) -> NDArray[np.datetime64]:
    """Naive datetimes (or ISO strings / datetime64) as a datetime64[s] array.

    Aware datetimes are refused: convert them to the data's local clock first.
    """
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        return times.astype("datetime64[s]")
    values = list(times)
    for value in values:
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError("aware datetimes are not accepted; give naive local times")
    return np.array(values, dtype="datetime64[s]")


def _as_datetime64(moment: TimeLike) -> np.datetime64:
    if isinstance(moment, np.datetime64):
        return moment.astype("datetime64[s]")
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        raise ValueError("aware datetimes are not accepted; give naive local times")
    return np.datetime64(moment, "s")


def utm_epsg(lat: float, lon: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lat, lon)."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


def metric_epsg(lat: float, lon: float) -> int:
    """A metric CRS for data centred at (lat, lon): SWEREF 99 TM in Sweden, else UTM."""
    west, south, east, north = _SWEDEN_BBOX
    if west <= lon <= east and south <= lat <= north:
        return SWEREF99TM_EPSG
    return utm_epsg(lat, lon)


def points_from_xy(
    times: Iterable[TimeLike] | NDArray[Any], x: ArrayLike, y: ArrayLike, *, epsg: int
) -> Points:
    """Points already in metres in a projected CRS (e.g. EPSG:32610, EPSG:3006)."""
    return Points(
        to_datetime64(times),
        np.asarray(x, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
        int(epsg),
    )


def points_from_latlon(
    times: Iterable[TimeLike] | NDArray[Any],
    lat: ArrayLike,
    lon: ArrayLike,
    *,
    epsg: int | None = None,
) -> Points:
    """WGS84 points projected to `epsg` (default: `metric_epsg` of the data's centre)."""
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    if lat_a.size and not (
        np.isfinite(lat_a).all()
        and np.isfinite(lon_a).all()
        and (np.abs(lat_a) <= 90).all()
        and (np.abs(lon_a) <= 180).all()
    ):
        raise ValueError("latitude must be in [-90, 90] and longitude in [-180, 180]")
    if epsg is None:
        if not lat_a.size:
            raise ValueError("no points: cannot choose a metric CRS")
        centre_lat = float((lat_a.min() + lat_a.max()) / 2)
        centre_lon = float((lon_a.min() + lon_a.max()) / 2)
        epsg = metric_epsg(centre_lat, centre_lon)
    transformer = Transformer.from_crs(WGS84_EPSG, epsg, always_xy=True)
    x, y = transformer.transform(lon_a, lat_a)
    return Points(to_datetime64(times), np.asarray(x, np.float64), np.asarray(y, np.float64), epsg)


def jitter(points: Points, sigma_m: float, seed: int = JITTER_SEED) -> Points:
    """The points, each moved by an independent Gaussian displacement of σ = `sigma_m` metres
    in x and in y (numpy's default generator with `seed`, so the same file and seed always
    give the same positions). Simulates GPS-like positions (a phone in a town: σ ≈ 40 m) from
    data snapped to addresses or blocks; σ = 0 returns the points unchanged."""
    if not (math.isfinite(sigma_m) and sigma_m >= 0):
        raise ValueError("sigma_m must be a finite number >= 0")
    if sigma_m == 0:
        return points
    rng = np.random.default_rng(seed)
    dx, dy = rng.normal(0.0, sigma_m, size=(2, len(points)))
    return Points(points.t, points.x + dx, points.y + dy, points.epsg)


# ---------------------------------------------------------------------------------------------
# Grid


@dataclass(frozen=True)
class Grid:
    """`nx` × `ny` cells of `cell_m` metres; cell (i, j) spans
    [(ix0 + i) * cell_m, (ix0 + i + 1) * cell_m) in x, likewise in y."""

    cell_m: float
    ix0: int
    iy0: int
    nx: int
    ny: int

    @classmethod
    def covering(cls, points: Points, cell_m: float, margin: int = 1) -> Grid:
        if cell_m <= 0:
            raise ValueError("cell_m must be positive")
        if not len(points):
            raise ValueError("no points: cannot build a grid")
        ix = np.floor(points.x / cell_m)
        iy = np.floor(points.y / cell_m)
        ix0, iy0 = int(ix.min()) - margin, int(iy.min()) - margin
        nx = int(ix.max()) - ix0 + 1 + margin
        ny = int(iy.max()) - iy0 + 1 + margin
        if nx * ny > 50_000_000:
            raise ValueError(
                f"the data span {nx} x {ny} cells of {cell_m:g} m; check the coordinates/CRS"
            )
        return cls(float(cell_m), ix0, iy0, nx, ny)

    @classmethod
    def spanning(cls, other: Grid, cell_m: float) -> Grid:
        """A grid of `cell_m` cells (aligned to multiples of `cell_m`) that covers `other`."""
        if cell_m <= 0:
            raise ValueError("cell_m must be positive")
        x_lo, x_hi = other.ix0 * other.cell_m, (other.ix0 + other.nx) * other.cell_m
        y_lo, y_hi = other.iy0 * other.cell_m, (other.iy0 + other.ny) * other.cell_m
        ix0, iy0 = math.floor(x_lo / cell_m), math.floor(y_lo / cell_m)
        nx, ny = math.ceil(x_hi / cell_m) - ix0, math.ceil(y_hi / cell_m) - iy0
        if nx * ny > 50_000_000:
            raise ValueError(f"{nx} x {ny} cells of {cell_m:g} m: too many; use larger cells")
        return cls(float(cell_m), ix0, iy0, nx, ny)

    @property
    def size(self) -> int:
        return self.nx * self.ny

    def centres(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """x and y of every cell's centre, in flat-index order."""
        i, j = np.divmod(np.arange(self.size, dtype=np.int64), self.ny)
        return (self.ix0 + i + 0.5) * self.cell_m, (self.iy0 + j + 0.5) * self.cell_m

    def flat_index(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """Flat cell index (i * ny + j) per point; -1 for points outside the grid."""
        i = np.floor(x / self.cell_m).astype(np.int64) - self.ix0
        j = np.floor(y / self.cell_m).astype(np.int64) - self.iy0
        inside = (i >= 0) & (i < self.nx) & (j >= 0) & (j < self.ny)
        return np.where(inside, i * self.ny + j, -1)

    def lower_left(self, flat: int) -> tuple[float, float]:
        i, j = divmod(int(flat), self.ny)
        return (self.ix0 + i) * self.cell_m, (self.iy0 + j) * self.cell_m


# ---------------------------------------------------------------------------------------------
# Methods


@dataclass(frozen=True)
class Method:
    """A scoring rule. `half_life_weeks=None` counts every incident as 1 (no decay)."""

    name: str
    half_life_weeks: float | None = None
    neighbour_weight: float = 0.0
    window_weeks: int = WINDOW_WEEKS
    kernel_m: float = 0.0  # σ in metres of the position kernel; 0 = each incident in its cell
    # The method's own cell size in metres; None = the study grid's cell size (`cell_m` of
    # `forecast`/`evaluate`). The study area and the area budget stay those of the study grid.
    cell_m: float | None = None
    # Shrinkage λ: add λ × (score of the study-grid cell containing the cell's centre) divided
    # by the number of cells per study cell, (study cell_m / cell_m)². 0 = none.
    shrink: float = 0.0

    def __post_init__(self) -> None:
        if self.half_life_weeks is not None and self.half_life_weeks <= 0:
            raise ValueError("half_life_weeks must be positive")
        if self.neighbour_weight < 0:
            raise ValueError("neighbour_weight must be >= 0")
        if self.window_weeks < 1:
            raise ValueError("window_weeks must be >= 1")
        if self.kernel_m < 0:
            raise ValueError("kernel_m must be >= 0")
        if self.cell_m is not None and not (math.isfinite(self.cell_m) and self.cell_m > 0):
            raise ValueError("cell_m must be positive")
        if not (math.isfinite(self.shrink) and self.shrink >= 0):
            raise ValueError("shrink must be >= 0")

    @property
    def spec(self) -> str:
        """The parameters as `parse_method` reads them, e.g. "hl=13,nw=0.5,window=52"."""
        hl = "inf" if self.half_life_weeks is None else f"{self.half_life_weeks:g}"
        ks = f",ks={self.kernel_m:g}" if self.kernel_m else ""
        cell = f",cell={_format_length(self.cell_m)}" if self.cell_m is not None else ""
        shrink = f",shrink={self.shrink:g}" if self.shrink else ""
        return f"hl={hl},nw={self.neighbour_weight:g},window={self.window_weeks}{ks}{cell}{shrink}"

    def cell_size(self, study_cell_m: float) -> float:
        """The size of the cells this method chooses, given the study grid's cell size."""
        return study_cell_m if self.cell_m is None else self.cell_m


BASELINE = Method("baseline")
FINE_CELL_M = 250.0 / 3  # 83⅓ m: three by three in each 250 m cell
# Presets. The default is the baseline, the plain 52-week count on the study grid's cells
# (250 m): in the fourth round (docs/forecast.md, "Fourth round: GPS-like points") no method
# beat it by the rule that also asks for GPS-like positions: more than 2 SE over it on held-out
# weeks both snapped and jittered (σ = 40 m), and ≥ 1.05 × its hit rate jittered and ≥ 1.05 ×
# the count on the method's own cells snapped. "fine" (the same count on 83⅓ m cells) was the
# default after the third round (+1.64 ± 0.08 PAI on Vancouver's held-out weeks), but that gain
# is the cell size meeting hundred-block snapped positions: with σ = 40 m jitter it falls to
# 1.04 × the baseline's hit rate, and as a count on its own cells it cannot be more than
# that count. "decay" (half-life 8 weeks, 250 m) is level with the baseline on the held-out
# weeks. "smooth" and "decay-smooth" are kept for comparison: spatial smoothing lowered PAI at
# 250 m on that data. The position kernel (parameter ks) won the second-round tuning search
# but was no better than the baseline on the held-out weeks, so it is an option
# (docs/forecast.md, "Trying harder").
METHODS: dict[str, Method] = {
    "baseline": BASELINE,
    "fine": Method("fine", cell_m=FINE_CELL_M),
    "decay": Method("decay", half_life_weeks=8.0),
    "smooth": Method("smooth", neighbour_weight=0.125),
    "decay-smooth": Method("decay-smooth", half_life_weeks=8.0, neighbour_weight=0.125),
}
DEFAULT_METHOD = "baseline"
# What `lagesbild evaluate` compares with the baseline when no --method is given: the 83⅓ m
# count, so a municipality sees on its own data whether small cells help (they do on snapped
# positions, much less on GPS-like ones).
EVALUATE_METHODS = ("fine",)
# Methods for point data (kernel density, self-exciting process, long-term + near-repeat
# blend): services/aggregate/forecast_points.py, presets there; `parse_method` reads them as
# "kde", "kde-cv", "kde:h=20/40/80,cell=125", "etas:trigger=gauss,ts=50", "blend:alpha=0.1", ….
POINT_FAMILIES = ("kde", "kde-cv", "blend", "etas")


def _format_length(value: float) -> str:
    """A cell size as text that `parse_method` reads back exactly: "250", "250/3"."""
    for q in range(1, 13):
        p = round(value * q)
        if p / q == value:
            return f"{p}" if q == 1 else f"{p}/{q}"
    return repr(value)


def _parse_length(text: str) -> float:
    num, slash, den = text.partition("/")
    return float(num) / float(den) if slash else float(num)


def parse_method(text: str) -> AnyMethod:
    """A preset name ("baseline", "decay", …) or parameters, optionally after a preset:
    "hl=8,nw=0.5", "decay:hl=8", "smooth:nw=0.125". hl = half-life in weeks ("inf" = none),
    nw = weight of each of the 8 neighbours, window = weeks of history (default 52),
    ks = σ in metres of the position kernel (0 = none), cell = the method's own cell size in
    metres (default: the study grid's), shrink = λ of the parent-cell shrinkage (0 = none)."""
    text = text.strip()
    name, sep, params = text.partition(":")
    if name.strip() in POINT_FAMILIES:
        # The point-data methods live in their own module, which imports this one.
        from services.aggregate.forecast_points import parse_point_method

        return parse_point_method(text)
    if not sep and "=" in name:
        name, params = "", name
    if name and name not in METHODS:
        known = ", ".join([*METHODS, *POINT_FAMILIES])
        raise ValueError(f"unknown method {name!r}; known: {known}")
    base = METHODS[name] if name else Method(text)
    hl, nw = base.half_life_weeks, base.neighbour_weight
    window, ks = base.window_weeks, base.kernel_m
    cell, shrink = base.cell_m, base.shrink
    for part in filter(None, (p.strip() for p in params.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        try:
            if not eq:
                raise ValueError
            if key in ("hl", "half_life"):
                hl = None if value.strip().lower() in ("inf", "none") else float(value)
            elif key in ("nw", "neighbour_weight"):
                nw = float(value)
            elif key == "window":
                window = int(value)
            elif key in ("ks", "kernel_m"):
                ks = float(value)
            elif key in ("cell", "cell_m"):
                cell = None if value.strip().lower() in ("", "none") else _parse_length(value)
            elif key in ("shrink", "lambda"):
                shrink = float(value)
            else:
                raise KeyError(key)
        except KeyError:
            raise ValueError(
                f"unknown method parameter {key!r} (use hl, nw, window, ks, cell, shrink)"
            ) from None
        except ValueError:
            raise ValueError(f"bad method parameter {part!r} in {text!r}") from None
    return Method(
        text,
        half_life_weeks=hl,
        neighbour_weight=nw,
        window_weeks=window,
        kernel_m=ks,
        cell_m=cell,
        shrink=shrink,
    )


# ---------------------------------------------------------------------------------------------
# Scoring and selection


def cell_scores(points: Points, grid: Grid, until: TimeLike, method: Method) -> NDArray[np.float64]:
    """Score per cell (flat, length grid.size) from the incidents in the method's window
    before `until`."""
    cut = _as_datetime64(until)
    return _scores(points, grid.flat_index(points.x, points.y), grid, cut, method)


def _scores(
    points: Points,
    idx: NDArray[np.int64],
    grid: Grid,
    cut: np.datetime64,
    method: Method,
) -> NDArray[np.float64]:
    lo = cut - method.window_weeks * _WEEK
    mask = (points.t >= lo) & (points.t < cut) & (idx >= 0)
    weights = np.ones(int(mask.sum()))
    if method.half_life_weeks is not None:
        age = (cut - points.t[mask]).astype(np.float64) / _SECONDS_PER_WEEK
        weights = np.power(0.5, age / method.half_life_weeks)
    if method.kernel_m:
        x, y = points.x[mask], points.y[mask]
        scores = _spread(x, y, idx[mask], weights, grid, method.kernel_m)
    else:
        scores = np.bincount(idx[mask], weights=weights, minlength=grid.size).astype(np.float64)
    if method.neighbour_weight:
        scores = _smooth(scores.reshape(grid.nx, grid.ny), method.neighbour_weight).ravel()
    return scores


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _edge_shares(v: NDArray[np.float64], cell_m: float, sigma: float) -> list[NDArray[np.float64]]:
    """1-D: the shares of a Gaussian N(v, σ²) in the cell below v's cell, in v's cell, and in
    the cell above. Assumes σ ≤ cell_m / 3, so the cells further away get next to nothing."""
    offset = v - np.floor(v / cell_m) * cell_m
    below = 0.5 * _erfc(offset / (sigma * math.sqrt(2)))
    above = 0.5 * _erfc((cell_m - offset) / (sigma * math.sqrt(2)))
    return [below, 1.0 - below - above, above]


def _spread(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    idx: NDArray[np.int64],
    weights: NDArray[np.float64],
    grid: Grid,
    sigma: float,
) -> NDArray[np.float64]:
    """Scores with each incident's weight shared between its cell and the 8 around it: the
    integral over each cell of a Gaussian of σ metres around the incident. Positions in open
    data are often offset (Vancouver: to the hundred block), so an incident a few metres from
    a cell edge could as well have been in the neighbour cell. Weight that would fall outside
    the grid is dropped."""
    if not 0 < sigma <= grid.cell_m / 3:
        raise ValueError(f"kernel_m must be in (0, cell_m / 3] = (0, {grid.cell_m / 3:g}]")
    sx, sy = _edge_shares(x, grid.cell_m, sigma), _edge_shares(y, grid.cell_m, sigma)
    i, j = np.divmod(idx, grid.ny)
    width = grid.ny + 2  # a one-cell border, so neighbours of edge cells have an index
    padded = np.zeros((grid.nx + 2) * width)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            flat = (i + 1 + di) * width + (j + 1 + dj)
            share = weights * sx[di + 1] * sy[dj + 1]
            padded += np.bincount(flat, weights=share, minlength=padded.size)
    result: NDArray[np.float64] = padded.reshape(grid.nx + 2, width)[1:-1, 1:-1].ravel()
    return result


def _smooth(grid_scores: NDArray[np.float64], weight: float) -> NDArray[np.float64]:
    """Own score plus `weight` × each of the 8 neighbours' scores."""
    nx, ny = grid_scores.shape
    padded = np.pad(grid_scores, 1)
    neighbours = np.zeros_like(grid_scores)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                neighbours += padded[1 + di : 1 + di + nx, 1 + dj : 1 + dj + ny]
    result: NDArray[np.float64] = grid_scores + weight * neighbours
    return result


def study_area_mask(points: Points, grid: Grid, until: TimeLike) -> NDArray[np.bool_]:
    """Flat mask of the study area: cells with at least one incident before `until`."""
    cut = _as_datetime64(until)
    return _study(points.t, grid.flat_index(points.x, points.y), grid, cut)


def _study(
    t: NDArray[np.datetime64], idx: NDArray[np.int64], grid: Grid, cut: np.datetime64
) -> NDArray[np.bool_]:
    mask = (t < cut) & (idx >= 0)
    return np.bincount(idx[mask], minlength=grid.size) > 0


def cells_to_choose(study_cells: int, area_fraction: float) -> int:
    """How many cells make up `area_fraction` of a study area of `study_cells` cells."""
    if not 0 < area_fraction <= 1:
        raise ValueError("area_fraction must be in (0, 1]")
    if study_cells <= 0:
        return 0
    return min(study_cells, max(1, round(area_fraction * study_cells)))


def cells_for_area(
    study_cells: int, area_fraction: float, *, study_cell_m: float, cell_m: float
) -> int:
    """How many `cell_m` cells make up `area_fraction` of a study area of `study_cells` cells
    of `study_cell_m`: round(area_fraction × study area / cell area), at least one. With equal
    cell sizes this is `cells_to_choose`."""
    if not 0 < area_fraction <= 1:
        raise ValueError("area_fraction must be in (0, 1]")
    if study_cells <= 0:
        return 0
    return max(1, round(area_fraction * study_cells * (study_cell_m / cell_m) ** 2))


def rank_cells(
    scores: NDArray[np.float64],
    study: NDArray[np.bool_],
    area_fraction: float,
    *,
    count: int | None = None,
) -> NDArray[np.int64]:
    """Flat indices of the chosen cells, best first: the top `study` cells by score (ties
    broken by cell index, so the result is deterministic). `count` cells if given (at most
    all candidates), else `cells_to_choose(candidates, area_fraction)`."""
    candidates = np.flatnonzero(study)
    if count is None:
        k = cells_to_choose(len(candidates), area_fraction)
    else:
        k = min(count, len(candidates))
    order = np.lexsort((candidates, -scores[candidates]))
    chosen: NDArray[np.int64] = candidates[order[:k]].astype(np.int64)
    return chosen


@dataclass(frozen=True, eq=False)
class _Layer:
    """A method's cells relative to the study grid: `grid` (the method's cell size), the cell of
    each point, and for each cell the study-grid cell holding its centre (-1 = none)."""

    grid: Grid
    idx: NDArray[np.int64]
    parent: NDArray[np.int64]


def _layer(points: Points, study_grid: Grid, study_idx: NDArray[np.int64], cell_m: float) -> _Layer:
    if cell_m == study_grid.cell_m:
        return _Layer(study_grid, study_idx, np.arange(study_grid.size, dtype=np.int64))
    grid = Grid.spanning(study_grid, cell_m)
    cx, cy = grid.centres()
    return _Layer(grid, grid.flat_index(points.x, points.y), study_grid.flat_index(cx, cy))


class PointMethod(Protocol):
    """A scoring rule that is not a cell count (kernel density, self-exciting process, …;
    services/aggregate/forecast_points.py). It scores the cells of its own grid from the
    incidents before the cut-off, through a `ScoreView`."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> str: ...

    def cell_size(self, study_cell_m: float) -> float: ...

    def scores(self, view: ScoreView, cut: np.datetime64) -> NDArray[np.float64]: ...


AnyMethod = Method | PointMethod


@dataclass(eq=False)
class ScoreView:
    """What a `PointMethod` sees: the incidents, its grid (`layer`), the study area, the area
    budget, and a cache that lives as long as one `evaluate` (or `forecast`) call, so a
    rolling evaluation can reuse work from week to week (kernel maps per week of data, the
    previous week's fit)."""

    points: Points
    layer: _Layer
    study_grid: Grid
    study_idx: NDArray[np.int64]
    area_fraction: float
    cache: dict[Any, Any] = field(default_factory=dict)
    # Shared by the views of all cell sizes in one call (work that does not depend on the
    # method's cells, e.g. a point process fitted on the positions).
    shared: dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.order = np.argsort(self.points.t, kind="stable")
        self.t_sorted = self.points.t[self.order]
        g = self.layer.grid
        self.x_edges = np.asarray((g.ix0 + np.arange(g.nx + 1)) * g.cell_m, np.float64)
        self.y_edges = np.asarray((g.iy0 + np.arange(g.ny + 1)) * g.cell_m, np.float64)
        self.first = self.t_sorted[0] if len(self.t_sorted) else np.datetime64("NaT")

    @classmethod
    def over(
        cls,
        points: Points,
        *,
        cell_m: float | None = None,
        study_cell_m: float = DEFAULT_CELL_M,
        area_fraction: float = DEFAULT_AREA_FRACTION,
    ) -> ScoreView:
        """A view of all `points` on cells of `cell_m` (default: the study grid's), as
        `evaluate` builds it: for scoring one method at several cut-offs."""
        grid = Grid.covering(points, study_cell_m)
        idx = grid.flat_index(points.x, points.y)
        layer = _layer(points, grid, idx, study_cell_m if cell_m is None else cell_m)
        return cls(points, layer, grid, idx, area_fraction)

    def between(self, lo: np.datetime64, hi: np.datetime64) -> NDArray[np.int64]:
        """Indices of the incidents with lo <= t < hi, in time order."""
        a, b = np.searchsorted(self.t_sorted, [lo, hi], side="left")
        out: NDArray[np.int64] = self.order[a:b]
        return out

    def days(self, idx: NDArray[np.int64], cut: np.datetime64) -> NDArray[np.float64]:
        """Age in days at `cut` of the incidents `idx`."""
        out: NDArray[np.float64] = (cut - self.points.t[idx]).astype(np.float64) / 86400.0
        return out

    def weeks_of_history(self, cut: np.datetime64, window_weeks: int) -> float:
        """Weeks between the first incident and `cut`, at most `window_weeks`."""
        span = float((cut - self.first).astype(np.float64)) / _SECONDS_PER_WEEK
        return max(1.0, min(float(window_weeks), span))

    def study(self, cut: np.datetime64) -> NDArray[np.bool_]:
        key = ("study", cut)
        if key not in self.cache:
            self.cache[key] = _study(self.points.t, self.study_idx, self.study_grid, cut)
        out: NDArray[np.bool_] = self.cache[key]
        return out

    def choose(self, scores: NDArray[np.float64], cut: np.datetime64) -> NDArray[np.int64]:
        """The cells chosen with these scores at `cut` (the same rule as for the counts)."""
        study = self.study(cut)
        inside = self.layer.parent >= 0
        candidates = inside & study[np.where(inside, self.layer.parent, 0)]
        count = cells_for_area(
            int(study.sum()),
            self.area_fraction,
            study_cell_m=self.study_grid.cell_m,
            cell_m=self.layer.grid.cell_m,
        )
        return rank_cells(scores, candidates, self.area_fraction, count=count)

    def hits(self, scores: NDArray[np.float64], cut: np.datetime64) -> int:
        """How many incidents of the week starting `cut` fall in the cells chosen with
        `scores`: what cross-validation on past weeks counts."""
        chosen = self.choose(scores, cut)
        selected = np.zeros(self.layer.grid.size + 1, dtype=bool)  # the last entry: index -1
        selected[chosen] = True
        week = self.between(cut, cut + _WEEK)
        return int(selected[self.layer.idx[week]].sum())


def _choose(
    points: Points,
    layer: _Layer,
    study_grid: Grid,
    study_idx: NDArray[np.int64],
    study: NDArray[np.bool_],
    cut: np.datetime64,
    method: AnyMethod,
    area_fraction: float,
    view: ScoreView | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The chosen cells of `layer.grid` (best first) and the scores of all its cells.

    Candidates are the cells whose centre lies in a study-area cell. Their number is set by
    area: round(area_fraction × study km² / cell km²), so every cell size gets the same budget.
    """
    if not isinstance(method, Method):
        if view is None:
            view = ScoreView(points, layer, study_grid, study_idx, area_fraction)
        scores = np.asarray(method.scores(view, cut), dtype=np.float64)
        return view.choose(scores, cut), scores
    scores = _scores(points, layer.idx, layer.grid, cut, method)
    inside = layer.parent >= 0
    parent = np.where(inside, layer.parent, 0)
    if method.shrink:
        coarse = Method(
            "parent", half_life_weeks=method.half_life_weeks, window_weeks=method.window_weeks
        )
        parent_scores = _scores(points, study_idx, study_grid, cut, coarse)
        per_parent = (study_grid.cell_m / layer.grid.cell_m) ** 2
        scores = scores + np.where(inside, method.shrink * parent_scores[parent] / per_parent, 0.0)
    candidates = inside & study[parent]
    count = cells_for_area(
        int(study.sum()), area_fraction, study_cell_m=study_grid.cell_m, cell_m=layer.grid.cell_m
    )
    return rank_cells(scores, candidates, area_fraction, count=count), scores


# ---------------------------------------------------------------------------------------------
# Forecast


@dataclass(frozen=True)
class Cell:
    """One forecast hotspot: a `cell_m` square with lower-left corner (x0, y0) in `epsg`."""

    rank: int
    score: float
    x0: float
    y0: float
    cell_m: float
    epsg: int

    def ring_xy(self) -> list[tuple[float, float]]:
        """The square's closed ring (counter-clockwise) in the metric CRS."""
        x0, y0, s = self.x0, self.y0, self.cell_m
        return [(x0, y0), (x0 + s, y0), (x0 + s, y0 + s), (x0, y0 + s), (x0, y0)]


@dataclass(frozen=True)
class Forecast:
    """The ranked cells plus what a reader needs to interpret them. `cell_m` is the size of
    the chosen cells; the study area is `study_cells` cells of `study_cell_m`."""

    cells: list[Cell]
    method: AnyMethod
    until: datetime
    cell_m: float
    epsg: int
    study_cells: int
    training_incidents: int
    study_cell_m: float = DEFAULT_CELL_M

    @property
    def study_km2(self) -> float:
        return self.study_cells * (self.study_cell_m / 1000) ** 2

    @property
    def chosen_km2(self) -> float:
        return len(self.cells) * (self.cell_m / 1000) ** 2

    @property
    def area_share(self) -> float:
        return self.chosen_km2 / self.study_km2 if self.study_cells else 0.0


def forecast_details(
    points: Points,
    until: TimeLike,
    *,
    method: AnyMethod | str = DEFAULT_METHOD,
    cell_m: float = DEFAULT_CELL_M,
    area_fraction: float = DEFAULT_AREA_FRACTION,
) -> Forecast:
    """`forecast`, with the study-area size and the number of incidents it was trained on."""
    m = parse_method(method) if isinstance(method, str) else method
    cells_to_choose(1, area_fraction)  # validates area_fraction
    cut = _as_datetime64(until)
    training = points.select(points.t < cut)
    if not len(training):
        raise ValueError(f"no incidents before {cut}: nothing to forecast from")
    study_grid = Grid.covering(training, cell_m)
    study_idx = study_grid.flat_index(training.x, training.y)
    study = _study(training.t, study_idx, study_grid, cut)
    layer = _layer(training, study_grid, study_idx, m.cell_size(study_grid.cell_m))
    chosen, scores = _choose(training, layer, study_grid, study_idx, study, cut, m, area_fraction)
    cells = []
    for rank, flat in enumerate(chosen, start=1):
        x0, y0 = layer.grid.lower_left(int(flat))
        cells.append(Cell(rank, float(scores[flat]), x0, y0, layer.grid.cell_m, points.epsg))
    window_weeks = getattr(m, "window_weeks", WINDOW_WEEKS)
    in_window = training.t >= cut - window_weeks * _WEEK
    return Forecast(
        cells=cells,
        method=m,
        until=cut.astype(datetime),
        cell_m=layer.grid.cell_m,
        epsg=points.epsg,
        study_cells=int(study.sum()),
        training_incidents=int(in_window.sum()),
        study_cell_m=study_grid.cell_m,
    )


def forecast(
    points: Points,
    until: TimeLike,
    *,
    method: AnyMethod | str = DEFAULT_METHOD,
    cell_m: float = DEFAULT_CELL_M,
    area_fraction: float = DEFAULT_AREA_FRACTION,
) -> list[Cell]:
    """Hotspot cells for the week starting `until`, ranked by score (rank 1 = hottest),
    covering ≈ `area_fraction` of the study area (within half a cell). Only incidents before
    `until` are used. `cell_m` is the study grid's cell size, and the cell size of methods
    that do not set their own (`Method.cell_m`)."""
    return forecast_details(
        points, until, method=method, cell_m=cell_m, area_fraction=area_fraction
    ).cells


def cells_to_geojson(
    cells: Sequence[Cell], *, method: str, properties: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the cells as WGS84 polygons (lon, lat; 7 decimals ≈ 1 cm)
    with properties rank, score, method, cell_m. `properties` become foreign members of the
    collection (e.g. until, area_fraction)."""
    transformers: dict[int, Transformer] = {}
    features = []
    for cell in cells:
        tr = transformers.get(cell.epsg)
        if tr is None:
            tr = transformers[cell.epsg] = Transformer.from_crs(
                cell.epsg, WGS84_EPSG, always_xy=True
            )
        xs, ys = zip(*cell.ring_xy(), strict=True)
        lons, lats = tr.transform(xs, ys)
        ring = [
            [round(float(lo), 7), round(float(la), 7)] for lo, la in zip(lons, lats, strict=True)
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "rank": cell.rank,
                    "score": round(cell.score, 6),
                    "method": method,
                    "cell_m": cell.cell_m,
                    "x0": cell.x0,
                    "y0": cell.y0,
                    "crs": f"EPSG:{cell.epsg}",
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", **dict(properties or {}), "features": features}


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class MethodWeek:
    """One method's result for one week. hit_rate and pai are NaN in a week without incidents."""

    hits: int
    chosen_cells: int  # of `cell_m`
    study_cells: int  # of `study_cell_m`
    hit_rate: float
    pai: float
    cell_m: float = DEFAULT_CELL_M
    study_cell_m: float = DEFAULT_CELL_M

    @property
    def study_km2(self) -> float:
        return self.study_cells * (self.study_cell_m / 1000) ** 2

    @property
    def chosen_km2(self) -> float:
        return self.chosen_cells * (self.cell_m / 1000) ** 2

    @property
    def area_share(self) -> float:
        return self.chosen_km2 / self.study_km2 if self.study_cells else math.nan


@dataclass(frozen=True)
class WeekResult:
    week: str  # ISO week of the Monday, e.g. "2020-W28"
    start: date  # that Monday
    n_incidents: int
    methods: dict[str, MethodWeek] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    weeks: int  # weeks with at least one incident (the ones averaged)
    mean_hit_rate: float
    mean_pai: float
    hits: int
    incidents: int

    @property
    def pooled_hit_rate(self) -> float:
        return self.hits / self.incidents if self.incidents else math.nan


def week_starts(start: date, end: date) -> list[date]:
    """The Mondays in [start, end): the ISO weeks evaluated."""
    first = start + timedelta(days=(7 - start.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range(max(0, (end - first).days + 6) // 7)]


def evaluate(
    points: Points,
    *,
    start: date,
    end: date,
    area_fraction: float = DEFAULT_AREA_FRACTION,
    methods: Sequence[AnyMethod | str] = ("baseline", *EVALUATE_METHODS),
    cell_m: float = DEFAULT_CELL_M,
    progress: Callable[[int, int], None] | None = None,
) -> list[WeekResult]:
    """Rolling weekly evaluation over the ISO weeks whose Monday lies in [start, end).

    For each week: train on every incident before its Monday, choose the cells, and count the
    week's incidents inside them. hit rate = hits / incidents; PAI = hit rate / (chosen km² /
    study-area km²). The study area is always made of `cell_m` cells (the ones with an incident
    before the week), whatever cell size a method chooses with (`Method.cell_m`), so the
    methods' PAI figures are comparable. `progress(done, total)` is called after each week.
    """
    parsed = [parse_method(m) if isinstance(m, str) else m for m in methods]
    names = [m.name for m in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique: {names}")
    cells_to_choose(1, area_fraction)  # validates area_fraction
    mondays = week_starts(start, end)
    if not len(points):
        raise ValueError("no incidents to evaluate on")
    grid = Grid.covering(points, cell_m)
    idx = grid.flat_index(points.x, points.y)
    layers: dict[float, _Layer] = {}
    views: dict[float, ScoreView] = {}
    shared: dict[Any, Any] = {}
    for method in parsed:
        size = method.cell_size(grid.cell_m)
        if size not in layers:
            layers[size] = _layer(points, grid, idx, size)
            views[size] = ScoreView(points, layers[size], grid, idx, area_fraction, shared=shared)
    results: list[WeekResult] = []
    for n, monday in enumerate(mondays, start=1):
        cut = np.datetime64(monday, "s")
        in_week = (points.t >= cut) & (points.t < cut + _WEEK)
        n_week = int(in_week.sum())
        study = _study(points.t, idx, grid, cut)
        n_study = int(study.sum())
        per_method: dict[str, MethodWeek] = {}
        for method in parsed:
            size = method.cell_size(grid.cell_m)
            layer = layers[size]
            chosen, _ = _choose(
                points, layer, grid, idx, study, cut, method, area_fraction, views[size]
            )
            selected = np.zeros(layer.grid.size + 1, dtype=bool)  # the last entry: index -1
            selected[chosen] = True
            hits = int(selected[layer.idx[in_week]].sum())
            area = MethodWeek(
                hits, len(chosen), n_study, math.nan, math.nan, layer.grid.cell_m, grid.cell_m
            )
            hit_rate = hits / n_week if n_week else math.nan
            pai = hit_rate / area.area_share if n_week and n_study else math.nan
            per_method[method.name] = MethodWeek(
                hits, len(chosen), n_study, hit_rate, pai, layer.grid.cell_m, grid.cell_m
            )
        year, week, _ = monday.isocalendar()
        results.append(WeekResult(f"{year}-W{week:02d}", monday, n_week, per_method))
        if progress is not None:
            progress(n, len(mondays))
    return results


def summarize(results: Sequence[WeekResult]) -> dict[str, Summary]:
    """Mean weekly hit rate and PAI per method (over weeks with incidents and a study area)."""
    out: dict[str, Summary] = {}
    names = [name for r in results[:1] for name in r.methods]
    for name in names:
        weeks = [r.methods[name] for r in results if not math.isnan(r.methods[name].pai)]
        counted = [r for r in results if not math.isnan(r.methods[name].pai)]
        out[name] = Summary(
            weeks=len(weeks),
            mean_hit_rate=float(np.mean([w.hit_rate for w in weeks])) if weeks else math.nan,
            mean_pai=float(np.mean([w.pai for w in weeks])) if weeks else math.nan,
            hits=sum(w.hits for w in weeks),
            incidents=sum(r.n_incidents for r in counted),
        )
    return out


@dataclass(frozen=True)
class TuneResult:
    """A tuning candidate: its summary and its weekly PAI gain over the baseline."""

    method: AnyMethod
    summary: Summary
    gain: float  # mean over weeks of (candidate PAI - baseline PAI)
    gain_se: float  # standard error of that mean (paired over weeks)

    @property
    def lower_bound(self) -> float:
        """gain - 1 SE: the criterion candidates are ranked by."""
        return self.gain - self.gain_se


def tune(
    points: Points,
    *,
    start: date,
    end: date,
    half_lives: Sequence[float | None],
    neighbour_weights: Sequence[float],
    kernels_m: Sequence[float] = (0.0,),
    area_fraction: float = DEFAULT_AREA_FRACTION,
    cell_m: float = DEFAULT_CELL_M,
) -> list[TuneResult]:
    """Grid search over half-life (None = no decay) × neighbour weight × position kernel σ
    (0 = none) on the weeks in [start, end), best first.

    The criterion is robust rather than greedy: the mean weekly PAI gain over the baseline
    minus one standard error of that (paired) gain. A candidate that wins big in a few weeks
    and loses in others ranks below one that wins a little, steadily. Ties keep grid order.
    """
    candidates = [
        Method(
            f"hl={'inf' if hl is None else f'{hl:g}'},nw={nw:g}" + (f",ks={ks:g}" if ks else ""),
            half_life_weeks=hl,
            neighbour_weight=nw,
            kernel_m=ks,
        )
        for hl in half_lives
        for nw in neighbour_weights
        for ks in kernels_m
    ]
    return rank_candidates(
        points,
        start=start,
        end=end,
        candidates=candidates,
        area_fraction=area_fraction,
        cell_m=cell_m,
    )


def rank_candidates(
    points: Points,
    *,
    start: date,
    end: date,
    candidates: Sequence[AnyMethod],
    area_fraction: float = DEFAULT_AREA_FRACTION,
    cell_m: float = DEFAULT_CELL_M,
) -> list[TuneResult]:
    """Evaluate `candidates` on the weeks in [start, end) against the baseline (the plain
    52-week count on `cell_m` cells, which also define the study area), best first by mean
    weekly paired PAI gain minus one SE. Ties keep the given order."""
    reference = Method("__baseline__")
    weeks = evaluate(
        points,
        start=start,
        end=end,
        area_fraction=area_fraction,
        methods=[reference, *candidates],
        cell_m=cell_m,
    )
    summary = summarize(weeks)
    scored = [r for r in weeks if not math.isnan(r.methods[reference.name].pai)]
    results = []
    for method in candidates:
        diff = np.array(
            [r.methods[method.name].pai - r.methods[reference.name].pai for r in scored]
        )
        gain = float(diff.mean()) if len(diff) else math.nan
        se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
        results.append(TuneResult(method, summary[method.name], gain, se))
    order = sorted(
        range(len(results)),
        key=lambda i: (
            -results[i].lower_bound if not math.isnan(results[i].lower_bound) else math.inf,
            i,
        ),
    )
    return [results[i] for i in order]


@dataclass(frozen=True)
class Gain:
    """Paired weekly PAI gain of one method over a reference (weeks where both have a PAI)."""

    mean: float
    se: float  # standard error of the mean (NaN with fewer than 2 weeks)
    better: int  # weeks with a higher PAI than the reference
    worse: int

    @property
    def z(self) -> float:
        return self.mean / self.se if self.se else math.nan


def paired_gain(results: Sequence[WeekResult], name: str, reference: str = "baseline") -> Gain:
    """Mean weekly PAI gain of method `name` over `reference`, with its SE and the number of
    weeks it was better / worse."""
    diff = np.array(
        [
            r.methods[name].pai - r.methods[reference].pai
            for r in results
            if not (math.isnan(r.methods[name].pai) or math.isnan(r.methods[reference].pai))
        ]
    )
    if not len(diff):
        return Gain(math.nan, math.nan, 0, 0)
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
    return Gain(float(diff.mean()), se, int((diff > 1e-12).sum()), int((diff < -1e-12).sum()))


# ---------------------------------------------------------------------------------------------
# Comparison against the references (the 250 m count and the count on the method's own cells)


def size_label(cell_m: float) -> str:
    """A cell size for names: "83.3", "125", "250"."""
    return f"{cell_m:.1f}" if abs(cell_m - round(cell_m)) > 1e-9 else f"{cell_m:g}"


def own_cell_count(method: AnyMethod, study_cell_m: float = DEFAULT_CELL_M) -> Method:
    """The plain 52-week count on the method's own cell size: what a method must beat to show
    that its gain is more than the cell size. At the study cell size this is the baseline."""
    size = method.cell_size(study_cell_m)
    if size == study_cell_m:
        return BASELINE
    return Method(f"count {size_label(size)} m", cell_m=size)


def with_references(
    methods: Sequence[AnyMethod], study_cell_m: float = DEFAULT_CELL_M
) -> tuple[list[AnyMethod], dict[str, str]]:
    """The methods with the baseline first and the own-cell count of each method added (once
    per size), and for each method the name of its own-cell reference. A method that is
    itself the plain count on its cells is its own reference."""
    out: list[AnyMethod] = [BASELINE]
    by_spec: dict[str, str] = {_spec_at(BASELINE, study_cell_m): BASELINE.name}
    for m in methods:
        if m.name != BASELINE.name:
            out.append(m)
        by_spec.setdefault(_spec_at(m, study_cell_m), m.name)
    reference: dict[str, str] = {}
    for m in list(out):
        own = own_cell_count(m, study_cell_m)
        key = _spec_at(own, study_cell_m)
        if key not in by_spec:
            out.append(own)
            by_spec[key] = own.name
            reference[own.name] = own.name
        reference[m.name] = by_spec[key]
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique: {names}")
    return out, reference


def _spec_at(method: AnyMethod, study_cell_m: float) -> str:
    """The method's spec with its cell size made explicit (so "baseline" at 250 m and
    "hl=inf,…,cell=250" compare equal)."""
    if isinstance(method, Method) and method.cell_m is None:
        method = dataclasses.replace(method, cell_m=study_cell_m)
    return method.spec


@dataclass(frozen=True)
class Versus:
    """A method against a reference on the same weeks: the paired weekly PAI gain and the
    ratio of the mean weekly hit rates (method / reference)."""

    reference: str
    gain: Gain
    hit_ratio: float


def versus(results: Sequence[WeekResult], name: str, reference: str) -> Versus:
    summary = summarize(results)
    ref = summary[reference].mean_hit_rate
    ratio = summary[name].mean_hit_rate / ref if ref else math.nan
    return Versus(reference, paired_gain(results, name, reference), ratio)
