"""Next-week hotspot forecast (services/aggregate/forecast.py) and its CLI (forecast_cli.py)."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from typer.testing import CliRunner

from services.aggregate.forecast import (
    BASELINE,
    DEFAULT_METHOD,
    EVALUATE_METHODS,
    FINE_CELL_M,
    SWEREF99TM_EPSG,
    Cell,
    Grid,
    Method,
    Points,
    cell_scores,
    cells_for_area,
    cells_to_choose,
    cells_to_geojson,
    evaluate,
    forecast,
    forecast_details,
    paired_gain,
    parse_method,
    points_from_latlon,
    points_from_xy,
    summarize,
    week_starts,
)
from services.aggregate.forecast_cli import evaluate_command, forecast_command

CELL = 250.0
# Lower-left corner of cell (0, 0) of the test grids, in SWEREF 99 TM (near Linköping).
X0, Y0 = 536_000.0, 6_475_000.0
UNTIL = date(2026, 3, 2)  # a Monday: the forecast week is 2026-03-02 .. 03-08
MONDAY = datetime(2026, 3, 2)


def at(i: int, j: int, dx: float = 125.0, dy: float = 125.0) -> tuple[float, float]:
    """A point inside cell (i, j) of the test grid (centre by default)."""
    return X0 + i * CELL + dx, Y0 + j * CELL + dy


def make_points(events: list[tuple[datetime, tuple[float, float]]]) -> Points:
    times = [t for t, _ in events]
    return points_from_xy(
        times, [p[0] for _, p in events], [p[1] for _, p in events], epsg=SWEREF99TM_EPSG
    )


def days_before(days: float, hour: int = 12) -> datetime:
    return MONDAY - timedelta(days=days) + timedelta(hours=hour - 24)


def cell_of(c: Cell) -> tuple[int, int]:
    return round((c.x0 - X0) / CELL), round((c.y0 - Y0) / CELL)


# --- baseline, decay, smoothing ----------------------------------------------------------------


def test_baseline_ranks_the_cell_with_most_incidents_first() -> None:
    events = [(days_before(10 + k), at(3, 3)) for k in range(5)]
    events += [(days_before(20 + k), at(7, 1)) for k in range(9)]
    events += [(days_before(5 + k), at(0, 6)) for k in range(2)]
    cells = forecast(make_points(events), UNTIL, method="baseline", area_fraction=1.0)
    assert [cell_of(c) for c in cells] == [(7, 1), (3, 3), (0, 6)]
    assert [c.rank for c in cells] == [1, 2, 3]
    assert [c.score for c in cells] == [9.0, 5.0, 2.0]


def test_baseline_counts_only_the_last_52_weeks_before_the_cut_off() -> None:
    events = [(days_before(52 * 7 + 3 + k), at(1, 1)) for k in range(6)]  # older than 52 weeks
    events += [(days_before(30 + k), at(2, 2)) for k in range(2)]
    events += [(MONDAY + timedelta(days=1, hours=k), at(3, 3)) for k in range(20)]  # after
    details = forecast_details(make_points(events), UNTIL, method="baseline", area_fraction=1.0)
    scores = {cell_of(c): c.score for c in details.cells}
    assert scores[(2, 2)] == 2.0
    assert scores[(1, 1)] == 0.0  # in the study area (ever had an incident) but not counted
    assert (3, 3) not in scores  # incidents on/after `until` are never used
    assert details.training_incidents == 2


def test_decay_prefers_a_recently_active_cell_over_an_old_one() -> None:
    old = [(days_before(40 * 7 + k), at(1, 1)) for k in range(6)]
    recent = [(days_before(1 + k), at(5, 5)) for k in range(5)]
    points = make_points(old + recent)
    base = forecast(points, UNTIL, method="baseline", area_fraction=0.5)
    decay = forecast(points, UNTIL, method="decay", area_fraction=0.5)
    assert [cell_of(c) for c in base] == [(1, 1)]
    assert [cell_of(c) for c in decay] == [(5, 5)]
    half_life = count_method("decay").half_life_weeks
    assert half_life is not None
    # A single incident exactly one half-life before the cut-off scores 0.5.
    one = make_points([(MONDAY - timedelta(weeks=half_life), at(0, 0))])
    assert forecast(one, UNTIL, method="decay")[0].score == pytest.approx(0.5)


def test_smoothing_adds_the_weighted_neighbours() -> None:
    events = [(days_before(3), at(4, 4)) for _ in range(4)]
    events += [(days_before(3), at(5, 5)), (days_before(3), at(4, 5))]
    points = make_points(events)
    cells = forecast(points, UNTIL, method=Method("s", neighbour_weight=0.5), area_fraction=1.0)
    scores = {cell_of(c): c.score for c in cells}
    assert scores[(4, 4)] == pytest.approx(4 + 0.5 * 2)
    assert scores[(4, 5)] == pytest.approx(1 + 0.5 * (4 + 1))
    assert scores[(5, 5)] == pytest.approx(1 + 0.5 * (4 + 1))


def test_position_kernel_shares_an_incident_near_a_cell_edge_with_the_neighbour() -> None:
    events = [(days_before(2), at(3, 3))]  # cell centre: 125 m (6 σ) from every edge
    events += [(days_before(2), at(6, 3, dx=0.0))]  # exactly on the edge of cells 5 and 6
    events += [(days_before(2), at(9, 3, dx=20.0, dy=20.0))]  # 1 σ from a corner
    points = make_points(events)
    grid = Grid.covering(points, CELL)
    method = count_method("hl=inf,ks=20")
    scores = cell_scores(points, grid, UNTIL, method)
    plain = cell_scores(points, grid, UNTIL, BASELINE)

    def score(s: np.ndarray, i: int, j: int) -> float:
        x, y = at(i, j)
        return float(s[grid.flat_index(np.array([x]), np.array([y]))[0]])

    assert scores.sum() == pytest.approx(3.0)  # weight is moved, never lost
    assert score(scores, 3, 3) == pytest.approx(1.0, abs=1e-6)
    assert score(scores, 5, 3) == pytest.approx(0.5, abs=1e-6)
    assert score(scores, 6, 3) == pytest.approx(0.5, abs=1e-6)
    # 1 σ inside both edges: Φ(1)² ≈ 0.708 stays, Φ(-1)² ≈ 0.025 goes to the diagonal cell.
    assert score(scores, 9, 3) == pytest.approx(0.8413**2, abs=1e-3)
    assert score(scores, 8, 2) == pytest.approx(0.1587**2, abs=1e-3)
    # Without the kernel every incident stays whole in its own cell.
    assert (score(plain, 6, 3), score(plain, 5, 3)) == (1.0, 0.0)


def test_position_kernel_wider_than_a_third_of_a_cell_is_refused() -> None:
    points = make_points([(days_before(2), at(3, 3))])
    with pytest.raises(ValueError, match="kernel_m"):
        forecast(points, UNTIL, method="ks=100")


def test_cells_without_any_incident_are_never_chosen() -> None:
    # A ring of busy cells around (5, 5): smoothing gives the empty centre the top score,
    # but it is outside the study area.
    events = [
        (days_before(2), at(5 + di, 5 + dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj
    ]
    details = forecast_details(
        make_points(events), UNTIL, method=Method("s", neighbour_weight=1.0), area_fraction=1.0
    )
    assert details.study_cells == 8
    assert (5, 5) not in {cell_of(c) for c in details.cells}


def test_no_training_data_is_an_error() -> None:
    points = make_points([(MONDAY + timedelta(days=2), at(0, 0))])
    with pytest.raises(ValueError, match="no incidents before"):
        forecast(points, UNTIL)


# --- area fraction -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n_cells=st.integers(min_value=1, max_value=400),
    fraction=st.floats(min_value=0.001, max_value=1.0),
    seed=st.integers(0, 2**16),
)
def test_area_fraction_is_respected_within_one_cell(
    n_cells: int, fraction: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    flat = rng.choice(40 * 40, size=n_cells, replace=False)
    counts = rng.integers(1, 6, size=n_cells)
    events = [
        (days_before(1 + int(rng.integers(0, 300))), at(int(f) // 40, int(f) % 40))
        for f, c in zip(flat, counts, strict=True)
        for _ in range(int(c))
    ]
    details = forecast_details(
        make_points(events), UNTIL, method="baseline", area_fraction=fraction
    )
    assert details.study_cells == n_cells
    chosen_area = len(details.cells) * CELL**2
    wanted_area = fraction * n_cells * CELL**2
    assert abs(chosen_area - wanted_area) <= CELL**2
    assert len(details.cells) >= 1
    assert len({cell_of(c) for c in details.cells}) == len(details.cells)
    scores = [c.score for c in details.cells]
    assert scores == sorted(scores, reverse=True)


def test_cells_to_choose_rounds_and_rejects_bad_fractions() -> None:
    assert cells_to_choose(1594, 0.05) == 80
    assert cells_to_choose(10, 0.01) == 1  # never an empty forecast
    assert cells_to_choose(0, 0.05) == 0
    with pytest.raises(ValueError):
        cells_to_choose(10, 0.0)
    with pytest.raises(ValueError):
        cells_to_choose(10, 1.5)


# --- the spatial unit: cells smaller than the study area's -------------------------------------


def test_cells_for_area_uses_the_same_km2_budget_for_every_cell_size() -> None:
    assert cells_for_area(1594, 0.05, study_cell_m=250, cell_m=250) == 80
    assert cells_for_area(1594, 0.05, study_cell_m=250, cell_m=125) == 319  # 79.7 × 4
    assert cells_for_area(1594, 0.05, study_cell_m=250, cell_m=250 / 3) == 717  # 79.7 × 9
    assert cells_for_area(1594, 0.05, study_cell_m=250, cell_m=100) == 498  # 79.7 × 6.25
    assert cells_for_area(1, 0.01, study_cell_m=250, cell_m=100) == 1
    assert cells_for_area(0, 0.05, study_cell_m=250, cell_m=100) == 0
    with pytest.raises(ValueError):
        cells_for_area(10, 0.0, study_cell_m=250, cell_m=100)


def test_fine_cells_get_the_same_study_area_and_area_budget() -> None:
    # Study area: 8 cells of 250 m (with incidents before the week). Cell (0, 0) has 6 incidents,
    # all in its lower-left 125 m quarter; cell (1, 0) has 7 spread over its four quarters.
    events = [(days_before(2 + k), at(0, 0, 30, 30)) for k in range(6)]
    quarters = [(30, 30), (160, 30), (30, 160), (160, 160)]
    events += [(days_before(2 + k), at(1, 0, *quarters[k % 4])) for k in range(7)]
    events += [(days_before(3), at(i, 0)) for i in range(2, 8)]
    week = MONDAY + timedelta(hours=10)
    events += [(week, at(0, 0, 40, 40))] * 3 + [(week, at(5, 0))] * 4
    points = make_points(events)
    fine = Method("q", cell_m=125.0)
    results = evaluate(
        points,
        start=UNTIL,
        end=UNTIL + timedelta(days=7),
        area_fraction=0.25,
        methods=["baseline", fine],
    )
    b, f = results[0].methods["baseline"], results[0].methods["q"]
    # Same study area (8 × 0.0625 km²) and same chosen area (2 × 250 m = 8 × 125 m cells).
    assert (b.study_cells, f.study_cells) == (8, 8)
    assert (b.chosen_cells, f.chosen_cells) == (2, 8)
    assert b.chosen_km2 == f.chosen_km2 == pytest.approx(0.125)
    assert b.area_share == f.area_share == pytest.approx(0.25)
    # Both catch the 3 incidents in the hot corner and miss the 4 in cell (5, 0).
    assert (b.hits, f.hits) == (3, 3)
    assert b.pai == f.pai == pytest.approx((3 / 7) / 0.25)
    details = forecast_details(points, UNTIL, method=fine, area_fraction=0.25)
    assert details.cell_m == 125.0 and details.study_cell_m == CELL
    assert details.study_km2 == pytest.approx(0.5) and details.chosen_km2 == pytest.approx(0.125)
    assert details.area_share == pytest.approx(0.25)
    assert [c.score for c in details.cells[:4]] == [6.0, 2.0, 2.0, 2.0]
    assert (details.cells[0].x0, details.cells[0].y0, details.cells[0].cell_m) == (X0, Y0, 125.0)


def test_fine_cells_beat_coarse_ones_when_incidents_sit_at_a_few_addresses() -> None:
    # Four 250 m cells, each with a single busy address in a different 125 m quarter, and
    # background incidents in 12 other cells. 10 % of the 16-cell study area is 1.6 cells of
    # 250 m (rounded: 2) or 6.4 cells of 125 m (rounded: 6). The baseline can hold two of the
    # busy addresses, the 125 m cells all four, in less area.
    corners = [(30, 30), (160, 30), (30, 160), (160, 160)]
    events = []
    for i, corner in enumerate(corners):
        events += [(days_before(2 + k), at(i, 0, *corner)) for k in range(5)]
    events += [(days_before(3), at(i, 1)) for i in range(12)]
    week = MONDAY + timedelta(hours=10)
    for i, corner in enumerate(corners):
        events += [(week, at(i, 0, *corner))] * 2
    events += [(week, at(i, 1, 30, 30)) for i in range(12)]  # not where they were before
    points = make_points(events)
    results = evaluate(
        points,
        start=UNTIL,
        end=UNTIL + timedelta(days=7),
        area_fraction=0.1,
        methods=["baseline", Method("q", cell_m=125.0)],
    )
    b, f = results[0].methods["baseline"], results[0].methods["q"]
    assert (b.chosen_cells, f.chosen_cells) == (2, 6)  # round(1.6) and round(6.4)
    assert b.hits == 4 and f.hits == 8  # of 20
    assert b.area_share == pytest.approx(2 / 16) and f.area_share == pytest.approx(6 / 64)
    assert b.pai == pytest.approx(0.2 / 0.125) and f.pai == pytest.approx(0.4 / 0.09375)


def test_shrinkage_adds_a_share_of_the_parent_cell_count() -> None:
    # Parent (0, 0): 3 incidents in its lower-left quarter, 1 in the upper-right.
    events = [(days_before(2 + k), at(0, 0, 30, 30)) for k in range(3)]
    events += [(days_before(2), at(0, 0, 200, 200))]
    points = make_points(events)
    cells = forecast(points, UNTIL, method=Method("s", cell_m=125.0, shrink=2.0), area_fraction=1)
    # 4 cells of 125 m fill the one study cell; each gets λ × 4 / 4 = 2 from the parent.
    assert [(c.x0 - X0, c.y0 - Y0, c.score) for c in cells] == [
        (0.0, 0.0, 5.0),
        (125.0, 125.0, 3.0),
        (0.0, 125.0, 2.0),
        (125.0, 0.0, 2.0),
    ]


def test_cells_whose_centre_is_outside_the_study_area_are_not_candidates() -> None:
    # 100 m cells do not nest in 250 m ones. One study cell, (0, 0) = [0, 250)²: the 100 m
    # cells with centres at 50, 150, 250 (the last on the edge, which belongs to the next
    # 250 m cell) in each direction. An incident at 240 m lies in the 100 m cell [200, 300),
    # whose centre (250) is outside the study cell: that cell is never chosen.
    events = [(days_before(2 + k), at(0, 0, 240, 240)) for k in range(5)]
    events += [(days_before(2), at(0, 0, 50, 50))]
    details = forecast_details(
        make_points(events), UNTIL, method=Method("h", cell_m=100.0), area_fraction=1.0
    )
    # round(1 × 62 500 m² / 10 000 m²) = 6, but only 4 cells (centres 50/150 × 50/150) qualify.
    assert details.study_cells == 1 and len(details.cells) == 4
    corners = {(c.x0 - X0, c.y0 - Y0) for c in details.cells}
    assert corners == {(0.0, 0.0), (100.0, 0.0), (0.0, 100.0), (100.0, 100.0)}
    assert details.cells[0].score == 1.0  # the incident at (50, 50)


def test_paired_gain() -> None:
    results = evaluate(
        constructed_week(),
        start=UNTIL,
        end=UNTIL + timedelta(days=7),
        area_fraction=0.2,
        methods=["baseline", "decay"],
    )
    g = paired_gain(results, "decay")
    assert g.better + g.worse <= 1 and math.isnan(g.se)  # one week: no SE


# --- evaluation --------------------------------------------------------------------------------


def constructed_week() -> Points:
    """Ten study cells in a row; cells 0 and 1 are the hottest before the test week.
    The test week (from UNTIL) has 4 incidents in cells 0-1 and 6 elsewhere, 1 outside."""
    events = []
    for i in range(10):
        n = {0: 9, 1: 7}.get(i, 2)
        events += [(days_before(3 + k), at(i, 0)) for k in range(n)]
    week = MONDAY + timedelta(hours=10)
    events += [(week, at(0, 0)), (week, at(0, 0)), (week, at(1, 0)), (week, at(1, 0))]
    events += [(week, at(i, 0)) for i in range(2, 7)]
    events += [(week, at(3, 8))]  # never seen before: outside the study area, a miss
    events += [(MONDAY + timedelta(days=7, hours=1), at(0, 0))]  # next week: not counted
    return make_points(events)


def test_hit_rate_and_pai_on_a_constructed_week() -> None:
    results = evaluate(
        constructed_week(),
        start=UNTIL,
        end=UNTIL + timedelta(days=7),
        area_fraction=0.2,
        methods=["baseline"],
    )
    assert [r.week for r in results] == ["2026-W10"]
    week = results[0]
    assert week.n_incidents == 10
    b = week.methods["baseline"]
    assert (b.hits, b.chosen_cells, b.study_cells) == (4, 2, 10)
    assert b.hit_rate == pytest.approx(0.4)
    assert b.area_share == pytest.approx(0.2)
    assert b.pai == pytest.approx(2.0)
    summary = summarize(results)["baseline"]
    assert summary.mean_pai == pytest.approx(2.0)
    assert summary.pooled_hit_rate == pytest.approx(0.4)


def test_evaluate_rolls_week_by_week_training_only_on_the_past() -> None:
    # Week 1: all incidents in cell A. Week 2: all in cell B. Week 3: all in cell B.
    a, b = at(0, 0), at(9, 9)
    start = MONDAY - timedelta(weeks=1)
    events = [(start - timedelta(days=1), a), (start - timedelta(days=2), b)]
    events += [(start + timedelta(days=1), a)] * 3
    events += [(MONDAY + timedelta(days=1), b)] * 5
    events += [(MONDAY + timedelta(days=8), b)] * 2
    results = evaluate(
        make_points(events),
        start=start.date(),
        end=(MONDAY + timedelta(days=14)).date(),
        area_fraction=0.5,
        methods=["baseline", "decay"],
    )
    assert [r.n_incidents for r in results] == [3, 5, 2]
    base = [r.methods["baseline"].hits for r in results]
    # Week 1: A and B tie (1 each), broken by cell index -> A; hit all 3.
    # Week 2: A has 4, B 1 -> A is chosen, B's 5 incidents are missed.
    # Week 3: B has 6, A 4 -> B, hit both.
    assert base == [3, 0, 2]
    assert [r.methods["baseline"].pai for r in results] == [2.0, 0.0, 2.0]


def test_evaluate_reports_progress_and_nan_for_empty_weeks() -> None:
    seen: list[tuple[int, int]] = []
    points = make_points([(days_before(3), at(0, 0))])
    results = evaluate(
        points,
        start=UNTIL,
        end=UNTIL + timedelta(days=14),
        methods=["baseline"],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert all(r.n_incidents == 0 and math.isnan(r.methods["baseline"].pai) for r in results)
    assert summarize(results)["baseline"].weeks == 0


def test_week_starts_are_the_mondays_in_the_half_open_range() -> None:
    assert week_starts(date(2020, 7, 6), date(2020, 7, 20)) == [date(2020, 7, 6), date(2020, 7, 13)]
    assert week_starts(date(2020, 7, 7), date(2020, 7, 20)) == [date(2020, 7, 13)]
    assert week_starts(date(2020, 7, 6), date(2020, 7, 6)) == []


# --- methods, projections, GeoJSON -------------------------------------------------------------


def count_method(text: str) -> Method:
    method = parse_method(text)
    assert isinstance(method, Method), text
    return method


def test_parse_method() -> None:
    assert parse_method("baseline") == BASELINE
    # The default is the baseline since the fourth round (docs/forecast.md).
    assert parse_method(DEFAULT_METHOD) == BASELINE
    fine83 = parse_method("fine")
    assert isinstance(fine83, Method)
    assert fine83.cell_m == FINE_CELL_M == 250 / 3 and fine83.half_life_weeks is None
    assert fine83.spec == "hl=inf,nw=0,window=52,cell=250/3"
    assert parse_method(fine83.spec).cell_size(250.0) == fine83.cell_m  # exact round trip
    fine = count_method("cell=125,shrink=1")
    assert (fine.cell_m, fine.shrink, fine.cell_size(250.0)) == (125.0, 1.0, 125.0)
    assert count_method("decay").cell_size(250.0) == 250.0
    assert count_method("fine:cell=100").cell_m == 100.0
    custom = count_method("hl=4,nw=0.5")
    assert (custom.half_life_weeks, custom.neighbour_weight) == (4.0, 0.5)
    over = count_method("decay:nw=0.25")
    assert over.neighbour_weight == 0.25
    assert over.half_life_weeks == count_method("decay").half_life_weeks
    assert count_method("hl=inf,window=26").half_life_weeks is None
    kernel = count_method("decay:ks=20")
    assert (kernel.half_life_weeks, kernel.kernel_m) == (8.0, 20.0)
    assert kernel.spec == "hl=8,nw=0,window=52,ks=20"
    assert count_method(kernel.spec).kernel_m == 20.0
    for bad in ("nope", "hl=x", "zz=1", "hl=-1", "decay:hl", "ks=-5", "cell=0", "shrink=-1"):
        with pytest.raises(ValueError):
            parse_method(bad)


def test_latlon_is_projected_to_sweref_in_sweden_and_utm_elsewhere() -> None:
    t = [datetime(2026, 1, 1)]
    linkoping = points_from_latlon(t, [58.41], [15.62])
    assert linkoping.epsg == SWEREF99TM_EPSG
    vancouver = points_from_latlon(t, [49.28], [-123.12])
    assert vancouver.epsg == 32610
    x, y = Transformer.from_crs(4326, 32610, always_xy=True).transform(-123.12, 49.28)
    assert (vancouver.x[0], vancouver.y[0]) == pytest.approx((x, y))
    with pytest.raises(ValueError):
        points_from_latlon(t, [158.0], [15.0])


def test_grid_cells_align_to_multiples_of_the_cell_size() -> None:
    points = make_points([(days_before(1), (X0 + 10, Y0 + 10)), (days_before(1), at(3, 2))])
    grid = Grid.covering(points, CELL)
    idx = grid.flat_index(points.x, points.y)
    assert grid.lower_left(int(idx[0])) == (X0, Y0)
    assert grid.lower_left(int(idx[1])) == (X0 + 3 * CELL, Y0 + 2 * CELL)
    assert grid.flat_index(np.array([X0 - 10 * CELL]), np.array([Y0]))[0] == -1


@pytest.mark.parametrize(
    ("lat", "lon"), [(58.41, 15.62), (67.85, 20.22), (55.60, 13.00), (49.25, -123.10)]
)
def test_geojson_polygons_are_squares_of_the_cell_size(lat: float, lon: float) -> None:
    rng = np.random.default_rng(1)
    n = 200
    lats = lat + rng.normal(0, 0.01, n)
    lons = lon + rng.normal(0, 0.015, n)
    times = [MONDAY - timedelta(hours=int(h)) for h in rng.integers(1, 2000, n)]
    points = points_from_latlon(times, lats, lons)
    cells = forecast(points, UNTIL, method="fine", area_fraction=0.2)  # 83⅓ m cells
    size = parse_method("fine").cell_size(CELL)
    collection = cells_to_geojson(cells, method="decay", properties={"week_start": "x"})
    assert collection["type"] == "FeatureCollection" and collection["week_start"] == "x"
    assert len(collection["features"]) == len(cells) >= 2
    back = Transformer.from_crs(4326, points.epsg, always_xy=True)
    for feature, cell in zip(collection["features"], cells, strict=True):
        props = feature["properties"]
        assert props["rank"] == cell.rank and props["method"] == "decay"
        assert props["cell_m"] == size and props["score"] == pytest.approx(cell.score)
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and len(ring) == 5
        assert ring[0] == ring[-1]
        assert all(-180 <= lo <= 180 and -90 <= la <= 90 for lo, la in ring)
        xs, ys = back.transform([p[0] for p in ring], [p[1] for p in ring])
        corners = list(zip(xs, ys, strict=True))
        for (xa, ya), (xb, yb) in itertools.pairwise(corners):
            assert math.hypot(xb - xa, yb - ya) == pytest.approx(size, abs=1.0)
        assert math.hypot(xs[2] - xs[0], ys[2] - ys[0]) == pytest.approx(size * 2**0.5, abs=1.0)
        assert (xs[0], ys[0]) == pytest.approx((cell.x0, cell.y0), abs=1.0)
        # Counter-clockwise exterior ring (RFC 7946): positive shoelace area.
        local = [(xa - xs[0], ya - ys[0]) for xa, ya in corners]  # no cancellation
        area = sum(xa * yb - xb * ya for (xa, ya), (xb, yb) in itertools.pairwise(local))
        assert area / 2 == pytest.approx(size**2, rel=1e-3)


# --- CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("forecast")(forecast_command)
    app.command("evaluate")(evaluate_command)
    return app


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def sweden_rows(n_weeks: int = 6) -> list[str]:
    """A hot spot near Linköping's centre, a lukewarm one and scattered incidents."""
    rng = np.random.default_rng(7)
    rows = []
    start = datetime(2026, 1, 5)
    for k in range(n_weeks * 60):
        moment = start + timedelta(minutes=int(rng.integers(0, n_weeks * 7 * 24 * 60)))
        r = k % 6
        if r < 3:
            lat, lon = 58.4108, 15.6214
        elif r == 3:
            lat, lon = 58.3990, 15.5770
        else:
            lat, lon = 58.41 + rng.normal(0, 0.01), 15.62 + rng.normal(0, 0.02)
        rows.append(f"{moment.isoformat()},{lat:.6f},{lon:.6f}")
    return rows


def test_cli_forecast_writes_ranked_geojson(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "in.csv.gz", "time,lat,lon", sweden_rows())
    out = tmp_path / "out" / "forecast.geojson"
    result = runner.invoke(
        cli(),
        ["forecast", "--incidents", str(csv_file), "--until", "2026-02-16", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    features = data["features"]
    assert [f["properties"]["rank"] for f in features] == list(range(1, len(features) + 1))
    assert data["crs"] == "EPSG:3006" and data["week_start"] == "2026-02-16"
    assert {f["properties"]["method"] for f in features} == {DEFAULT_METHOD}
    lon, lat = np.array(features[0]["geometry"]["coordinates"][0][:4]).mean(axis=0)
    assert abs(lat - 58.4108) < 0.003 and abs(lon - 15.6214) < 0.005  # the hot spot is rank 1
    assert data["chosen_area_km2"] == pytest.approx(0.05 * data["study_area_km2"], abs=0.0625)


def test_cli_forecast_reads_projected_columns_and_separate_time_columns(tmp_path: Path) -> None:
    rows = ["Theft,2020,6,1,13,5,491059.48,5459122.41", "Theft,2020,6,2,0,0,491070,5459130"]
    rows += ["Theft,2020,6,3,1,1,0.0,0.0", "Offence,2020,6,3,1,1,,"]  # suppressed: dropped
    rows += ["Theft,2020,5,3,1,1,497300,5456100"]
    csv_file = write_csv(tmp_path / "v.csv", "TYPE,YEAR,MONTH,DAY,HOUR,MINUTE,X,Y", rows)
    result = runner.invoke(
        cli(),
        [
            "forecast",
            *("--incidents", str(csv_file), "--until", "2020-06-08"),
            *("--time-columns", "YEAR,MONTH,DAY,HOUR,MINUTE"),
            *("--x-column", "X", "--y-column", "Y", "--crs", "EPSG:32610"),
            *("--method", "baseline", "--area-fraction", "0.5"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(f["properties"]["x0"], f["properties"]["y0"]) for f in data["features"]] == [
        (491000.0, 5459000.0)
    ]
    assert data["features"][0]["properties"]["score"] == 2.0
    assert "2 rader utan position" in result.stderr


def test_cli_evaluate_json(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "in.csv", "time,lat,lon", sweden_rows(8))
    args = ["evaluate", "--incidents", str(csv_file), "--from", "2026-02-02"]
    result = runner.invoke(cli(), [*args, "--to", "2026-03-02", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [w["week"] for w in data["weeks"]] == ["2026-W06", "2026-W07", "2026-W08", "2026-W09"]
    # Without --method: the baseline (the default) next to the 83⅓ m count.
    assert DEFAULT_METHOD == "baseline" and EVALUATE_METHODS == ("fine",)
    assert set(data["mean"]) == {"baseline", "fine"}
    assert data["own_cell_reference"] == {"baseline": "baseline", "fine": "fine"}
    assert "jittered" not in data and data["gain_vs_own_cell"] == {}
    for week in data["weeks"]:
        for m in week["methods"].values():
            assert m["pai"] == pytest.approx(
                m["hit_rate"] / (m["chosen_km2"] / m["study_km2"]), rel=1e-4
            )
            assert m["chosen_km2"] == pytest.approx(
                0.05 * m["study_km2"], abs=m["cell_m"] ** 2 / 2e6
            )
        # The same study area for both methods, whatever their cell size.
        base, chosen = week["methods"]["baseline"], week["methods"]["fine"]
        assert base["study_km2"] == chosen["study_km2"]
        assert (base["cell_m"], chosen["cell_m"]) == (CELL, FINE_CELL_M)
    assert data["mean"]["baseline"]["mean_pai"] > 1
    gain = data["gain_vs_baseline"]["fine"]
    pais = [(w["methods"]["fine"]["pai"], w["methods"]["baseline"]["pai"]) for w in data["weeks"]]
    assert gain["reference"] == "baseline"
    assert gain["mean_pai_gain"] == pytest.approx(np.mean([a - b for a, b in pais]), abs=1e-5)
    assert gain["weeks_better"] + gain["weeks_worse"] <= 4
    assert gain["hit_rate_ratio"] == pytest.approx(
        data["mean"]["fine"]["mean_hit_rate"] / data["mean"]["baseline"]["mean_hit_rate"],
        rel=1e-5,
    )
    # Without --method baseline, the baseline is still shown next to the given method.
    table = runner.invoke(cli(), [*args, "--to", "2026-03-02", "--method", "smooth"])
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert "2026-W09" in text and "Medel" in text and "smooth" in text
    assert "PAI baseline" in text and "Jämförelse" in text and "som de är" in text


@pytest.mark.parametrize(
    ("method", "cell_m"),
    [("kde-cv", FINE_CELL_M), ("kde:h=20/40,cell=125", 125.0), ("etas", 125.0), ("blend", CELL)],
)
def test_cli_forecast_with_a_point_method(tmp_path: Path, method: str, cell_m: float) -> None:
    csv_file = write_csv(tmp_path / "in.csv", "time,lat,lon", sweden_rows())
    result = runner.invoke(
        cli(),
        ["forecast", "--incidents", str(csv_file), "--until", "2026-02-16", "--method", method],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cell_m"] == cell_m and data["method_params"] == parse_method(method).spec
    features = data["features"]
    assert {f["properties"]["method"] for f in features} == {method}
    lon, lat = np.array(features[0]["geometry"]["coordinates"][0][:4]).mean(axis=0)
    assert abs(lat - 58.4108) < 0.003 and abs(lon - 15.6214) < 0.005  # the hot spot is rank 1
    assert data["chosen_area_km2"] == pytest.approx(
        0.05 * data["study_area_km2"], abs=cell_m**2 / 2e6
    )


def test_cli_evaluate_jitter_side_by_side(tmp_path: Path) -> None:
    """--jitter-m: the same weeks also on positions moved by a seeded Gaussian, each method
    against the baseline and against the count on its own cells, in both versions."""
    csv_file = write_csv(tmp_path / "in.csv", "time,lat,lon", sweden_rows(8))
    args = ["evaluate", "--incidents", str(csv_file), "--from", "2026-02-02", "--to", "2026-03-02"]
    method = ["--method", "kde:h=20/40,cell=125", "--method", "fine"]
    result = runner.invoke(cli(), [*args, *method, "--jitter-m", "40", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["methods"]) == ["baseline", "kde:h=20/40,cell=125", "fine", "count 125 m"]
    assert data["own_cell_reference"]["kde:h=20/40,cell=125"] == "count 125 m"
    jittered = data["jittered"]
    assert (jittered["sigma_m"], jittered["seed"]) == (40.0, 20)
    assert [w["week"] for w in jittered["weeks"]] == [w["week"] for w in data["weeks"]]
    for version in (data, jittered):
        own = version["gain_vs_own_cell"]["kde:h=20/40,cell=125"]
        assert own["reference"] == "count 125 m"
        assert own["weeks_better"] + own["weeks_worse"] <= 4
        assert set(version["gain_vs_baseline"]) == {"kde:h=20/40,cell=125", "fine", "count 125 m"}
    # The jittered positions differ from the given ones, so some weekly figure differs.
    given = [w["methods"]["fine"]["hits"] for w in data["weeks"]]
    moved = [w["methods"]["fine"]["hits"] for w in jittered["weeks"]]
    assert given != moved
    # The same seed gives the same figures; the table shows both versions side by side.
    again = runner.invoke(cli(), [*args, *method, "--jitter-m", "40", "--json"])
    assert json.loads(again.stdout)["jittered"] == jittered
    table = runner.invoke(cli(), [*args, "--jitter-m", "40", "--seed", "3"])
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert "flyttade 40 m" in text and "som de är" in text and "frö 3" in text
    bad = runner.invoke(cli(), [*args, "--jitter-m", "-5"])
    assert bad.exit_code == 2 and "--jitter-m måste vara" in bad.stderr


@pytest.mark.parametrize(
    ("header", "rows", "extra", "expected"),
    [
        ("time,lat,lon", [], [], "Inga händelser"),
        ("time,lat,lon", ["2026-01-01T10:00,,"], [], "No incidents"),
        ("tid,latitud,lon", ["2026-01-01T10:00,58.4,15.6"], [], "Kolumner i filen: tid, latitud"),
        (
            "time,lat,lon",
            ["2026-01-01T10:00,58.4,15.6", "igår,58.4,15.6", "31/12,58.4,15.6"],
            [],
            "2 rader har tider som inte går att tolka (första: rad 3: 'igår')",
        ),
        ("time,lat,lon", ["2026-01-01T10:00,58.4,15.6"], ["--x-column", "lon"], "--x-column"),
        ("time,x,y", ["2026-01-01T10:00,1,2"], ["--x-column", "x", "--y-column", "y"], "--crs"),
        ("time,lat,lon", ["2026-01-01T10:00,58.4,15.6"], ["--area-fraction", "2"], "(0, 1]"),
        ("time,lat,lon", ["2026-01-01T10:00,58.4,öst"], [], "inte är tal"),
        ("time,lat,lon", ["2026-01-01T10:00,58.4,15.6"], ["--method", "magic"], "unknown method"),
        ("time,lat,lon", ["2026-01-01T10:00,58.4,15.6"], ["--method", "ks=90"], "tredjedel"),
    ],
)
def test_cli_input_errors_exit_2_with_swedish_and_english(
    tmp_path: Path, header: str, rows: list[str], extra: list[str], expected: str
) -> None:
    csv_file = write_csv(tmp_path / "in.csv", header, rows)
    result = runner.invoke(
        cli(), ["forecast", "--incidents", str(csv_file), "--until", "2026-02-02", *extra]
    )
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_cli_missing_file_and_no_history(tmp_path: Path) -> None:
    missing = runner.invoke(
        cli(),
        [
            "evaluate",
            "--incidents",
            str(tmp_path / "x.csv"),
            "--from",
            "2026-01-05",
            "--to",
            "2026-02-02",
        ],
    )
    assert missing.exit_code == 2
    assert "Filen finns inte" in missing.stderr and "File not found" in missing.stderr
    csv_file = write_csv(tmp_path / "in.csv", "time,lat,lon", ["2026-03-01T10:00,58.4,15.6"])
    early = runner.invoke(
        cli(), ["forecast", "--incidents", str(csv_file), "--until", "2026-02-02"]
    )
    assert early.exit_code == 2
    assert "Inga händelser före 2026-02-02" in early.stderr
