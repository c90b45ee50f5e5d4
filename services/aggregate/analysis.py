"""Weekly analysis: counts against baselines, and which rises are unusual. Pure: no I/O, no now().

Time patterns and reporter coverage are in `patterns`, hotspots in `hotspots`; the methods
and their measured error rates are described in docs/analysis.md.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import fmean, variance

from shared.formats import decimal_sv, number_sv, signed_sv
from shared.weeks import shift_week

Cell = tuple[str, str]  # (area, category)

SHORT_WINDOW = 8
LONG_WINDOW = 52
# Fewer weeks than this and the baseline is too thin to call anything unusual: a new
# installation reports counts but raises no alerts.
MIN_BASELINE_WEEKS = 4
# Half an incident added to the history total: a cell that has been quiet for a year gets a
# small positive expected rate instead of zero, so that one report is not "impossible".
_PRIOR_COUNT = 0.5
# How surely the last 8 weeks must run above the year before them to become the baseline.
LEVEL_SHIFT_P = 0.01


@dataclass(frozen=True)
class CellStats:
    area: str
    category: str
    count: int
    previous: int | None  # None: no data at all in the kommun the previous week
    mean_8: float | None  # mean over the weeks with data among the last 8; None: no such week
    mean_52: float | None
    baseline_weeks: int  # weeks with data among the last 52 (what mean_52 is based on)
    mean_8_weeks: int  # weeks with data among the last 8 (what mean_8 is based on)
    change_vs_previous: int | None
    ratio_vs_mean: float | None  # count / mean_52; None when mean_52 is missing or 0
    p_value: float | None  # None: too little history to test
    q_value: float | None  # Benjamini–Hochberg adjusted p-value across this week's cells
    alert: bool


def negbin_sf(k: int, mean: float, size: float = math.inf) -> float:
    """P(X >= k) for a negative binomial with this mean and size (inf: Poisson)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if math.isinf(size):

        def logpmf(j: int) -> float:
            return j * math.log(mean) - mean - math.lgamma(j + 1)
    else:
        log_p, log_q = math.log(size / (size + mean)), math.log(mean / (size + mean))
        base = size * log_p - math.lgamma(size)

        def logpmf(j: int) -> float:
            return base + math.lgamma(j + size) - math.lgamma(j + 1) + j * log_q

    if k <= mean:  # the upper tail is most of the mass: subtract the short lower sum
        return min(1.0, max(0.0, 1.0 - sum(math.exp(logpmf(j)) for j in range(k))))
    # Sum the upper tail directly so that tiny p-values keep their precision.
    total, j = 0.0, k
    while True:
        term = math.exp(logpmf(j))
        total += term
        if term <= total * 1e-15 or j > k + 100_000:
            return min(1.0, total)
        j += 1


def benjamini_hochberg(p_values: Sequence[float], m: int | None = None) -> list[float]:
    """BH-adjusted p-values (q-values). `m` > len(p_values) counts untested cells as p = 1."""
    m = max(m or 0, len(p_values))
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    q = [1.0] * len(p_values)
    running = 1.0
    for rank in range(len(order), 0, -1):  # step-up: the minimum over all larger ranks
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q


def _tail(observed: int, counts: Sequence[int], weeks: int = 1) -> float:
    """P(a block of `weeks` weeks >= observed) if those weeks were like the weeks in `counts`.

    Negative binomial rather than Poisson, because reports cluster (one vandal, ten tags): the
    size comes from the history's own overdispersion, plus the uncertainty of a mean estimated
    from few, small counts (1/size = (var - mean)/mean² + 1/total), which is what keeps a cell
    with a mean under one per week from alarming at every second report.
    """
    total = sum(counts)
    raw_mean = total / len(counts)
    extra = 0.0
    if len(counts) > 1 and raw_mean > 0:
        extra = max(0.0, (variance(counts) - raw_mean) / raw_mean**2)
    mean = weeks * (total + _PRIOR_COUNT) / len(counts)
    return negbin_sf(observed, mean, 1.0 / (extra / weeks + 1.0 / (total + _PRIOR_COUNT)))


def _baseline_p_value(count: int, short: Sequence[int], long: Sequence[int]) -> float | None:
    """One-sided p-value of this week's count against the cell's baseline weeks."""
    if len(long) < MIN_BASELINE_WEEKS:
        return None
    older = long[len(short) :]
    # If the last 8 weeks already run clearly above the year before them, that level is the
    # new normal: test against it, so a rise is news once, not every week until the yearly
    # mean catches up. Otherwise the whole year, the steadier estimate (testing against both
    # windows always would cost a fifth of the detections, see the docs).
    if (
        len(short) >= MIN_BASELINE_WEEKS
        and len(older) >= MIN_BASELINE_WEEKS
        and _tail(sum(short), older, weeks=len(short)) < LEVEL_SHIFT_P
    ):
        return _tail(count, short)
    return _tail(count, long)


def flag_rises(
    stats: Sequence[CellStats], *, fdr: float = 0.05, min_count: int = 3
) -> list[CellStats]:
    """Set q_value and alert: BH across all tested cells, and at least `min_count` reports.

    Dozens to hundreds of area × category cells are tested every week, so at p < 0.05 each a
    few would light up by chance every week; BH keeps the expected share of false alerts among
    the alerts at `fdr`. The minimum count is for the meeting, not the statistics: two reports
    where none were expected can be "significant" but is not something to act on.
    """
    tested = [i for i, s in enumerate(stats) if s.p_value is not None]
    q_values = benjamini_hochberg([stats[i].p_value or 0.0 for i in tested])
    out = [replace(s, q_value=None, alert=False) for s in stats]
    for i, q in zip(tested, q_values, strict=True):
        alert = q <= fdr and stats[i].count >= min_count
        out[i] = replace(stats[i], q_value=q, alert=alert)
    return out


def cell_stats(
    current: Mapping[Cell, int],
    history: Mapping[str, Mapping[Cell, int]],
    week: str,
    *,
    weeks_with_data: Collection[str] | None = None,
    first_week: str | None = None,
    fdr: float = 0.05,
    min_count: int = 3,
) -> list[CellStats]:
    """Each area × category cell of `week` against the previous week and its baselines.

    `history` maps earlier ISO weeks to their counts. A week counts (with 0 for cells it does not
    mention) if it is in `history` or in `weeks_with_data`; other weeks are left out of the means
    altogether, so that "no data yet" is not mistaken for "nothing happened". So are weeks
    before `first_week`, the first week with complete data (`shared.counting`): a week
    before the first report, or before an organisation reporting now had started, would
    make this week look like a rise.
    """
    observed = set(history) | set(weeks_with_data or ())
    if first_week is not None:
        observed = {w for w in observed if w >= first_week}
    long = [w for w in (shift_week(week, -k) for k in range(1, LONG_WINDOW + 1)) if w in observed]
    short = [w for w in long if w >= shift_week(week, -SHORT_WINDOW)]
    previous_week = shift_week(week, -1)
    cells = set(current)
    for w in long:
        cells |= set(history.get(w, {}))
    stats = []
    for cell in sorted(cells):
        count = current.get(cell, 0)
        counts_long = [history.get(w, {}).get(cell, 0) for w in long]
        counts_short = counts_long[: len(short)]  # `long` runs newest first
        previous = (
            history.get(previous_week, {}).get(cell, 0) if previous_week in observed else None
        )
        mean_8 = fmean(counts_short) if counts_short else None
        mean_52 = fmean(counts_long) if counts_long else None
        p_value = _baseline_p_value(count, counts_short, counts_long)
        stats.append(
            CellStats(
                area=cell[0],
                category=cell[1],
                count=count,
                previous=previous,
                mean_8=None if mean_8 is None else round(mean_8, 2),
                mean_52=None if mean_52 is None else round(mean_52, 2),
                baseline_weeks=len(long),
                mean_8_weeks=len(short),
                change_vs_previous=None if previous is None else count - previous,
                ratio_vs_mean=round(count / mean_52, 2) if mean_52 else None,
                p_value=p_value,
                q_value=None,
                alert=False,
            )
        )
    return flag_rises(stats, fdr=fdr, min_count=min_count)


def describe_change(s: CellStats) -> str:
    """The cell in words, e.g. "7 (förra veckan 2, +5; snitt 1,5 / 8 v, 1,2 / 52 v)". Each
    mean names the weeks it covers; with as many weeks in both, one mean ("snitt 1,5 / 5 v")."""
    parts = []
    if s.previous is not None and s.change_vs_previous is not None:
        parts.append(f"förra veckan {number_sv(s.previous)}, {signed_sv(s.change_vs_previous)}")
    means = [
        (m, n)
        for m, n in ((s.mean_8, s.mean_8_weeks), (s.mean_52, s.baseline_weeks))
        if m is not None and n
    ]
    if len(means) == 2 and means[0][1] == means[1][1]:
        means = means[:1]
    if means:
        parts.append("snitt " + ", ".join(f"{decimal_sv(m)} / {n} v" for m, n in means))
    text = f"{number_sv(s.count)} ({'; '.join(parts)})" if parts else number_sv(s.count)
    return text + (" – ovanligt hög" if s.alert else "")
