"""A self-exciting (ETAS-style) point process for the next-week forecast, fitted by
expectation-maximisation, as in Mohler et al. (2015, "Randomized controlled field trials of
predictive policing", JASA 110:1399) and the continuous-space model of Mohler et al. (2011,
JASA 106:100). Pure functions over numpy arrays: no I/O, no clock. Times are in days.

The conditional intensity at place s and time t is

    λ(s, t) = μ(s) + Σ_{t_j < t}  θ ω e^{-ω (t - t_j)} g(s - s_j)

* μ: the background, events per day and m². Form "cell" (Mohler 2015): constant within each
  cell of the method's grid, μ_n. Form "gauss": a kernel density of the events weighted by their
  probability of being background, with a fixed bandwidth (Mohler 2011, fixed-bandwidth variant).
* θ: expected number of events directly triggered by one event; ω: the trigger's decay rate
  per day (mean delay 1/ω days).
* g: where triggered events fall. Form "cell": anywhere in the parent's cell, uniformly
  (Mohler 2015). Form "gauss": an isotropic Gaussian of σ metres around the parent.

EM (stochastic declustering): the E-step gives each event i the probability p_i that it is
background and p_ij that event j triggered it; the M-step sets θ = Σ p_ij / Σ_j (1 - e^{-ω
r_j}) (r_j = the time left in the window after j, so events near the end are not counted as
childless), ω = Σ p_ij / Σ p_ij (t_i - t_j), and the background from the p_i. To keep it
linear in the data, j can trigger i only up to `max_lag` days later (and, form "gauss",
within 4σ), so a fitted 1/ω close to `max_lag` means the cut-off binds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Background = Callable[[NDArray[np.float64]], NDArray[np.float64]]


@dataclass(frozen=True, eq=False)
class Pairs:
    """Candidate (parent j → child i) pairs: t_j < t_i ≤ t_j + max_lag, and close in space."""

    child: NDArray[np.int64]
    parent: NDArray[np.int64]
    lag: NDArray[np.float64]  # t_i - t_j, days
    d2: NDArray[np.float64]  # squared distance, m² (0 for form "cell")

    def __len__(self) -> int:
        return len(self.child)

    def subset(self, mask: NDArray[np.bool_], new_index: NDArray[np.int64]) -> Pairs:
        """The pairs whose both ends are kept (`mask` over pairs), renumbered by `new_index`
        (old event index → new)."""
        return Pairs(
            new_index[self.child[mask]], new_index[self.parent[mask]], self.lag[mask], self.d2[mask]
        )


def _expand(
    lo: NDArray[np.int64], hi: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For ranges [lo_k, hi_k): the range number and the position of every member."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts, counts) + np.repeat(lo, counts)
    return owner, pos


def bucket_pairs(
    t: NDArray[np.float64],
    bucket_x: NDArray[np.int64],
    bucket_y: NDArray[np.int64],
    max_lag: float,
    *,
    neighbours: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(child, parent) index pairs with t_p < t_c ≤ t_p + max_lag whose buckets are equal
    (`neighbours=False`) or adjacent, diagonals included (`neighbours=True`)."""
    n = len(t)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    bx = bucket_x - bucket_x.min() + 1
    by = bucket_y - bucket_y.min() + 1
    ny = int(by.max()) + 2
    bucket = bx * ny + by
    t0 = float(t.min())
    span = float(t.max()) - t0 + max_lag + 1.0
    key = bucket.astype(np.float64) * span + (t - t0)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    offsets = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)] if neighbours else [(0, 0)]
    children: list[NDArray[np.int64]] = []
    parents: list[NDArray[np.int64]] = []
    for dx, dy in offsets:
        target = (bucket + dx * ny + dy).astype(np.float64) * span + (t - t0)
        lo = np.searchsorted(sorted_key, target - max_lag, side="left")
        hi = np.searchsorted(sorted_key, target, side="left")  # strictly earlier times
        owner, pos = _expand(lo.astype(np.int64), hi.astype(np.int64))
        children.append(owner)
        parents.append(order[pos])
    return np.concatenate(children), np.concatenate(parents)


def cell_pairs(t: NDArray[np.float64], cell: NDArray[np.int64], max_lag: float) -> Pairs:
    """Pairs within the same cell (form "cell", Mohler 2015)."""
    child, parent = bucket_pairs(t, cell, np.zeros_like(cell), max_lag, neighbours=False)
    return Pairs(child, parent, t[child] - t[parent], np.zeros(len(child)))


def near_pairs(
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    radius: float,
    max_lag: float,
) -> Pairs:
    """Pairs closer than `radius` metres (form "gauss")."""
    if radius <= 0:
        raise ValueError("radius must be positive")
    child, parent = bucket_pairs(
        t,
        np.floor(x / radius).astype(np.int64),
        np.floor(y / radius).astype(np.int64),
        max_lag,
        neighbours=True,
    )
    d2 = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2
    keep = d2 < radius * radius
    child, parent = child[keep], parent[keep]
    return Pairs(child, parent, t[child] - t[parent], d2[keep])


@dataclass(frozen=True)
class EtasFit:
    theta: float  # expected direct offspring per event
    omega: float  # trigger decay rate per day
    p_background: NDArray[np.float64]  # per event: probability of being background
    iterations: int
    converged: bool


def fit(
    n: int,
    pairs: Pairs,
    g: NDArray[np.float64],
    background: Background,
    remaining: NDArray[np.float64],
    max_lag: float,
    *,
    theta0: float = 0.2,
    omega0: float = 0.2,
    p_background0: NDArray[np.float64] | None = None,
    max_iter: int = 200,
    tol: float = 1e-4,
) -> EtasFit:
    """EM for θ, ω and the background. `g[k]` is the trigger's spatial density (per m²) of
    pair k; `background(p)` turns per-event background probabilities into the background
    intensity (per day and m²) at every event; `remaining[j]` is the time (days) from event j
    to the end of the training window. `p_background0` is a starting guess of the events'
    background probabilities (e.g. the previous week's fit; default 1 - θ0). Stops when θ and
    ω change by less than `tol` (relative) or after `max_iter` rounds."""
    if n == 0:
        return EtasFit(0.0, omega0, np.zeros(0), 0, True)
    theta, omega = theta0, omega0
    p_bg = np.full(n, max(1e-3, 1.0 - theta0)) if p_background0 is None else p_background0
    mu = background(p_bg)
    exposure_lag = np.minimum(remaining, max_lag)
    child, lag = pairs.child, pairs.lag
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        trig = theta * omega * np.exp(-omega * lag) * g
        lam = mu + np.bincount(child, weights=trig, minlength=n)
        lam = np.maximum(lam, 1e-300)
        p_trig = trig / lam[child]
        p_bg = mu / lam
        s = float(p_trig.sum())
        if s <= 0:
            theta_new, omega_new = 0.0, omega
        else:
            omega_new = s / float((p_trig * lag).sum())
            exposure = float((1.0 - np.exp(-omega_new * exposure_lag)).sum())
            theta_new = s / exposure if exposure > 0 else 0.0
        mu = background(p_bg)
        change = max(
            abs(theta_new - theta) / max(theta, 1e-9), abs(omega_new - omega) / max(omega, 1e-9)
        )
        theta, omega = theta_new, omega_new
        if change < tol:
            converged = True
            break
    return EtasFit(theta, omega, p_bg, it, converged)


def trigger_weights(
    age: NDArray[np.float64], theta: float, omega: float, horizon: float
) -> NDArray[np.float64]:
    """Expected number of events each past event (age = days before the forecast start)
    triggers in the next `horizon` days: θ (e^{-ω age} - e^{-ω (age + horizon)})."""
    out: NDArray[np.float64] = theta * (np.exp(-omega * age) - np.exp(-omega * (age + horizon)))
    return out


def gauss_density(d2: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    """Isotropic 2-D Gaussian density (per m²) at squared distance d2."""
    out: NDArray[np.float64] = np.exp(-d2 / (2 * sigma * sigma)) / (2 * math.pi * sigma * sigma)
    return out
