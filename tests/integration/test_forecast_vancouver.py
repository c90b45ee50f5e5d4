"""The hotspot forecast on real incidents: Vancouver 2020 (VPD open data, UTM zone 10N).

The file lives outside the repository (../shared/data/incidents/); without it these tests skip.
The split is the one in docs/forecast.md: parameters tuned on 2020-W06..W27, evaluated on the
held-out weeks 2020-W28..W52 (W53 is cut off by the end of the data). Three rounds: half-life
× smoothing (the `decay` preset), a wider search at 250 m (nothing beat the baseline), and
the spatial unit (83⅓ m cells, the default `fine`, beat it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.aggregate.forecast import (
    DEFAULT_METHOD,
    METHODS,
    Method,
    Points,
    WeekResult,
    evaluate,
    rank_candidates,
    summarize,
    tune,
)
from services.aggregate.forecast import paired_gain as gain_of
from services.aggregate.forecast_cli import evaluate_command, load_points
from services.aggregate.forecast_study import (
    TEST_WEEKS,
    TUNE_WEEKS,
    VANCOUVER_FILE,
    VANCOUVER_LAYOUT,
    unit_candidates,
)

VANCOUVER = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "incidents" / VANCOUVER_FILE
)
LAYOUT = VANCOUVER_LAYOUT

pytestmark = pytest.mark.skipif(
    not VANCOUVER.is_file(), reason=f"real incident data not present: {VANCOUVER}"
)


@pytest.fixture(scope="module")
def points() -> Points:
    loaded = load_points(VANCOUVER, LAYOUT)
    # Offences against a person and homicides have their position suppressed (X = Y = 0).
    assert loaded.rows == 37_512
    assert loaded.dropped_no_position == 3_751
    return loaded.points


def test_decay_is_level_with_the_52_week_baseline_on_held_out_weeks(
    points: Points,
) -> None:
    """The first round's choice (now the `decay` preset, no longer the default)."""
    results = evaluate(
        points,
        start=TEST_WEEKS[0],
        end=TEST_WEEKS[1],
        area_fraction=0.05,
        methods=["baseline", "decay"],
    )
    assert [r.week for r in results][:: len(results) - 1] == ["2020-W28", "2020-W52"]
    assert all(r.n_incidents > 300 for r in results)
    summary = summarize(results)
    base, chosen = summary["baseline"], summary["decay"]
    assert base.weeks == chosen.weeks == 25
    assert chosen.mean_pai >= base.mean_pai
    assert chosen.mean_hit_rate >= base.mean_hit_rate
    # Plausible: every week concentrates incidents well above chance (PAI 1), and 5 % of
    # the area holds far from all of them.
    for r in results:
        for m in r.methods.values():
            assert 1.0 < m.pai < 20.0
            assert m.area_share == pytest.approx(0.05, abs=0.001)
    # The figures written down in docs/forecast.md.
    assert base.mean_pai == pytest.approx(7.990, abs=0.0005)
    assert chosen.mean_pai == pytest.approx(8.000, abs=0.0005)
    assert base.mean_hit_rate == pytest.approx(0.3995, abs=0.00005)
    assert chosen.mean_hit_rate == pytest.approx(0.4000, abs=0.00005)


def test_tuning_on_the_first_half_picks_the_decay_parameters(points: Points) -> None:
    ranked = tune(
        points,
        start=TUNE_WEEKS[0],
        end=TUNE_WEEKS[1],
        half_lives=[None, 52, 26, 13, 8, 4, 2, 1],
        neighbour_weights=[0, 0.0625, 0.125, 0.25, 0.5],
        area_fraction=0.05,
    )
    best = ranked[0]
    default = METHODS["decay"]
    assert (best.method.half_life_weeks, best.method.neighbour_weight) == (
        default.half_life_weeks,
        default.neighbour_weight,
    )
    assert best.summary.weeks == 22
    assert best.lower_bound > 0  # it beats the baseline by more than one standard error there
    smoothed = [r for r in ranked if r.method.neighbour_weight > 0]
    assert max(r.summary.mean_pai for r in smoothed) < best.summary.mean_pai


def paired_gain(results: Sequence[WeekResult], name: str) -> tuple[float, float]:
    """Mean weekly PAI gain of `name` over "baseline" and its standard error."""
    diff = [r.methods[name].pai - r.methods["baseline"].pai for r in results]
    mean = sum(diff) / len(diff)
    var = sum((d - mean) ** 2 for d in diff) / (len(diff) - 1)
    return mean, math.sqrt(var / len(diff))


def test_position_kernel_wins_tuning_but_does_not_beat_the_baseline_held_out(
    points: Points,
) -> None:
    """The "trying harder" search in docs/forecast.md, reduced to the family that won it:
    a Gaussian position kernel (ks) × half-life. The rule's winner on the tuning weeks does
    not clear the bar on the held-out weeks (gain > 2 SE), so it was not made the default."""
    ranked = tune(
        points,
        start=TUNE_WEEKS[0],
        end=TUNE_WEEKS[1],
        half_lives=[None, 26, 13, 8, 4],
        neighbour_weights=[0],
        kernels_m=[0, 10, 15, 20, 25, 30, 40],
        area_fraction=0.05,
    )
    best = ranked[0]
    assert (best.method.half_life_weeks, best.method.kernel_m) == (8.0, 20.0)
    assert best.gain == pytest.approx(0.093, abs=0.0005)
    assert best.lower_bound == pytest.approx(0.063, abs=0.0005)

    winner = Method("kernel", half_life_weeks=8.0, kernel_m=20.0)
    results = evaluate(points, start=TEST_WEEKS[0], end=TEST_WEEKS[1], methods=["baseline", winner])
    assert summarize(results)["kernel"].mean_pai == pytest.approx(8.013, abs=0.0005)
    gain, se = paired_gain(results, "kernel")
    assert gain == pytest.approx(0.024, abs=0.0005)
    assert se == pytest.approx(0.042, abs=0.0005)
    assert gain < 2 * se  # within noise: not made the default
    assert METHODS[DEFAULT_METHOD].kernel_m == 0


def test_evaluate_command_on_the_real_file() -> None:
    app = typer.Typer()
    app.command("forecast")(lambda: None)
    app.command("evaluate")(evaluate_command)
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            *("--incidents", str(VANCOUVER)),
            *("--time-columns", "YEAR,MONTH,DAY,HOUR,MINUTE"),
            *("--x-column", "X", "--y-column", "Y", "--crs", "EPSG:32610"),
            *("--from", "2020-11-30", "--to", "2020-12-28", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [w["week"] for w in data["weeks"]] == [f"2020-W{n}" for n in (49, 50, 51, 52)]
    assert set(data["mean"]) == {"baseline", DEFAULT_METHOD}
    for week in data["weeks"]:
        base, chosen = week["methods"]["baseline"], week["methods"][DEFAULT_METHOD]
        assert base["study_km2"] == chosen["study_km2"]  # one study area for both
        assert chosen["chosen_km2"] == pytest.approx(0.05 * chosen["study_km2"], rel=0.01)
    assert data["mean"][DEFAULT_METHOD]["mean_pai"] > data["mean"]["baseline"]["mean_pai"]


# --- third round: the spatial unit ------------------------------------------------------------

CELL_SIZES = (250 / 3, 100.0, 125.0, 150.0, 200.0, 250.0)


def test_spatial_unit_tuning_picks_the_default_and_it_beats_the_baseline_held_out(
    points: Points,
) -> None:
    """The rule: the tuning winner (gain − 1 SE on W06..W27) becomes the default only if its
    held-out gain over the 250 m 52-week count is more than 2 SE. Computed here, so the test
    fails if the data, the evaluation or the default change so that this no longer holds."""
    candidates = unit_candidates()
    assert len(candidates) == 32
    ranked = rank_candidates(
        points, start=TUNE_WEEKS[0], end=TUNE_WEEKS[1], candidates=candidates, area_fraction=0.05
    )
    winner = ranked[0].method
    default = METHODS[DEFAULT_METHOD]
    assert (winner.cell_m, winner.half_life_weeks, winner.shrink) == (
        default.cell_m,
        default.half_life_weeks,
        default.shrink,
    )
    assert ranked[0].lower_bound > 0

    results = evaluate(
        points,
        start=TEST_WEEKS[0],
        end=TEST_WEEKS[1],
        area_fraction=0.05,
        methods=["baseline", DEFAULT_METHOD],
    )
    summary = summarize(results)
    base, chosen = summary["baseline"], summary[DEFAULT_METHOD]
    assert base.weeks == chosen.weeks == 25
    gain = gain_of(results, DEFAULT_METHOD)
    assert gain.mean > 2 * gain.se  # the adoption rule, on the held-out weeks
    assert chosen.mean_hit_rate > base.mean_hit_rate
    for r in results:
        b, f = r.methods["baseline"], r.methods[DEFAULT_METHOD]
        assert b.study_km2 == f.study_km2  # the same study area ...
        assert abs(f.area_share - 0.05) <= abs(b.area_share - 0.05) + 1e-9  # ... and budget
        assert f.area_share == pytest.approx(0.05, abs=0.0005)
    # The figures written down in docs/forecast.md.
    assert chosen.mean_pai == pytest.approx(9.633, abs=0.0005)
    assert gain.mean == pytest.approx(1.643, abs=0.0005)
    assert gain.se == pytest.approx(0.080, abs=0.0005)
    assert (gain.better, gain.worse) == (25, 0)
