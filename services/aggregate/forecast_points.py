"""Forecast methods made for point data (docs/forecast.md, "Fourth round: GPS-like points"):
a kernel density with its bandwidth chosen by cross-validation on past weeks (`KdeMethod`),
a long-term density plus recent near-repeats (`BlendMethod`), and a self-exciting point
process fitted by EM (`EtasMethod`, services/aggregate/forecast_etas.py). Pure functions: no
I/O, no clock.

Each method scores the cells of its own grid (`cell_m`, default the study grid's) with the
expected number of incidents in the coming week (up to a constant factor for `KdeMethod`),
and the cells are then chosen exactly as for the counts (same study area, same km² budget:
`ScoreView.choose`). They work on the positions, not on cell counts: a kernel integrated over
each cell, so an incident 10 m from a cell edge counts on both sides in proportion.

Work that does not depend on the cut-off is cached in the `ScoreView` (one per `evaluate`
call and cell size): the kernel map of each week of data per bandwidth, the candidate
(parent, child) pairs of the point process, and the previous week's fit as the next one's
starting point.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.aggregate import forecast_etas as etas
from services.aggregate.forecast import (
    _WEEK,
    WINDOW_WEEKS,
    ScoreView,
    _format_length,
    _parse_length,
)
from services.aggregate.forecast_kde import blur, kde_cells, pixel_kernel

HORIZON_DAYS = 7.0
# Bandwidths (σ of the Gaussian kernel, metres) the cross-validation chooses from.
CV_BANDWIDTHS_M = (10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 160.0)
CV_WEEKS = 4


def _fmt(value: float) -> str:
    return f"{value:g}"


def _cell_part(cell_m: float | None) -> str:
    return "" if cell_m is None else f",cell={_format_length(cell_m)}"


# ---------------------------------------------------------------------------------------------
# Kernel density


def _slab(view: ScoreView, start: np.datetime64, sigma: float) -> NDArray[np.float64]:
    """Kernel map (flat, per cell) of the incidents in the week [start, start + 7 days)."""
    key = ("kde-slab", sigma, start)
    cached = view.cache.get(key)
    if cached is not None:
        out: NDArray[np.float64] = cached
        return out
    idx = view.between(start, start + _WEEK)
    grid = view.layer.grid
    if sigma == 0:
        cells = view.layer.idx[idx]
        counts = np.bincount(cells[cells >= 0], minlength=grid.size)
        made: NDArray[np.float64] = np.asarray(counts, dtype=np.float64)
    else:
        p = view.points
        made = kde_cells(p.x[idx], p.y[idx], None, view.x_edges, view.y_edges, sigma).ravel()
    view.cache[key] = made
    return made


def kde_window(
    view: ScoreView, cut: np.datetime64, sigma: float, window_weeks: int = WINDOW_WEEKS
) -> NDArray[np.float64]:
    """Kernel density (σ metres) of the incidents in the `window_weeks` weeks before `cut`,
    integrated over each cell: the expected count per cell over the window."""
    key = ("kde-window", sigma, window_weeks, cut)
    cached = view.cache.get(key)
    if cached is not None:
        out: NDArray[np.float64] = cached
        return out
    out = np.zeros(view.layer.grid.size)
    for k in range(1, window_weeks + 1):
        start = cut - k * _WEEK
        if start + _WEEK <= view.first:
            break
        out = out + _slab(view, start, sigma)
    view.cache[key] = out
    return out


def choose_bandwidth(
    view: ScoreView,
    cut: np.datetime64,
    bandwidths: tuple[float, ...],
    cv_weeks: int,
    window_weeks: int = WINDOW_WEEKS,
) -> float:
    """The bandwidth whose forecasts would have caught the most incidents in the `cv_weeks`
    weeks before `cut` (each of those weeks forecast from the data before it, the same area
    budget). Ties go to the larger bandwidth; with no past week to check, the middle one."""
    ordered = sorted(bandwidths)
    if len(ordered) == 1:
        return ordered[0]
    key = ("kde-bandwidth", tuple(ordered), cv_weeks, window_weeks, cut)
    cached = view.cache.get(key)
    if cached is not None:
        return float(cached)
    totals = np.zeros(len(ordered))
    used = 0
    for k in range(1, cv_weeks + 1):
        past = cut - k * _WEEK
        if past <= view.first:
            break
        used += 1
        for n, h in enumerate(ordered):
            hkey = ("kde-hits", h, window_weeks, past)
            if hkey not in view.cache:
                view.cache[hkey] = view.hits(kde_window(view, past, h, window_weeks), past)
            totals[n] += view.cache[hkey]
    if used == 0:
        best = ordered[len(ordered) // 2]
    else:
        best = ordered[int(np.flatnonzero(totals == totals.max())[-1])]
    view.cache[key] = best
    view.cache.setdefault("kde-chosen", {})[(tuple(ordered), cv_weeks, cut)] = best
    return best


@dataclass(frozen=True)
class KdeMethod:
    """Gaussian kernel density of the last `window_weeks` weeks, integrated over each cell.
    With several bandwidths, the one that did best on the `cv_weeks` weeks before each cut-off
    is used (cross-validation on past weeks, `choose_bandwidth`)."""

    name: str
    bandwidths_m: tuple[float, ...] = CV_BANDWIDTHS_M
    cv_weeks: int = CV_WEEKS
    cell_m: float | None = None
    window_weeks: int = WINDOW_WEEKS

    def __post_init__(self) -> None:
        _check_bandwidths(self.bandwidths_m)
        _check_common(self.cell_m, self.window_weeks)
        if self.cv_weeks < 1:
            raise ValueError("cv must be >= 1")

    @property
    def spec(self) -> str:
        hs = "/".join(_fmt(h) for h in self.bandwidths_m)
        cv = f",cv={self.cv_weeks}" if len(self.bandwidths_m) > 1 else ""
        return f"kde:h={hs}{cv}{_cell_part(self.cell_m)},window={self.window_weeks}"

    def cell_size(self, study_cell_m: float) -> float:
        return study_cell_m if self.cell_m is None else self.cell_m

    def scores(self, view: ScoreView, cut: np.datetime64) -> NDArray[np.float64]:
        h = choose_bandwidth(view, cut, self.bandwidths_m, self.cv_weeks, self.window_weeks)
        weeks = view.weeks_of_history(cut, self.window_weeks)
        out: NDArray[np.float64] = kde_window(view, cut, h, self.window_weeks) / weeks
        return out


@dataclass(frozen=True)
class BlendMethod:
    """The long-term density per week (`KdeMethod`, bandwidth by cross-validation) plus
    `alpha` × the recent near-repeats: each incident of the last `nr_weeks` weeks, weighted
    by e^(-age / `nr_tau_days`), spread with a Gaussian of `nr_sigma_m` metres. With alpha = 1
    an incident that has just happened adds one expected incident to the cells around it."""

    name: str
    alpha: float = 0.1
    nr_sigma_m: float = 100.0
    nr_tau_days: float = 7.0
    nr_weeks: int = 4
    bandwidths_m: tuple[float, ...] = CV_BANDWIDTHS_M
    cv_weeks: int = CV_WEEKS
    cell_m: float | None = None
    window_weeks: int = WINDOW_WEEKS

    def __post_init__(self) -> None:
        _check_bandwidths(self.bandwidths_m)
        _check_common(self.cell_m, self.window_weeks)
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError("alpha must be >= 0")
        if not (math.isfinite(self.nr_sigma_m) and self.nr_sigma_m > 0):
            raise ValueError("nr must be > 0 metres")
        if not (math.isfinite(self.nr_tau_days) and self.nr_tau_days > 0):
            raise ValueError("tau must be > 0 days")
        if self.nr_weeks < 1 or self.cv_weeks < 1:
            raise ValueError("nrw and cv must be >= 1")

    @property
    def spec(self) -> str:
        hs = "/".join(_fmt(h) for h in self.bandwidths_m)
        return (
            f"blend:alpha={_fmt(self.alpha)},nr={_fmt(self.nr_sigma_m)},"
            f"tau={_fmt(self.nr_tau_days)},nrw={self.nr_weeks},h={hs},cv={self.cv_weeks}"
            f"{_cell_part(self.cell_m)},window={self.window_weeks}"
        )

    def cell_size(self, study_cell_m: float) -> float:
        return study_cell_m if self.cell_m is None else self.cell_m

    def scores(self, view: ScoreView, cut: np.datetime64) -> NDArray[np.float64]:
        h = choose_bandwidth(view, cut, self.bandwidths_m, self.cv_weeks, self.window_weeks)
        weeks = view.weeks_of_history(cut, self.window_weeks)
        long_term = kde_window(view, cut, h, self.window_weeks) / weeks
        if not self.alpha:
            return long_term
        idx = view.between(cut - self.nr_weeks * _WEEK, cut)
        weight = np.exp(-view.days(idx, cut) / self.nr_tau_days)
        p = view.points
        recent = kde_cells(
            p.x[idx], p.y[idx], weight, view.x_edges, view.y_edges, self.nr_sigma_m
        ).ravel()
        out: NDArray[np.float64] = long_term + self.alpha * recent
        return out


# ---------------------------------------------------------------------------------------------
# Self-exciting point process (ETAS-style)

TRIGGERS = ("cell", "gauss")
BACKGROUND_PIXEL_M = 250.0 / 6  # the largest raster pixel for the "gauss" background


@dataclass(frozen=True)
class EtasMethod:
    """λ(s, t) = μ(s) + Σ θ ω e^{-ω (t - t_j)} g(s - s_j), fitted by EM on the last
    `window_weeks` weeks (services/aggregate/forecast_etas.py). trigger "cell": μ constant per
    cell and triggering within the parent's cell (Mohler et al. 2015); "gauss": a Gaussian
    trigger of `trigger_sigma_m` metres and a background density with bandwidth
    `background_m` metres. A cell's score is the expected number of incidents in it in the
    next 7 days: background plus what the recent incidents trigger."""

    name: str
    trigger: str = "cell"
    trigger_sigma_m: float = 50.0
    background_m: float = 100.0
    max_lag_days: float = 56.0
    cell_m: float | None = None
    window_weeks: int = WINDOW_WEEKS
    max_iter: int = 200
    tol: float = 1e-3  # relative change of θ and ω; 1e-4 and 1e-5 chose the same cells

    def __post_init__(self) -> None:
        _check_common(self.cell_m, self.window_weeks)
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}")
        for value, what in (
            (self.trigger_sigma_m, "ts"),
            (self.background_m, "bg"),
            (self.max_lag_days, "lag"),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{what} must be > 0")
        if self.max_iter < 1 or not self.tol > 0:
            raise ValueError("max_iter must be >= 1 and tol > 0")

    @property
    def spec(self) -> str:
        form = (
            f"trigger=gauss,ts={_fmt(self.trigger_sigma_m)},bg={_fmt(self.background_m)}"
            if self.trigger == "gauss"
            else "trigger=cell"
        )
        return (
            f"etas:{form},lag={_fmt(self.max_lag_days)}{_cell_part(self.cell_m)},"
            f"window={self.window_weeks}"
        )

    def cell_size(self, study_cell_m: float) -> float:
        return study_cell_m if self.cell_m is None else self.cell_m

    # -- the pieces, cached in the view

    def _pairs(self, view: ScoreView) -> etas.Pairs:
        key: tuple[Any, ...]
        if self.trigger == "cell":  # depends on the method's cells
            cache, key = view.cache, ("etas-pairs-cell", self.max_lag_days)
        else:  # on the positions only: the same for every cell size
            cache, key = view.shared, ("etas-pairs", self.trigger_sigma_m, self.max_lag_days)
        cached = cache.get(key)
        if cached is not None:
            pairs: etas.Pairs = cached
            return pairs
        p = view.points
        days = (p.t - view.first).astype(np.float64) / 86400.0
        if self.trigger == "cell":
            pairs = etas.cell_pairs(days, view.layer.idx, self.max_lag_days)
        else:
            pairs = etas.near_pairs(days, p.x, p.y, 4 * self.trigger_sigma_m, self.max_lag_days)
        cache[key] = pairs
        return pairs

    def _fit(self, view: ScoreView, cut: np.datetime64) -> _Fitted:
        """The EM fit on the window before `cut`. Form "gauss" does not depend on the cell
        size (its raster has the same pixels for 83⅓, 125 and 250 m cells), so views of
        different cell sizes in one evaluation share it."""
        grid = view.layer.grid
        raster = _Raster(view, self.background_m) if self.trigger == "gauss" else None
        model: tuple[Any, ...]
        if raster is None:
            cache, model = view.cache, ("cell", self.max_lag_days)
        else:
            cache = view.shared
            model = (
                "gauss",
                self.trigger_sigma_m,
                self.background_m,
                self.max_lag_days,
                raster.q,
                raster.x0,
                raster.y0,
                raster.nx,
                raster.ny,
            )
        state = (model, self.window_weeks, self.max_iter, self.tol)
        fit_key = ("etas-fit", state, cut)
        cached = cache.get(fit_key)
        if cached is not None:
            done: _Fitted = cached
            return done
        lo = max(cut - self.window_weeks * _WEEK, view.first)
        idx = view.between(lo, cut)
        n = len(idx)
        span = max(float((cut - lo).astype(np.float64)) / 86400.0, 1.0)
        new_index = np.full(len(view.points), -1, dtype=np.int64)
        new_index[idx] = np.arange(n)
        pairs = self._pairs(view)
        keep = (new_index[pairs.child] >= 0) & (new_index[pairs.parent] >= 0)
        sub = pairs.subset(keep, new_index)
        age = view.days(idx, cut)
        cells = view.layer.idx[idx]
        area = grid.cell_m**2
        if raster is None:
            g = np.full(len(sub), 1.0 / area)
            on_grid = cells >= 0
            safe = np.where(on_grid, cells, 0)

            def background(p_bg: NDArray[np.float64]) -> NDArray[np.float64]:
                per_cell = np.bincount(safe, weights=np.where(on_grid, p_bg, 0.0))
                out: NDArray[np.float64] = per_cell[safe] / (span * area)
                return out

        else:
            g = etas.gauss_density(sub.d2, self.trigger_sigma_m)
            px, py = raster.pixels(view, idx)
            r = raster

            def background(p_bg: NDArray[np.float64]) -> NDArray[np.float64]:
                return r.density_at(px, py, p_bg) / span

        # Start from the previous fit (a rolling evaluation goes week by week): its θ, ω and
        # the background probabilities of the incidents it saw (new ones: 1 - θ).
        start_key = ("etas-last", state)
        theta0, omega0, previous = cache.get(start_key, (0.2, 0.2, None))
        p0 = np.full(n, 1.0 - theta0)
        if previous is not None:
            known = previous[idx]
            p0 = np.where(np.isnan(known), p0, known)
        fit = etas.fit(
            n,
            sub,
            g,
            background,
            age,
            self.max_lag_days,
            theta0=theta0,
            omega0=omega0,
            p_background0=np.clip(p0, 1e-3, 1.0),
            max_iter=self.max_iter,
            tol=self.tol,
        )
        carried = np.full(len(view.points), np.nan)
        carried[idx] = fit.p_background
        cache[start_key] = (max(fit.theta, 1e-3), fit.omega, carried)
        done = _Fitted(fit, idx, age, span, raster)
        cache[fit_key] = done
        return done

    def scores(self, view: ScoreView, cut: np.datetime64) -> NDArray[np.float64]:
        grid = view.layer.grid
        f = self._fit(view, cut)
        if not len(f.idx):
            return np.zeros(grid.size)
        cells = view.layer.idx[f.idx]
        # Expected incidents per cell in the next HORIZON_DAYS: background ...
        if f.raster is None:
            on_grid = cells >= 0
            bg_cells = np.asarray(
                np.bincount(
                    cells[on_grid], weights=f.fit.p_background[on_grid], minlength=grid.size
                ),
                dtype=np.float64,
            )
        else:
            own = _Raster(view, self.background_m)  # the same pixels, this view's cells
            px, py = own.pixels(view, f.idx)
            bg_cells = own.cell_masses(view, px, py, f.fit.p_background)
        scores: NDArray[np.float64] = bg_cells * (HORIZON_DAYS / f.span)
        # ... plus what the recent incidents trigger.
        recent = f.age < self.max_lag_days
        weight = etas.trigger_weights(f.age[recent], f.fit.theta, f.fit.omega, HORIZON_DAYS)
        if f.raster is None:
            rc = cells[recent]
            ok = rc >= 0
            triggered: NDArray[Any] = np.bincount(rc[ok], weights=weight[ok], minlength=grid.size)
        else:
            p = view.points
            r = f.idx[recent]
            triggered = kde_cells(
                p.x[r], p.y[r], weight, view.x_edges, view.y_edges, self.trigger_sigma_m
            ).ravel()
        out: NDArray[np.float64] = scores + np.asarray(triggered, dtype=np.float64)
        return out


@dataclass(frozen=True, eq=False)
class _Fitted:
    fit: etas.EtasFit
    idx: NDArray[np.int64]  # the incidents of the window (time order)
    age: NDArray[np.float64]  # their age in days at the cut
    span: float  # days of the window
    raster: _Raster | None  # form "gauss": the background raster


class _Raster:
    """The method's grid cut into k × k pixels (k = the smallest with pixels of at most
    BACKGROUND_PIXEL_M metres), for a weighted Gaussian kernel density at the events (the
    background of the EM) and its mass per cell (the forecast): a separable blur of the
    per-pixel sums, events placed at their pixel's centre."""

    def __init__(self, view: ScoreView, sigma: float) -> None:
        grid = view.layer.grid
        self.k = max(1, math.ceil(grid.cell_m / BACKGROUND_PIXEL_M - 1e-9))
        self.q = grid.cell_m / self.k
        self.nx, self.ny = grid.nx * self.k, grid.ny * self.k
        self.kernel = pixel_kernel(self.q, sigma)
        self.centre = float(self.kernel[len(self.kernel) // 2])
        self.x0, self.y0 = float(view.x_edges[0]), float(view.y_edges[0])

    def pixels(
        self, view: ScoreView, idx: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        p = view.points
        px = np.clip(np.floor((p.x[idx] - self.x0) / self.q).astype(np.int64), 0, self.nx - 1)
        py = np.clip(np.floor((p.y[idx] - self.y0) / self.q).astype(np.int64), 0, self.ny - 1)
        return px, py

    def _blur(
        self, px: NDArray[np.int64], py: NDArray[np.int64], w: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        hist = np.bincount(px * self.ny + py, weights=w, minlength=self.nx * self.ny)
        grid = np.asarray(hist, dtype=np.float64).reshape(self.nx, self.ny)
        return blur(grid, self.kernel, self.kernel)

    def density_at(
        self, px: NDArray[np.int64], py: NDArray[np.int64], w: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Σ_{j ≠ i} w_j K(s_i - s_j) per m² at every event i (leave-one-out, so an event is
        not its own background)."""
        mass = self._blur(px, py, w)[px, py] - w * self.centre * self.centre
        out: NDArray[np.float64] = np.maximum(mass, 0.0) / (self.q * self.q)
        return out

    def cell_masses(
        self,
        view: ScoreView,
        px: NDArray[np.int64],
        py: NDArray[np.int64],
        w: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        grid = view.layer.grid
        blurred = self._blur(px, py, w).reshape(grid.nx, self.k, grid.ny, self.k)
        out: NDArray[np.float64] = blurred.sum(axis=(1, 3)).ravel()
        return out


# ---------------------------------------------------------------------------------------------
# Presets and parsing


def _check_bandwidths(values: tuple[float, ...]) -> None:
    if not values:
        raise ValueError("at least one bandwidth h is needed")
    if len(set(values)) != len(values):
        raise ValueError("bandwidths must be distinct")
    for h in values:
        if not (math.isfinite(h) and h >= 0):
            raise ValueError("bandwidths must be >= 0 metres")


def _check_common(cell_m: float | None, window_weeks: int) -> None:
    if cell_m is not None and not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError("cell must be positive")
    if window_weeks < 1:
        raise ValueError("window must be >= 1")


PointMethodT = KdeMethod | BlendMethod | EtasMethod

# Presets: each family's tuning winner in the fourth round (docs/forecast.md, "Fourth round:
# GPS-like points"; criterion on 2020-W06..W27 of Vancouver, snapped and jittered), and the
# cross-validated kernel density on 83⅓ m cells. None of them became the default: the winner,
# "etas" (the Mohler et al. 2015 form on 125 m cells), is level with the plain 125 m count.
POINT_METHODS: dict[str, PointMethodT] = {
    "kde": KdeMethod("kde", (60.0,), cell_m=250.0),
    "kde-cv": KdeMethod("kde-cv", CV_BANDWIDTHS_M, CV_WEEKS, cell_m=250.0 / 3),
    "blend": BlendMethod(
        "blend", alpha=0.2, nr_sigma_m=100.0, nr_tau_days=14.0, nr_weeks=4, cell_m=250.0
    ),
    "etas": EtasMethod("etas", "cell", max_lag_days=56.0, cell_m=125.0),
}


_KDE_KEYS = {"h": "bandwidths_m", "cv": "cv_weeks", "cell": "cell_m", "window": "window_weeks"}
_KEYS = {
    "kde": _KDE_KEYS,
    "kde-cv": _KDE_KEYS,
    "blend": {
        "alpha": "alpha",
        "nr": "nr_sigma_m",
        "tau": "nr_tau_days",
        "nrw": "nr_weeks",
        "h": "bandwidths_m",
        "cv": "cv_weeks",
        "cell": "cell_m",
        "window": "window_weeks",
    },
    "etas": {
        "trigger": "trigger",
        "ts": "trigger_sigma_m",
        "bg": "background_m",
        "lag": "max_lag_days",
        "cell": "cell_m",
        "window": "window_weeks",
    },
}
_INTS = {"cv_weeks", "nr_weeks", "window_weeks"}


def parse_point_method(text: str) -> PointMethodT:
    """ "kde", "blend", "etas" (the presets), optionally with parameters after a colon:
    "kde:h=20/40/80,cv=4,cell=125" (h: one bandwidth in metres, or several separated by "/"
    to choose from by cross-validation; cv: weeks it looks back), "blend:alpha=0.1,nr=100,
    tau=7,nrw=4" (near-repeat weight, its σ in metres, decay in days, weeks), "etas:trigger=
    gauss,ts=50,bg=100,lag=56" (trigger form cell|gauss, its σ, the background's bandwidth,
    the longest lag in days). cell = the method's own cell size in metres (e.g. 125 or
    250/3), window = weeks of history."""
    text = text.strip()
    family, _, params = text.partition(":")
    family = family.strip()
    if family not in POINT_METHODS:
        raise ValueError(f"unknown method {family!r}")
    base = POINT_METHODS[family]
    keys = _KEYS[family]
    changes: dict[str, object] = {}
    for part in filter(None, (q.strip() for q in params.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if key not in keys:
            raise ValueError(f"unknown parameter {key!r} for {family} (use {', '.join(keys)})")
        field_name = keys[key]
        value = value.strip()
        try:
            if not eq or not value:
                raise ValueError
            if field_name == "bandwidths_m":
                changes[field_name] = tuple(float(v) for v in value.split("/"))
            elif field_name == "cell_m":
                changes[field_name] = None if value.lower() == "none" else _parse_length(value)
            elif field_name == "trigger":
                changes[field_name] = value.lower()
            elif field_name in _INTS:
                changes[field_name] = int(value)
            else:
                changes[field_name] = float(value)
        except ValueError:
            raise ValueError(f"bad method parameter {part!r} in {text!r}") from None
    name = family if not changes else text
    return dataclasses.replace(base, name=name, **changes)  # type: ignore[arg-type]
