"""Counts against baselines and the unusual-rise test: known answers, false alarms, detection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.aggregate.analysis import (
    CellStats,
    benjamini_hochberg,
    cell_stats,
    describe_change,
    flag_rises,
    negbin_sf,
)
from shared.weeks import shift_week

WEEK = "2026-W20"
CELL = ("Skäggetorp", "klotter")


def _history(series: list[int], cell: tuple[str, str] = CELL) -> dict[str, dict]:
    """series[0] is the week before WEEK, series[1] the one before that, ..."""
    return {shift_week(WEEK, -(k + 1)): {cell: n} for k, n in enumerate(series)}


def _one(stats: list[CellStats], cell: tuple[str, str] = CELL) -> CellStats:
    return next(s for s in stats if (s.area, s.category) == cell)


# --- the distributions and BH ------------------------------------------------------------


def test_poisson_tail_known_answer() -> None:
    assert negbin_sf(3, 1.0) == pytest.approx(1 - 2.5 / math.e)
    assert negbin_sf(0, 1.0) == 1.0
    assert negbin_sf(1, 0.0) == 0.0


@pytest.mark.parametrize("k", [0, 1, 2, 5, 9, 30])
def test_negative_binomial_tail_matches_brute_force(k: int) -> None:
    size, mean = 1.5, 2.5
    p = size / (size + mean)

    def pmf(j: int) -> float:
        return math.exp(
            math.lgamma(j + size)
            - math.lgamma(size)
            - math.lgamma(j + 1)
            + size * math.log(p)
            + j * math.log(1 - p)
        )

    assert negbin_sf(k, mean, size) == pytest.approx(1 - sum(pmf(j) for j in range(k)), abs=1e-12)


def test_tiny_tails_keep_their_precision() -> None:
    # 1 - (sum of the lower tail) would give 0 or noise here.
    expected = sum(math.exp(j * math.log(0.2) - 0.2 - math.lgamma(j + 1)) for j in range(12, 40))
    assert negbin_sf(12, 0.2) == pytest.approx(expected, rel=1e-9)


def test_benjamini_hochberg_known_answer() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.2]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2]
    )
    # Untested cells (m larger than the list) make it stricter.
    assert benjamini_hochberg([0.01], m=10) == pytest.approx([0.1])


# --- counts and baselines ------------------------------------------------------------------


def test_previous_and_means_over_8_and_52_weeks() -> None:
    series = [2, 0, 1, 3, 0, 2, 1, 1] + [1] * 44  # 52 weeks, newest first
    stats = cell_stats({CELL: 5}, _history(series), WEEK)
    s = _one(stats)
    assert (s.count, s.previous, s.change_vs_previous) == (5, 2, 3)
    assert s.mean_8 == pytest.approx(10 / 8)
    assert s.mean_52 == pytest.approx(round(54 / 52, 2))
    assert s.baseline_weeks == 52
    assert s.ratio_vs_mean == pytest.approx(round(5 / round(54 / 52, 2), 2), abs=0.01)


def test_weeks_without_data_are_left_out_not_counted_as_zero() -> None:
    # Data only 3 and 5 weeks back; the other weeks are before the installation or an outage.
    history = {shift_week(WEEK, -3): {CELL: 4}, shift_week(WEEK, -5): {CELL: 2}}
    s = _one(cell_stats({CELL: 1}, history, WEEK))
    assert s.previous is None and s.change_vs_previous is None
    assert s.mean_8 == s.mean_52 == pytest.approx(3.0)
    assert s.baseline_weeks == 2


def test_weeks_with_data_but_no_reports_for_the_cell_count_as_zero() -> None:
    history = {shift_week(WEEK, -3): {CELL: 4}}
    quiet = {shift_week(WEEK, -k) for k in (1, 2, 4)}
    s = _one(cell_stats({}, history, WEEK, weeks_with_data=quiet))
    assert (s.count, s.previous, s.baseline_weeks) == (0, 0, 4)
    assert s.mean_8 == pytest.approx(1.0)


def test_a_cell_gone_quiet_is_still_listed() -> None:
    stats = cell_stats({}, _history([3] * 10), WEEK)
    assert _one(stats).count == 0 and _one(stats).change_vs_previous == -3


def test_new_installation_without_history_raises_no_alert() -> None:
    stats = cell_stats({CELL: 40, ("Ryd", "brand"): 12}, {}, WEEK)
    assert all(not s.alert and s.p_value is None and s.mean_52 is None for s in stats)
    # Three weeks of history is still too thin.
    stats = cell_stats({CELL: 40}, _history([1, 0, 1]), WEEK)
    assert not _one(stats).alert and _one(stats).p_value is None


def test_clear_rise_is_flagged_and_described() -> None:
    s = _one(cell_stats({CELL: 9}, _history([1, 0, 1, 2, 0, 1, 1, 0] * 6), WEEK))
    assert s.alert and s.p_value is not None and s.p_value < 1e-4
    # 48 weeks of history: each mean names the weeks it really covers
    assert (s.mean_8_weeks, s.baseline_weeks) == (8, 48)
    assert describe_change(s).startswith("9 (förra veckan 1, +8; snitt 0,8 / 8 v, 0,8 / 48 v)")
    assert describe_change(s).endswith("ovanligt hög")


def test_means_cover_only_the_weeks_with_complete_data() -> None:
    """Five weeks of data: the "8 v" and "52 v" means are one 5-week mean, said once; weeks
    before the first complete week (here the first, partial one) are left out entirely."""
    history = _history([2, 4, 2, 4, 2])
    s = _one(cell_stats({CELL: 3}, history, WEEK))
    assert (s.mean_8_weeks, s.baseline_weeks, s.mean_8, s.mean_52) == (5, 5, 2.8, 2.8)
    assert describe_change(s) == "3 (förra veckan 2, +1; snitt 2,8 / 5 v)"
    first_complete = shift_week(WEEK, -4)  # the oldest week (-5) was only partly covered
    s = _one(cell_stats({CELL: 3}, history, WEEK, first_week=first_complete))
    assert (s.mean_8_weeks, s.baseline_weeks, s.mean_8) == (4, 4, 3.0)
    # nothing complete before this week: no previous week, no mean, no claim
    s = _one(cell_stats({CELL: 3}, history, WEEK, first_week=WEEK))
    assert (s.previous, s.mean_8, s.baseline_weeks, s.p_value) == (None, None, 0, None)
    assert describe_change(s) == "3"


def test_below_min_count_is_never_an_alert() -> None:
    # Two reports where none in a year is improbable, but not something to act on.
    s = _one(cell_stats({CELL: 2}, _history([0] * 52), WEEK))
    assert s.p_value is not None and s.p_value < 0.01
    assert not s.alert
    assert flag_rises([s], min_count=2)[0].alert


def test_a_level_high_for_two_months_is_not_news() -> None:
    # The last 8 weeks already run at ~6: the year's mean of ~1.7 alone would alert on 7.
    series = [6, 7, 5, 6, 6, 7, 5, 6] + [1] * 44
    s = _one(cell_stats({CELL: 7}, _history(series), WEEK))
    assert s.ratio_vs_mean is not None and s.ratio_vs_mean > 3
    assert not s.alert


def test_clustered_history_makes_the_test_more_careful() -> None:
    # The same mean of 2 per week, and 8 this week.
    steady = _one(cell_stats({CELL: 8}, _history([2] * 52), WEEK))
    bursty = _one(cell_stats({CELL: 8}, _history([0, 0, 0, 8] * 13), WEEK))
    assert steady.p_value is not None and bursty.p_value is not None
    assert steady.alert and not bursty.alert
    assert bursty.p_value > 50 * steady.p_value


# --- false alarms and detection on simulated series ----------------------------------------

N_CELLS, N_WEEKS, N_RISES = 200, 52, 20


def _simulate(
    seed: int, rises: int = 0, dispersion: float | None = None
) -> tuple[list[CellStats], set[tuple[str, str]]]:
    """200 stable cells, means 0.2–5 per week, 52 weeks of history; `rises` cells rise ×4."""
    rng = np.random.default_rng(seed)
    means = np.linspace(0.2, 5.0, N_CELLS)

    def draw(mean: float, size: int) -> np.ndarray:
        if dispersion is None:
            return rng.poisson(mean, size)
        return rng.negative_binomial(dispersion, dispersion / (dispersion + mean), size)

    cells = [(f"område {i // 15}", f"kategori {i % 15}") for i in range(N_CELLS + rises)]
    series = {c: draw(means[i % N_CELLS], N_WEEKS + 1) for i, c in enumerate(cells)}
    risen = set(cells[N_CELLS:])
    for i, c in enumerate(cells[N_CELLS:]):
        mean = float(rng.choice(means))
        series[c] = draw(mean, N_WEEKS + 1)
        series[c][-1] += max(round(3 * mean), 6)  # ×4 the mean, and at least +6
        del i
    history = {
        shift_week(WEEK, -(N_WEEKS - k)): {c: int(s[k]) for c, s in series.items()}
        for k in range(N_WEEKS)
    }
    current = {c: int(s[-1]) for c, s in series.items()}
    return cell_stats(current, history, WEEK), risen


def test_false_alarm_rate_on_stable_series() -> None:
    flagged = total = 0
    for seed in range(20):
        stats, _ = _simulate(seed)
        flagged += sum(s.alert for s in stats)
        total += len(stats)
    rate = flagged / total
    assert rate <= 0.05, f"false-alarm rate {rate:.2%} ({flagged} of {total} cells)"
    # Not just under 5 %: under the global null BH alerts in at most ~5 % of *weeks*.
    assert rate <= 0.005, f"false-alarm rate {rate:.2%} ({flagged} of {total} cells)"


def test_false_alarm_rate_on_clustered_stable_series() -> None:
    # Reports that come in bursts (negative binomial, size 1): still no crying wolf.
    flagged = total = 0
    for seed in range(20):
        stats, _ = _simulate(100 + seed, dispersion=1.0)
        flagged += sum(s.alert for s in stats)
        total += len(stats)
    rate = flagged / total
    assert rate <= 0.05, f"false-alarm rate {rate:.2%} ({flagged} of {total} cells)"


def test_detects_injected_rises() -> None:
    found = injected = false = stable = 0
    for seed in range(20):
        stats, risen = _simulate(200 + seed, rises=N_RISES)
        for s in stats:
            if (s.area, s.category) in risen:
                found, injected = found + s.alert, injected + 1
            else:
                false, stable = false + s.alert, stable + 1
    detection = found / injected
    assert detection >= 0.8, f"detected {detection:.1%} ({found} of {injected})"
    assert false / stable <= 0.05, f"false-alarm rate {false / stable:.2%} with rises present"
