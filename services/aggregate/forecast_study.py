"""The forecast's evaluation protocol on the shared real data (docs/forecast.md), in one
place for the study script (bench/forecast_unit_study.py) and the test that re-runs it
(tests/integration/test_forecast_vancouver.py): the file's layout, the tuning and held-out
weeks, the third round's 32 candidates, and the fourth round's GPS-like jitter, candidates,
tuning criterion and adoption rule, each as written down before its held-out run. Pure
functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from services.aggregate.forecast import (
    BASELINE,
    AnyMethod,
    Gain,
    Method,
    Summary,
    Versus,
    WeekResult,
    summarize,
    versus,
    with_references,
)
from services.aggregate.forecast import (
    JITTER_SEED as FORECAST_JITTER_SEED,
)
from services.aggregate.forecast_cli import CsvLayout
from services.aggregate.forecast_points import (
    CV_BANDWIDTHS_M,
    CV_WEEKS,
    BlendMethod,
    EtasMethod,
    KdeMethod,
)

VANCOUVER_FILE = "vancouver_vpd_crimes_2020.csv.gz"  # in ../shared/data/incidents/
VANCOUVER_LAYOUT = CsvLayout(
    time_columns=("YEAR", "MONTH", "DAY", "HOUR", "MINUTE"),
    x_column="X",
    y_column="Y",
    crs="EPSG:32610",  # UTM zone 10N metres
)
TUNE_WEEKS = (date(2020, 2, 3), date(2020, 7, 6))  # 2020-W06 .. W27 (end excluded)
TEST_WEEKS = (date(2020, 7, 6), date(2020, 12, 28))  # 2020-W28 .. W52 (end excluded)
STUDY_CELL_M = 250.0
CELL_SIZES = (250.0 / 3, 100.0, 125.0, 150.0, 200.0, 250.0)
LAMBDAS = (0.5, 1.0, 2.0)
HALF_LIFE = 8.0


def size_label(cell_m: float) -> str:
    return "83.3" if abs(cell_m - 250 / 3) < 1e-9 else f"{cell_m:g}"


def unit_candidates() -> list[Method]:
    """The 32 candidates of the third round ("the spatial unit")."""
    out: list[Method] = []
    for c in CELL_SIZES:
        tag = f"c{size_label(c)}"
        out.append(Method(f"{tag} count", cell_m=c))
        out.append(Method(f"{tag} decay8", half_life_weeks=HALF_LIFE, cell_m=c))
        if c < STUDY_CELL_M:
            out += [Method(f"{tag} shrink{lam:g}", cell_m=c, shrink=lam) for lam in LAMBDAS]
            out.append(
                Method(f"{tag} decay8+shrink1", half_life_weeks=HALF_LIFE, cell_m=c, shrink=1.0)
            )
    return out


# --- fourth round: GPS-like points (docs/forecast.md, "Fourth round: GPS-like points") -------

JITTER_M = 40.0  # σ of the Gaussian displacement: a phone's accuracy in a town
JITTER_SEED = FORECAST_JITTER_SEED  # 20: numpy default_rng seed of the jitter (the number)
RECORD_SEED = 21  # a second jitter, for the record only (after the decision)
POINT_CELL_SIZES = (250.0 / 3, 125.0, 250.0)
BLEND_ALPHAS = (0.05, 0.1, 0.2, 0.4)
BLEND_SIGMAS_M = (50.0, 100.0)
BLEND_TAUS_DAYS = (7.0, 14.0)
ETAS_TRIGGER_SIGMAS_M = (50.0, 100.0)
ETAS_BACKGROUND_M = (50.0, 100.0)
ETAS_MAX_LAG_DAYS = 56.0
TARGET_RATIO = 1.05  # hit rate vs the 250 m count (jittered) and vs the own-cell count (snapped)
FAMILIES = ("kde", "blend", "etas")


def _c(cell_m: float) -> str:
    return f"c{size_label(cell_m)}"


def point_candidates() -> list[tuple[str, AnyMethod]]:
    """The fourth round's candidates as (family, method), in the order written down."""
    out: list[tuple[str, AnyMethod]] = []
    for c in POINT_CELL_SIZES:
        out.append(("kde", KdeMethod(f"kde-cv {_c(c)}", CV_BANDWIDTHS_M, CV_WEEKS, cell_m=c)))
        out += [("kde", KdeMethod(f"kde h{h:g} {_c(c)}", (h,), cell_m=c)) for h in CV_BANDWIDTHS_M]
    for c in POINT_CELL_SIZES:
        for alpha in BLEND_ALPHAS:
            for sigma in BLEND_SIGMAS_M:
                for tau in BLEND_TAUS_DAYS:
                    name = f"blend a{alpha:g} nr{sigma:g} tau{tau:g} {_c(c)}"
                    out.append(
                        (
                            "blend",
                            BlendMethod(
                                name, alpha=alpha, nr_sigma_m=sigma, nr_tau_days=tau, cell_m=c
                            ),
                        )
                    )
    for c in POINT_CELL_SIZES:
        out.append(
            (
                "etas",
                EtasMethod(f"etas cell {_c(c)}", "cell", max_lag_days=ETAS_MAX_LAG_DAYS, cell_m=c),
            )
        )
        for ts in ETAS_TRIGGER_SIGMAS_M:
            for bg in ETAS_BACKGROUND_M:
                out.append(
                    (
                        "etas",
                        EtasMethod(
                            f"etas gauss ts{ts:g} bg{bg:g} {_c(c)}",
                            "gauss",
                            trigger_sigma_m=ts,
                            background_m=bg,
                            max_lag_days=ETAS_MAX_LAG_DAYS,
                            cell_m=c,
                        ),
                    )
                )
    return out


def reference_counts() -> list[Method]:
    """The plain counts on the candidates' cell sizes (the baseline is the 250 m one)."""
    return [
        BASELINE if c == STUDY_CELL_M else Method(f"count {size_label(c)} m", cell_m=c)
        for c in POINT_CELL_SIZES
    ]


def relative_gain(results: Sequence[WeekResult], name: str, reference: str) -> tuple[float, float]:
    """Mean weekly relative PAI gain (PAI / reference PAI - 1) and its standard error."""
    diff = np.array(
        [
            r.methods[name].pai / r.methods[reference].pai - 1.0
            for r in results
            if not (math.isnan(r.methods[name].pai) or math.isnan(r.methods[reference].pai))
            and r.methods[reference].pai > 0
        ]
    )
    if len(diff) < 2:
        return math.nan, math.nan
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


@dataclass(frozen=True)
class ConditionResult:
    """One method on one version of the positions ("snapped" or "jittered"): its mean hit
    rate and PAI, and how it compares with the 250 m count and with the count on its own
    cells."""

    summary: Summary
    vs_baseline: Versus
    vs_own_cell: Versus
    relative_vs_baseline: tuple[float, float]  # mean relative weekly PAI gain, SE
    relative_vs_own_cell: tuple[float, float]


def compare(
    results: Sequence[WeekResult], names: Sequence[str], own_reference: dict[str, str]
) -> dict[str, ConditionResult]:
    """Each of `names` against "baseline" and against its own-cell count, on these weeks."""
    summary = summarize(results)
    out: dict[str, ConditionResult] = {}
    for name in names:
        own = own_reference[name]
        out[name] = ConditionResult(
            summary[name],
            versus(results, name, BASELINE.name),
            versus(results, name, own),
            relative_gain(results, name, BASELINE.name),
            relative_gain(results, name, own),
        )
    return out


def references_for(methods: Sequence[AnyMethod]) -> tuple[list[AnyMethod], dict[str, str]]:
    """`with_references` on the study's 250 m grid."""
    return with_references(methods, STUDY_CELL_M)


def criterion(snapped: ConditionResult, jittered: ConditionResult) -> float:
    """The fourth round's tuning criterion (higher is better): the smaller of (jittered:
    relative gain over the 250 m count − 1 SE) and (snapped: relative gain over the count on
    the candidate's own cells − 1 SE). Both halves of the target, each counted only as far
    as it is ahead of its noise."""
    j_mean, j_se = jittered.relative_vs_baseline
    s_mean, s_se = snapped.relative_vs_own_cell
    return min(j_mean - j_se, s_mean - s_se)


@dataclass(frozen=True)
class Decision:
    """The fourth round's adoption rule, on the held-out weeks."""

    snapped_gain: Gain  # vs the 250 m count
    jittered_gain: Gain
    jittered_ratio: float  # hit rate / the 250 m count's, jittered
    snapped_own_ratio: float  # hit rate / the own-cell count's, snapped

    @property
    def beats_baseline(self) -> bool:
        """More than 2 SE over the 250 m count, snapped and jittered."""
        return all(g.mean > 2 * g.se for g in (self.snapped_gain, self.jittered_gain))

    @property
    def reaches_target(self) -> bool:
        return self.jittered_ratio >= TARGET_RATIO and self.snapped_own_ratio >= TARGET_RATIO

    @property
    def adopted(self) -> bool:
        return self.beats_baseline and self.reaches_target


def decide(snapped: ConditionResult, jittered: ConditionResult) -> Decision:
    return Decision(
        snapped.vs_baseline.gain,
        jittered.vs_baseline.gain,
        jittered.vs_baseline.hit_ratio,
        snapped.vs_own_cell.hit_ratio,
    )
