"""Gaussian kernels over square cells, for the point-data forecast methods (docs/forecast.md,
"Fourth round: GPS-like points"). Pure functions over numpy arrays: no I/O, no clock.

A cell grid is given by its edges: `x_edges` (nx + 1 increasing values, metres) and `y_edges`
(ny + 1). A kernel density of points is *integrated over each cell* (not sampled at its
centre): with an isotropic Gaussian of σ metres the integral factorises into an x share and a
y share, each a difference of the normal CDF at the cell's two edges. So the score of a cell is
the expected number of the points that would fall in it if each were displaced by N(0, σ²)
in each axis, and the scores of all cells sum to the points' total weight (less what falls
off the grid).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

_SQRT2 = math.sqrt(2.0)


_ERFC_COEFFS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erfc(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Complementary error function, elementwise (Numerical Recipes' `erfcc`, Chebyshev
    fit: relative error below 1.2e-7 everywhere, also far out in the tail)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[-1])
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly = c + t * poly
    ans = t * np.exp(-z * z + poly)
    out: NDArray[np.float64] = np.where(x >= 0, ans, 2.0 - ans)
    return out


def normal_cdf(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Φ(z) of the standard normal distribution."""
    out: NDArray[np.float64] = 0.5 * erfc(-z / _SQRT2)
    return out


def cell_shares(
    v: NDArray[np.float64], edges: NDArray[np.float64], sigma: float
) -> NDArray[np.float64]:
    """Shares (len(v) × (len(edges) - 1)) of N(v_i, σ²) in each interval [edges[k],
    edges[k+1]). σ = 0 puts each value wholly in its interval (none if outside)."""
    v = np.asarray(v, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError("sigma must be a finite number >= 0")
    if sigma == 0:
        k = np.searchsorted(edges, v, side="right") - 1
        inside = (k >= 0) & (k < len(edges) - 1)
        out = np.zeros((len(v), len(edges) - 1))
        rows = np.flatnonzero(inside)
        out[rows, k[inside]] = 1.0
        return out
    cdf = normal_cdf((edges[None, :] - v[:, None]) / sigma)
    shares: NDArray[np.float64] = np.clip(np.diff(cdf, axis=1), 0.0, None)
    return shares


def kde_cells(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    weights: NDArray[np.float64] | None,
    x_edges: NDArray[np.float64],
    y_edges: NDArray[np.float64],
    sigma: float,
    *,
    chunk: int = 4096,
) -> NDArray[np.float64]:
    """Σ_i w_i ∫_cell N((x_i, y_i), σ² I) for every cell: an (nx × ny) array, x first.

    Computed as Sx^T · diag(w) · Sy with the per-axis shares, in chunks of points so the
    dense share matrices stay small."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be one-dimensional and of equal length")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape:
        raise ValueError("weights must have the length of x")
    out = np.zeros((len(x_edges) - 1, len(y_edges) - 1))
    for lo in range(0, len(x), chunk):
        sl = slice(lo, lo + chunk)
        sx = cell_shares(x[sl], x_edges, sigma)
        sy = cell_shares(y[sl], y_edges, sigma)
        out += sx.T @ (sy * w[sl, None])
    return out


def pixel_kernel(pixel_m: float, sigma: float, radius_sd: float = 5.0) -> NDArray[np.float64]:
    """1-D weights k[d], d = -r..r pixels: the share of N(0, σ²), centred in a pixel, that
    falls d pixels away (r = ceil(radius_sd σ / pixel_m); the tails beyond are dropped)."""
    if not (pixel_m > 0 and sigma > 0):
        raise ValueError("pixel_m and sigma must be positive")
    r = max(1, math.ceil(radius_sd * sigma / pixel_m))
    edges = np.asarray((np.arange(-r, r + 2) - 0.5) * pixel_m, dtype=np.float64)
    out: NDArray[np.float64] = np.diff(normal_cdf(edges / sigma))
    return out


def blur(
    raster: NDArray[np.float64], kx: NDArray[np.float64], ky: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Separable convolution of a 2-D raster (x first) with the odd-length 1-D kernels `kx`
    along x and `ky` along y, same shape out (what falls off the edge is dropped)."""
    nx, ny = raster.shape
    rx, ry = len(kx) // 2, len(ky) // 2
    padded = np.pad(raster, ((rx, rx), (0, 0)))
    along_x = np.zeros_like(raster)
    for d, w in enumerate(kx):
        along_x += w * padded[d : d + nx]
    padded = np.pad(along_x, ((0, 0), (ry, ry)))
    out = np.zeros_like(raster)
    for d, w in enumerate(ky):
        out += w * padded[:, d : d + ny]
    return out
