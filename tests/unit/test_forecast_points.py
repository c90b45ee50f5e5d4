"""Forecast methods for point data (services/aggregate/forecast_points.py, forecast_kde.py,
forecast_etas.py), the GPS-like jitter and the references every method is compared with."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from services.aggregate import forecast_etas as etas
from services.aggregate.forecast import (
    BASELINE,
    SWEREF99TM_EPSG,
    Method,
    Points,
    ScoreView,
    evaluate,
    jitter,
    own_cell_count,
    parse_method,
    points_from_xy,
    summarize,
    with_references,
)
from services.aggregate.forecast_kde import blur, cell_shares, erfc, kde_cells, pixel_kernel
from services.aggregate.forecast_points import (
    CV_BANDWIDTHS_M,
    POINT_METHODS,
    BlendMethod,
    EtasMethod,
    KdeMethod,
    choose_bandwidth,
    kde_window,
    parse_point_method,
)

WEEK = np.timedelta64(7, "D")

X0, Y0 = 536_000.0, 6_475_000.0  # SWEREF 99 TM, near Linköping; multiples of 250 m
START = datetime(2026, 1, 5)  # a Monday


# --- kernels -----------------------------------------------------------------------------------


def test_erfc_matches_the_standard_library_to_its_stated_precision() -> None:
    x = np.linspace(-6, 9, 3001)
    ref = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(erfc(x) - ref) / ref) < 1.2e-7


def test_cell_shares_split_a_kernel_at_an_edge_and_sum_to_one() -> None:
    edges = np.arange(0.0, 1001.0, 100.0)
    shares = cell_shares(np.array([500.0, 550.0, 1500.0]), edges, 20.0)
    # Half on each side (less the 3e-7 beyond 5 σ, which lies in the next cells).
    assert shares[0, 4] == pytest.approx(0.5, abs=1e-6) and shares[0, 5] == pytest.approx(0.5)
    assert shares[1, 5] == pytest.approx(1 - 2 * 0.5 * math.erfc(50 / (20 * math.sqrt(2))))
    assert shares[:2].sum(axis=1) == pytest.approx([1.0, 1.0])
    assert shares[2].sum() == pytest.approx(0.0, abs=1e-12)  # off the grid: dropped
    exact = cell_shares(np.array([550.0, -3.0]), edges, 0.0)
    assert exact[0].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0] and exact[1].sum() == 0


def test_kde_cells_is_the_integral_of_the_kernel_over_each_cell() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(200, 800, 40), rng.uniform(200, 800, 40)
    w = rng.uniform(0.5, 2.0, 40)
    edges = np.arange(0.0, 1001.0, 125.0)
    sigma = 60.0
    got = kde_cells(x, y, w, edges, edges, sigma, chunk=7)  # chunks must not matter
    # Brute force: the density on a 5 m raster, summed per cell.
    centres = np.arange(2.5, 1000, 5.0)
    gx = np.exp(-((centres[None, :] - x[:, None]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((centres[None, :] - y[:, None]) ** 2) / (2 * sigma**2))
    density = (gx * w[:, None]).T @ gy * 25 / (2 * math.pi * sigma**2)
    brute = density.reshape(8, 25, 8, 25).sum(axis=(1, 3))
    assert got == pytest.approx(brute, abs=2e-3)
    assert got.sum() == pytest.approx(w.sum(), rel=1e-3)  # all mass is on this grid


def test_blur_is_a_separable_convolution() -> None:
    rng = np.random.default_rng(4)
    raster = np.zeros((30, 25))
    raster[5:25, 5:20] = rng.uniform(0, 1, (20, 15))
    k = pixel_kernel(40.0, 60.0)
    assert len(k) % 2 == 1 and k.sum() == pytest.approx(1.0, abs=1e-6)
    got = blur(raster, k, k)
    direct = np.zeros_like(raster)
    r = len(k) // 2
    for i, j in zip(*np.nonzero(raster), strict=True):
        for di in range(-r, r + 1):
            for dj in range(-r, r + 1):
                if 0 <= i + di < 30 and 0 <= j + dj < 25:
                    direct[i + di, j + dj] += raster[i, j] * k[di + r] * k[dj + r]
    assert got == pytest.approx(direct)


# --- jitter ------------------------------------------------------------------------------------


def test_jitter_moves_every_point_by_a_seeded_gaussian() -> None:
    n = 20_000
    times = [START + timedelta(minutes=i) for i in range(n)]
    points = points_from_xy(times, np.full(n, X0), np.full(n, Y0), epsg=SWEREF99TM_EPSG)
    moved = jitter(points, 40.0, seed=7)
    assert (moved.t == points.t).all() and moved.epsg == points.epsg
    dx, dy = moved.x - X0, moved.y - Y0
    assert np.std(dx) == pytest.approx(40.0, rel=0.03) and np.std(dy) == pytest.approx(40, rel=0.03)
    assert abs(np.mean(dx)) < 1.5 and abs(np.corrcoef(dx, dy)[0, 1]) < 0.03
    again = jitter(points, 40.0, seed=7)
    assert (again.x == moved.x).all() and (again.y == moved.y).all()
    assert not (jitter(points, 40.0, seed=8).x == moved.x).all()
    assert jitter(points, 0.0) is points
    with pytest.raises(ValueError):
        jitter(points, -1.0)


# --- kernel density with cross-validated bandwidth ---------------------------------------------


def hotspot_weeks(spread_m: float, seed: int, weeks: int = 10) -> Points:
    """Weeks of incidents at 12 hot addresses (80 m apart at least) plus some background:
    spread_m = 0 puts every incident exactly on its address (snapped data); otherwise each
    incident is scattered around it by a Gaussian of spread_m metres (GPS-like)."""
    rng = np.random.default_rng(seed)
    hot = np.c_[X0 + 1000 + rng.uniform(0, 3000, 12), Y0 + 1000 + rng.uniform(0, 3000, 12)]
    times, xs, ys = [], [], []
    for week in range(weeks):
        for k, (hx, hy) in enumerate(hot):
            for _ in range(rng.poisson(3 + k % 4)):
                times.append(START + timedelta(weeks=week, hours=float(rng.uniform(0, 167))))
                xs.append(hx + rng.normal(0, spread_m) if spread_m else hx)
                ys.append(hy + rng.normal(0, spread_m) if spread_m else hy)
        for _ in range(30):
            times.append(START + timedelta(weeks=week, hours=float(rng.uniform(0, 167))))
            xs.append(X0 + rng.uniform(0, 5000))
            ys.append(Y0 + rng.uniform(0, 5000))
    return points_from_xy(times, xs, ys, epsg=SWEREF99TM_EPSG)


def test_cross_validation_takes_the_bandwidth_that_caught_most_in_the_past_weeks() -> None:
    cut = np.datetime64(START + timedelta(weeks=9), "s")
    for spread, seed in ((0.0, 5), (60.0, 5), (60.0, 7)):
        view = ScoreView.over(hotspot_weeks(spread, seed), cell_m=250 / 3, area_fraction=0.05)
        chosen = choose_bandwidth(view, cut, CV_BANDWIDTHS_M, 4)
        # By hand: each bandwidth forecasts each of the 4 weeks before the cut from the data
        # before that week; the one with most hits wins, ties to the larger bandwidth.
        totals = {
            h: sum(
                view.hits(kde_window(view, cut - k * WEEK, h), cut - k * WEEK) for k in (1, 2, 3, 4)
            )
            for h in CV_BANDWIDTHS_M
        }
        best = max(totals.values())
        assert chosen == max(h for h, total in totals.items() if total == best)
        if spread:
            assert chosen >= 30.0  # scattered positions: a kernel about as wide as the scatter
        # Cached per cut: asking again gives the same answer.
        assert choose_bandwidth(view, cut, CV_BANDWIDTHS_M, 4) == chosen
    # Without past weeks to check, the middle bandwidth of the list.
    first = np.datetime64(START, "s")
    assert choose_bandwidth(view, first, (10.0, 20.0, 40.0), 4) == 20.0


def test_kde_with_one_tiny_bandwidth_is_the_count_of_its_cells() -> None:
    points = hotspot_weeks(0.0, seed=6)
    kde = KdeMethod("kde", (0.0,), cell_m=125.0)
    count = Method("count", cell_m=125.0)
    results = evaluate(
        points, start=date(2026, 2, 2), end=date(2026, 3, 16), methods=["baseline", kde, count]
    )
    for r in results:
        assert r.methods["kde"].hits == r.methods["count"].hits
        assert r.methods["kde"].chosen_km2 == r.methods["count"].chosen_km2
        assert r.methods["kde"].study_km2 == r.methods["baseline"].study_km2


def test_kde_beats_the_small_cell_count_on_scattered_positions() -> None:
    """Why the point methods exist: when positions are GPS-like, a count on 83⅓ m cells splits
    each hot place over several cells; a kernel puts it back together."""
    points = hotspot_weeks(60.0, seed=8, weeks=14)
    kde = KdeMethod("kde-cv", CV_BANDWIDTHS_M, cell_m=250 / 3)
    count = Method("count", cell_m=250 / 3)
    results = evaluate(
        points, start=date(2026, 2, 9), end=date(2026, 4, 13), methods=["baseline", kde, count]
    )
    summary = summarize(results)
    assert summary["kde-cv"].mean_hit_rate > summary["count"].mean_hit_rate


# --- blend -------------------------------------------------------------------------------------


def test_blend_raises_the_cells_around_recent_incidents() -> None:
    # Two places with the same long-term count; one had three incidents in the last days.
    old = [(START + timedelta(days=d), (X0 + 125, Y0 + 125)) for d in range(0, 60, 3)]
    old += [(START + timedelta(days=d), (X0 + 1125, Y0 + 125)) for d in range(0, 60, 3)]
    recent = [(START + timedelta(days=80 + d), (X0 + 1125, Y0 + 125)) for d in range(3)]
    events = old + recent + [(START + timedelta(days=80 + d), (X0 + 125, Y0 + 125)) for d in (0,)]
    events += [(START + timedelta(days=d), (X0 + 3125, Y0 + 2125)) for d in (0, 10)]
    points = points_from_xy(
        [t for t, _ in events],
        [p[0] for _, p in events],
        [p[1] for _, p in events],
        epsg=SWEREF99TM_EPSG,
    )
    view = ScoreView.over(points, area_fraction=0.05)
    cut = np.datetime64(START + timedelta(days=84), "s")
    a = view.layer.grid.flat_index(np.array([X0 + 125, X0 + 1125]), np.array([Y0 + 125] * 2))
    lt = BlendMethod("lt", alpha=0.0, bandwidths_m=(20.0,)).scores(view, cut)
    blend = BlendMethod("b", alpha=0.5, bandwidths_m=(20.0,), nr_sigma_m=50.0).scores(view, cut)
    assert lt[a[1]] == pytest.approx(lt[a[0]] + 2 / view.weeks_of_history(cut, 52), rel=1e-6)
    gap_lt, gap_blend = lt[a[1]] - lt[a[0]], blend[a[1]] - blend[a[0]]
    assert gap_blend > gap_lt > 0
    # The recent term is α × Σ e^(-age/τ) over the incidents in the cell, times the share of
    # their kernel inside it.
    ages = np.array([4.0, 3.0, 2.0])  # days before the cut: days 80, 81, 82 at 00:00
    inside = math.erf(125 / (50 * math.sqrt(2))) ** 2  # a 50 m kernel's mass in its cell
    expected = inside * (0.5 * np.exp(-ages / 7.0).sum() - 0.5 * math.exp(-4.0 / 7.0))
    assert gap_blend - gap_lt == pytest.approx(expected, rel=1e-4)


# --- self-exciting point process ---------------------------------------------------------------


def simulate_hawkes(mu: float, theta: float, omega: float, days: float, seed: int) -> np.ndarray:
    """Event times (days) of a Hawkes process with exponential kernel, by its branching
    structure: background events at rate mu per day, each event has Poisson(theta) children
    after Exp(omega) delays."""
    rng = np.random.default_rng(seed)
    generation = rng.uniform(0, days, rng.poisson(mu * days))
    times = [generation]
    while len(generation):
        n_children = rng.poisson(theta, len(generation))
        parents = np.repeat(generation, n_children)
        generation = parents + rng.exponential(1 / omega, len(parents))
        generation = generation[generation < days]
        times.append(generation)
    return np.sort(np.concatenate(times))


def log_likelihood(
    t: np.ndarray, pairs: etas.Pairs, mu: float, theta: float, omega: float, span: float
) -> float:
    trig = theta * omega * np.exp(-omega * pairs.lag)
    lam = mu + np.bincount(pairs.child, weights=trig, minlength=len(t))
    compensator = mu * span + theta * np.sum(1 - np.exp(-omega * np.minimum(span - t, 56.0)))
    return float(np.log(lam).sum() - compensator)


def test_em_recovers_the_parameters_of_a_simulated_self_exciting_process() -> None:
    t = simulate_hawkes(mu=1.0, theta=0.5, omega=0.5, days=1000.0, seed=11)
    n, area = len(t), 250.0**2
    pairs = etas.cell_pairs(t, np.zeros(n, dtype=np.int64), max_lag=56.0)
    span = float(t.max())

    def background(p: np.ndarray) -> np.ndarray:
        return np.full(n, p.sum() / (span * area))

    g = np.full(len(pairs), 1 / area)
    fit = etas.fit(n, pairs, g, background, span - t, 56.0, max_iter=2000, tol=1e-6)
    assert fit.converged
    assert fit.theta == pytest.approx(0.5, abs=0.06)
    assert 1 / fit.omega == pytest.approx(2.0, rel=0.15)
    assert fit.p_background.mean() == pytest.approx(1 - fit.theta, abs=0.03)
    # EM climbs the likelihood: the fit is at least as likely as the true parameters.
    mu = fit.p_background.sum() / span
    fitted = log_likelihood(t, pairs, mu, fit.theta, fit.omega, span)
    assert fitted >= log_likelihood(t, pairs, 1.0, 0.5, 0.5, span)
    # A few rounds only (a warm start from another week's fit) stop early, unconverged.
    short = etas.fit(n, pairs, g, background, span - t, 56.0, max_iter=3, tol=1e-6)
    assert (short.iterations, short.converged) == (3, False)


def test_near_pairs_are_the_close_earlier_events() -> None:
    rng = np.random.default_rng(12)
    n = 400
    t = np.sort(rng.uniform(0, 30, n))
    x, y = rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)
    pairs = etas.near_pairs(t, x, y, radius=100.0, max_lag=5.0)
    got = set(zip(pairs.child.tolist(), pairs.parent.tolist(), strict=True))
    brute = {
        (i, j)
        for i in range(n)
        for j in range(n)
        if 0 < t[i] - t[j] <= 5.0 and (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 < 100.0**2
    }
    assert got == brute and len(brute) > 50
    assert pairs.lag == pytest.approx(t[pairs.child] - t[pairs.parent])
    same_cell = etas.cell_pairs(t, (x // 250).astype(np.int64), max_lag=5.0)
    cells = zip(same_cell.child, same_cell.parent, strict=True)
    assert all(x[i] // 250 == x[j] // 250 for i, j in cells)


@pytest.mark.parametrize("trigger", ["cell", "gauss"])
def test_etas_scores_are_expected_counts_and_follow_a_recent_burst(trigger: str) -> None:
    rng = np.random.default_rng(13)
    events = []
    for place in ((X0 + 125, Y0 + 125), (X0 + 1125, Y0 + 625)):  # same long-run rate
        for day in rng.uniform(0, 120, 60):
            events.append((START + timedelta(days=float(day)), place))
    burst = [(START + timedelta(days=118, hours=h), (X0 + 1125, Y0 + 625)) for h in range(8)]
    events += burst
    points = points_from_xy(
        [t for t, _ in events],
        [p[0] for _, p in events],
        [p[1] for _, p in events],
        epsg=SWEREF99TM_EPSG,
    )
    view = ScoreView.over(points, area_fraction=0.05)
    cut = np.datetime64(START + timedelta(days=120), "s")
    method = EtasMethod("etas", trigger, trigger_sigma_m=50.0, background_m=50.0)
    scores = method.scores(view, cut)
    assert (scores >= 0).all()
    cells = view.layer.grid.flat_index(
        np.array([X0 + 125, X0 + 1125]), np.array([Y0 + 125, Y0 + 625])
    )
    assert scores[cells[1]] > scores[cells[0]]  # the burst is recent: more expected next week
    # The scores add up to the expected number of incidents next week (up to the kernel
    # mass off the grid): 7 days of background plus what the recent incidents trigger.
    fitted = view.cache if trigger == "cell" else view.shared
    fit = next(v for k, v in fitted.items() if k[0] == "etas-fit")
    expected = (
        7 * fit.fit.p_background.sum() / fit.span
        + etas.trigger_weights(fit.age[fit.age < 56], fit.fit.theta, fit.fit.omega, 7.0).sum()
    )
    assert scores.sum() == pytest.approx(expected, rel=0.01)
    assert 0 < fit.fit.theta < 1


# --- parsing, presets, references --------------------------------------------------------------


def test_parse_point_methods_presets_overrides_and_errors() -> None:
    assert parse_method("kde") == POINT_METHODS["kde"]
    cv = parse_point_method("kde:h=20/40/80,cv=3,cell=250/3")
    assert isinstance(cv, KdeMethod)
    assert (cv.bandwidths_m, cv.cv_weeks, cv.cell_m) == ((20.0, 40.0, 80.0), 3, 250 / 3)
    assert cv.spec == "kde:h=20/40/80,cv=3,cell=250/3,window=52"
    again = parse_method(cv.spec)
    assert isinstance(again, KdeMethod) and again.bandwidths_m == cv.bandwidths_m
    assert again.cell_size(250.0) == cv.cell_m
    assert parse_method("kde-cv").cell_size(250.0) == 250 / 3
    blend = parse_point_method("blend:alpha=0.3,nr=80,tau=5,nrw=2")
    assert isinstance(blend, BlendMethod)
    assert (blend.alpha, blend.nr_sigma_m, blend.nr_tau_days, blend.nr_weeks) == (0.3, 80, 5, 2)
    e = parse_method("etas:trigger=gauss,ts=70,bg=120,lag=28,cell=125")
    assert isinstance(e, EtasMethod)
    assert (e.trigger, e.trigger_sigma_m, e.background_m, e.max_lag_days) == (
        "gauss",
        70,
        120,
        28,
    )
    assert parse_method(e.spec) == EtasMethod(e.spec, "gauss", 70, 120, 28, 125.0)
    for bad in (
        "kde:h=",
        "kde:h=-5",
        "kde:h=10/10",
        "kde:zz=1",
        "kde:cv=0",
        "blend:alpha=-1",
        "blend:tau=0",
        "etas:trigger=cone",
        "etas:ts=0",
        "etas:cell=0",
        "kde:window=0",
    ):
        with pytest.raises(ValueError):
            parse_method(bad)


def test_references_are_the_baseline_and_the_count_on_each_methods_own_cells() -> None:
    kde = KdeMethod("k", (20.0,), cell_m=125.0)
    fine = parse_method("fine")
    decay = parse_method("decay")
    full, own = with_references([kde, fine, decay])
    assert [m.name for m in full] == ["baseline", "k", "fine", "decay", "count 125 m"]
    assert own == {
        "baseline": "baseline",
        "k": "count 125 m",
        "fine": "fine",  # fine is the plain count on 83⅓ m cells: its own reference
        "decay": "baseline",
        "count 125 m": "count 125 m",
    }
    assert own_cell_count(decay) is BASELINE
    assert own_cell_count(kde).cell_m == 125.0
    with pytest.raises(ValueError):
        with_references([Method("count 125 m", half_life_weeks=8.0, cell_m=125.0), kde])
