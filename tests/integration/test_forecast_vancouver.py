"""The hotspot forecast on real incidents: Vancouver 2020 (VPD open data, UTM zone 10N).

The file lives outside the repository (../shared/data/incidents/); without it these tests skip.
The split is the one in docs/forecast.md: parameters tuned on 2020-W06..W27, evaluated on the
held-out weeks 2020-W28..W52 (W53 is cut off by the end of the data). Four rounds: half-life
× smoothing (the `decay` preset), a wider search at 250 m (nothing beat the baseline), the
spatial unit (83⅓ m cells, `fine`, beat it on the snapped positions), and GPS-like points:
the same held-out weeks with every position moved by σ = 40 m (seeded), where no method met
the rule, so the default is the baseline again.
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
    BASELINE,
    DEFAULT_METHOD,
    EVALUATE_METHODS,
    JITTER_SEED,
    METHODS,
    AnyMethod,
    Method,
    Points,
    WeekResult,
    evaluate,
    jitter,
    parse_method,
    rank_candidates,
    summarize,
    tune,
)
from services.aggregate.forecast import paired_gain as gain_of
from services.aggregate.forecast_cli import evaluate_command, load_points
from services.aggregate.forecast_study import (
    JITTER_M,
    TEST_WEEKS,
    TUNE_WEEKS,
    VANCOUVER_FILE,
    VANCOUVER_LAYOUT,
    compare,
    criterion,
    decide,
    point_candidates,
    references_for,
    unit_candidates,
)
from tests.conftest import require

VANCOUVER = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "incidents" / VANCOUVER_FILE
)
LAYOUT = VANCOUVER_LAYOUT


@pytest.fixture(autouse=True, scope="module")
def _real_data() -> None:
    require(VANCOUVER.is_file(), f"real incident data not present: {VANCOUVER}")


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
    assert isinstance(best.method, Method)
    assert (best.method.half_life_weeks, best.method.neighbour_weight) == (
        default.half_life_weeks,
        default.neighbour_weight,
    )
    assert best.summary.weeks == 22
    assert best.lower_bound > 0  # it beats the baseline by more than one standard error there
    smoothed = [r for r in ranked if isinstance(r.method, Method) and r.method.neighbour_weight]
    assert max(r.summary.mean_pai for r in smoothed) < best.summary.mean_pai


def paired_gain(results: Sequence[WeekResult], name: str) -> tuple[float, float]:
    """Mean weekly PAI gain of `name` over "baseline" and its standard error."""
    diff = [r.methods[name].pai - r.methods["baseline"].pai for r in results]
    mean = sum(diff) / len(diff)
    var = sum((d - mean) ** 2 for d in diff) / (len(diff) - 1)
    return mean, math.sqrt(var / len(diff))


@pytest.mark.slow  # > 5 s
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
    assert isinstance(best.method, Method)
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
    assert parse_method(DEFAULT_METHOD) == BASELINE  # no position kernel in the default


def test_evaluate_command_on_the_real_file_snapped_and_jittered() -> None:
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
            *("--from", "2020-11-30", "--to", "2020-12-28", "--jitter-m", "40", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [w["week"] for w in data["weeks"]] == [f"2020-W{n}" for n in (49, 50, 51, 52)]
    assert DEFAULT_METHOD == "baseline"
    assert set(data["mean"]) == {"baseline", *EVALUATE_METHODS} == {"baseline", "fine"}
    jittered = data["jittered"]
    assert (jittered["sigma_m"], jittered["seed"]) == (40.0, JITTER_SEED)
    for version in (data, jittered):
        for week in version["weeks"]:
            base, fine = week["methods"]["baseline"], week["methods"]["fine"]
            assert base["study_km2"] == fine["study_km2"]  # one study area for both
            assert fine["chosen_km2"] == pytest.approx(0.05 * fine["study_km2"], rel=0.01)
    # On the snapped positions the 83⅓ m count gains far more over the 250 m count than on
    # GPS-like ones: the gain is the small cells meeting hundred-block snapping.
    snapped = data["gain_vs_baseline"]["fine"]["hit_rate_ratio"]
    moved = jittered["gain_vs_baseline"]["fine"]["hit_rate_ratio"]
    assert snapped > 1.1 and snapped - 1 > 2 * (moved - 1)


# --- third round: the spatial unit ------------------------------------------------------------

CELL_SIZES = (250 / 3, 100.0, 125.0, 150.0, 200.0, 250.0)


def test_spatial_unit_tuning_picks_fine_and_it_beats_the_baseline_on_snapped_positions(
    points: Points,
) -> None:
    """The third round's rule: the tuning winner (gain − 1 SE on W06..W27) was to become the
    default if its held-out gain over the 250 m 52-week count is more than 2 SE. It did
    (`fine`); the fourth round then replaced it by the baseline (GPS-like positions)."""
    candidates = unit_candidates()
    assert len(candidates) == 32
    ranked = rank_candidates(
        points, start=TUNE_WEEKS[0], end=TUNE_WEEKS[1], candidates=candidates, area_fraction=0.05
    )
    winner = ranked[0].method
    fine = METHODS["fine"]
    assert isinstance(winner, Method)
    assert (winner.cell_m, winner.half_life_weeks, winner.shrink) == (
        fine.cell_m,
        fine.half_life_weeks,
        fine.shrink,
    )
    assert ranked[0].lower_bound > 0

    results = evaluate(
        points,
        start=TEST_WEEKS[0],
        end=TEST_WEEKS[1],
        area_fraction=0.05,
        methods=["baseline", "fine"],
    )
    summary = summarize(results)
    base, chosen = summary["baseline"], summary["fine"]
    assert base.weeks == chosen.weeks == 25
    gain = gain_of(results, "fine")
    assert gain.mean > 2 * gain.se  # the third round's rule, on the held-out weeks
    assert chosen.mean_hit_rate > base.mean_hit_rate
    for r in results:
        b, f = r.methods["baseline"], r.methods["fine"]
        assert b.study_km2 == f.study_km2  # the same study area ...
        assert abs(f.area_share - 0.05) <= abs(b.area_share - 0.05) + 1e-9  # ... and budget
        assert f.area_share == pytest.approx(0.05, abs=0.0005)
    # The figures written down in docs/forecast.md.
    assert chosen.mean_pai == pytest.approx(9.633, abs=0.0005)
    assert gain.mean == pytest.approx(1.643, abs=0.0005)
    assert gain.se == pytest.approx(0.080, abs=0.0005)
    assert (gain.better, gain.worse) == (25, 0)


# --- fourth round: GPS-like points --------------------------------------------------------------


@pytest.fixture(scope="module")
def jittered(points: Points) -> Points:
    return jitter(points, JITTER_M, JITTER_SEED)


def by_name(name: str) -> AnyMethod:
    return next(m for _, m in point_candidates() if m.name == name)


DECLARED_WINNER = "etas cell c125"  # docs/forecast.md, fourth round, tuning
FAMILY_WINNERS = ("kde h60 c250", "blend a0.2 nr100 tau14 c250", DECLARED_WINNER)


@pytest.mark.slow  # > 5 s
def test_gps_like_tuning_criterion_ranks_the_declared_winner_first_among_the_family_winners(
    points: Points, jittered: Points
) -> None:
    """The full tuning (90 candidates, `bench/forecast_unit_study.py points-tune`, ~5 min)
    is too slow for the suite; this re-runs its criterion on the three family winners and
    two runners-up of the winning family, on both versions of the positions."""
    names = [*FAMILY_WINNERS, "etas cell c83.3", "etas cell c250"]
    methods = [by_name(n) for n in names]
    full, own = references_for(methods)
    versions = {}
    for label, pts in (("snapped", points), ("jittered", jittered)):
        results = evaluate(
            pts, start=TUNE_WEEKS[0], end=TUNE_WEEKS[1], area_fraction=0.05, methods=full
        )
        versions[label] = compare(results, [m.name for m in full], own)
    scores = {n: criterion(versions["snapped"][n], versions["jittered"][n]) for n in names}
    assert max(scores, key=lambda n: scores[n]) == DECLARED_WINNER
    # The figures written down in docs/forecast.md (criterion; relative gains ± SE).
    assert scores[DECLARED_WINNER] == pytest.approx(0.0010, abs=0.00005)
    assert scores["blend a0.2 nr100 tau14 c250"] == pytest.approx(-0.0027, abs=0.00005)
    assert scores["kde h60 c250"] == pytest.approx(-0.0035, abs=0.00005)
    j = versions["jittered"][DECLARED_WINNER].relative_vs_baseline
    assert j == pytest.approx((0.0267, 0.0109), abs=0.00005)
    # On jittered positions the 83⅓ m count is no better than the 250 m count (tuning weeks).
    fine_j = versions["jittered"]["count 83.3 m"].summary.mean_pai
    assert fine_j == pytest.approx(7.200, abs=0.0005)
    assert versions["jittered"]["baseline"].summary.mean_pai == pytest.approx(7.221, abs=0.0005)


def test_gps_like_held_out_rule_keeps_the_250_m_count_as_the_default(
    points: Points, jittered: Points
) -> None:
    """The fourth round's rule on the held-out weeks, computed: the declared winner beats the
    250 m count by more than 2 SE on both versions of the positions, but it is level with the
    count on its own 125 m cells on snapped positions (0.999 ×, target 1.05 ×), so it is not
    adopted, and the default is the 250 m count."""
    winner = by_name(DECLARED_WINNER)
    full, own = references_for([winner, METHODS["fine"]])
    versions = {}
    for label, pts in (("snapped", points), ("jittered", jittered)):
        results = evaluate(
            pts, start=TEST_WEEKS[0], end=TEST_WEEKS[1], area_fraction=0.05, methods=full
        )
        assert len(results) == 25
        versions[label] = compare(results, [m.name for m in full], own)
    decision = decide(versions["snapped"][winner.name], versions["jittered"][winner.name])
    assert decision.beats_baseline
    assert not decision.reaches_target
    assert decision.adopted is (DEFAULT_METHOD != "baseline")
    assert DEFAULT_METHOD == "baseline" and parse_method(DEFAULT_METHOD) == BASELINE
    # The figures written down in docs/forecast.md.
    assert decision.jittered_ratio == pytest.approx(1.051, abs=0.0005)
    assert decision.snapped_own_ratio == pytest.approx(0.999, abs=0.0005)
    assert decision.jittered_gain.mean == pytest.approx(0.404, abs=0.0005)
    assert decision.jittered_gain.se == pytest.approx(0.060, abs=0.0005)
    assert decision.snapped_gain.mean == pytest.approx(0.910, abs=0.0005)
    own_gain = versions["snapped"][winner.name].vs_own_cell.gain
    assert (own_gain.better, own_gain.worse) == (10, 11)
    # fine: 1.206 × the 250 m count on snapped positions, 1.044 × jittered.
    assert versions["snapped"]["fine"].vs_baseline.hit_ratio == pytest.approx(1.206, abs=0.0005)
    assert versions["jittered"]["fine"].vs_baseline.hit_ratio == pytest.approx(1.044, abs=0.0005)
    assert versions["jittered"]["baseline"].summary.mean_pai == pytest.approx(7.884, abs=0.0005)
