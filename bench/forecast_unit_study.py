"""Forecast study on the shared Vancouver data (docs/forecast.md).

Third round ("the spatial unit"): does a smaller cell, with the same area budget, beat the
250 m 52-week count?

    .venv/bin/python bench/forecast_unit_study.py tune      # tuning weeks W06-W27 only
    .venv/bin/python bench/forecast_unit_study.py holdout   # the tuning winner, W28-W52
    .venv/bin/python bench/forecast_unit_study.py diagnose  # positions; the W53 forecast

With `--jitter-m M` (and `--seed S`), `tune` and `holdout` also move every position by a
Gaussian of σ = M metres (GPS-like positions) and report the snapped and the jittered results
side by side, against the 250 m count and against the count on each method's own cells.

Fourth round ("GPS-like points"): methods made for point data, tuned on both versions of the
positions (σ = 40 m, seed 20 unless --jitter-m/--seed say otherwise):

    .venv/bin/python bench/forecast_unit_study.py points-tune     # W06-W27: 90 candidates
    .venv/bin/python bench/forecast_unit_study.py points-holdout  # the winners, W28-W52
    .venv/bin/python bench/forecast_unit_study.py timing          # run time, a city-year

`points-holdout` re-runs the tuning to find the winner (the rule's choice, not a hand pick)
and applies the adoption rule written down in docs/forecast.md. The study area is always the
250 m cells with a training incident. The data file is
../shared/data/incidents/vancouver_vpd_crimes_2020.csv.gz (override with --data).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.aggregate.forecast import (
    AnyMethod,
    Method,
    Points,
    TuneResult,
    Versus,
    WeekResult,
    evaluate,
    forecast_details,
    jitter,
    paired_gain,
    parse_method,
    rank_candidates,
    summarize,
)
from services.aggregate.forecast_cli import load_points
from services.aggregate.forecast_study import (
    FAMILIES,
    HALF_LIFE,
    JITTER_M,
    JITTER_SEED,
    RECORD_SEED,
    STUDY_CELL_M,
    TEST_WEEKS,
    TUNE_WEEKS,
    VANCOUVER_FILE,
    VANCOUVER_LAYOUT,
    ConditionResult,
    compare,
    criterion,
    decide,
    point_candidates,
    references_for,
    size_label,
    unit_candidates,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "incidents" / VANCOUVER_FILE
LAYOUT = VANCOUVER_LAYOUT
candidates = unit_candidates


def area_range(results: Sequence[WeekResult], name: str) -> str:
    shares = [r.methods[name].area_share for r in results]
    return f"{min(shares):.2%}–{max(shares):.2%}"


def run_tune(points: Points) -> list[TuneResult]:
    return rank_candidates(
        points,
        start=TUNE_WEEKS[0],
        end=TUNE_WEEKS[1],
        candidates=candidates(),
        area_fraction=0.05,
        cell_m=STUDY_CELL_M,
    )


# --- side by side: snapped and jittered --------------------------------------------------------


def run_conditions(
    conditions: dict[str, Points],
    methods: Sequence[AnyMethod],
    weeks: tuple[date, date],
    fraction: float = 0.05,
) -> tuple[dict[str, dict[str, ConditionResult]], dict[str, list[WeekResult]]]:
    """Evaluate the methods (with the 250 m count and their own-cell counts) on each version
    of the positions; per condition, each method's comparison with both references."""
    full, own = references_for(methods)
    out: dict[str, dict[str, ConditionResult]] = {}
    weekly: dict[str, list[WeekResult]] = {}
    for label, pts in conditions.items():
        results = evaluate(
            pts,
            start=weeks[0],
            end=weeks[1],
            area_fraction=fraction,
            methods=full,
            cell_m=STUDY_CELL_M,
        )
        weekly[label] = results
        out[label] = compare(results, [m.name for m in full], own)
    return out, weekly


def _vs(v: Versus) -> str:
    g = v.gain
    return f"{g.mean:+.3f} ± {g.se:.3f} ({g.better}/{g.worse}) | {v.hit_ratio:.3f}"


def print_side_by_side(
    table: dict[str, dict[str, ConditionResult]], names: Sequence[str], own: dict[str, str]
) -> None:
    print(
        "| method | positions | mean hit rate | mean PAI | vs 250 m count: PAI gain ± SE (b/w) "
        "| hit-rate ratio | own-cell count | vs own-cell count: PAI gain ± SE (b/w) "
        "| hit-rate ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        for label, per in table.items():
            c = per[name]
            base = "— | —" if name == "baseline" else _vs(c.vs_baseline)
            mine = "— | —" if own[name] == name else _vs(c.vs_own_cell)
            print(
                f"| {name} | {label} | {c.summary.mean_hit_rate:.2%} | {c.summary.mean_pai:.3f} "
                f"| {base} | {own[name]} | {mine} |"
            )


def conditions_for(points: Points, sigma: float, seed: int) -> dict[str, Points]:
    out = {"snapped": points}
    if sigma:
        out[f"jittered σ={sigma:g} m"] = jitter(points, sigma, seed)
    return out


# --- third round -------------------------------------------------------------------------------


def print_tune(ranked: list[TuneResult], points: Points) -> None:
    # Weeks better/worse need the weekly figures; re-evaluate once with all candidates.
    cands = candidates()
    weeks = evaluate(
        points,
        start=TUNE_WEEKS[0],
        end=TUNE_WEEKS[1],
        area_fraction=0.05,
        methods=[Method("baseline"), *cands],
        cell_m=STUDY_CELL_M,
    )
    base = summarize(weeks)["baseline"]
    print(f"Tuning weeks {TUNE_WEEKS[0]}..{TUNE_WEEKS[1]} (excl.), area fraction 0.05")
    print(f"baseline (250 m count): mean PAI {base.mean_pai:.3f}, hit {base.mean_hit_rate:.2%}")
    print(
        "| rank | candidate | mean PAI | mean hit rate | gain vs baseline ± SE | gain − SE "
        "| b/w | chosen area share |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, r in enumerate(ranked, start=1):
        _, _, better, worse = astuple(paired_gain(weeks, r.method.name, "baseline"))
        print(
            f"| {n} | {r.method.name} | {r.summary.mean_pai:.3f} | "
            f"{r.summary.mean_hit_rate:.2%} | {r.gain:+.3f} ± {r.gain_se:.3f} | "
            f"{r.lower_bound:+.3f} | {better}/{worse} | {area_range(weeks, r.method.name)} |"
        )


def run_holdout(points: Points, ranked: list[TuneResult]) -> None:
    winner = ranked[0].method
    size = winner.cell_size(STUDY_CELL_M)
    print(f"Tuning winner (the rule's choice): {winner.name} [{winner.spec}]")
    methods: list[AnyMethod] = [Method("baseline"), winner]
    if winner.name != "c250 decay8":
        methods.append(Method("c250 decay8 (decay)", half_life_weeks=HALF_LIFE))
    plain = Method(f"c{size_label(size)} count", cell_m=size)
    if plain.name != winner.name and size != STUDY_CELL_M:
        methods.append(plain)
    for fraction in (0.05, 0.01, 0.02, 0.10):
        weeks = evaluate(
            points,
            start=TEST_WEEKS[0],
            end=TEST_WEEKS[1],
            area_fraction=fraction,
            methods=methods,
            cell_m=STUDY_CELL_M,
        )
        summary = summarize(weeks)
        print(
            f"\nHeld-out weeks {weeks[0].week}..{weeks[-1].week} ({summary['baseline'].weeks} "
            f"weeks, {sum(r.n_incidents for r in weeks)} incidents), area fraction {fraction}"
        )
        print(
            "| method | mean hit rate | mean PAI | gain vs baseline ± SE | gain/SE | b/w "
            "| chosen area share |"
        )
        print("|---|---|---|---|---|---|---|")
        for m in methods:
            s = summary[m.name]
            if m.name == "baseline":
                cols = "— | — | —"
            else:
                gain, se, better, worse = astuple(paired_gain(weeks, m.name, "baseline"))
                cols = f"{gain:+.3f} ± {se:.3f} | {gain / se:+.1f} | {better}/{worse}"
            print(
                f"| {m.name} | {s.mean_hit_rate:.2%} | {s.mean_pai:.3f} | {cols} | "
                f"{area_range(weeks, m.name)} |"
            )
        if fraction == 0.05:
            gain, se, _, _ = astuple(paired_gain(weeks, winner.name, "baseline"))
            verdict = "PASSES" if gain > 2 * se else "does NOT pass"
            print(f"Rule (held-out gain > 2 SE): {gain:+.3f} vs 2 SE = {2 * se:.3f}: {verdict}")
            print("\n| week | incidents | baseline hit | baseline PAI | winner hit | winner PAI |")
            print("|---|---|---|---|---|---|")
            for r in weeks:
                b, w = r.methods["baseline"], r.methods[winner.name]
                print(
                    f"| {r.week} | {r.n_incidents} | {b.hit_rate:.1%} | {b.pai:.2f} | "
                    f"{w.hit_rate:.1%} | {w.pai:.2f} |"
                )


def run_jitter_side_by_side(
    points: Points, methods: Sequence[AnyMethod], weeks: tuple[date, date], sigma: float, seed: int
) -> None:
    table, _ = run_conditions(conditions_for(points, sigma, seed), methods, weeks)
    full, own = references_for(methods)
    print(
        f"\nSnapped and jittered (σ = {sigma:g} m, seed {seed}), weeks {weeks[0]}..{weeks[1]} "
        "(excl.), area fraction 0.05"
    )
    print_side_by_side(table, [m.name for m in full], own)


def run_diagnose(points: Points) -> None:
    """Facts that explain the result, not forecasts: how often incidents share one position,
    and what the default's forecast for 2020-W53 looks like on the map."""
    xy = np.round(np.c_[points.x, points.y], 1)
    _, counts = np.unique(xy, axis=0, return_counts=True)
    print(
        f"{len(points)} incidents with a position at {len(counts)} distinct positions; "
        f"{counts[counts >= 10].sum() / len(points):.1%} of incidents are at a position with "
        f">= 10 incidents; the busiest position has {counts.max()}"
    )
    until = date(2020, 12, 28)
    for method in (Method("baseline"), Method("c83.3 count", cell_m=250 / 3)):
        d = forecast_details(points, until, method=method, cell_m=STUDY_CELL_M, area_fraction=0.05)
        size = d.cell_m
        ij = {(round(c.x0 / size), round(c.y0 / size)) for c in d.cells}
        parents = {
            (math.floor((c.x0 + size / 2) / 250), math.floor((c.y0 + size / 2) / 250))
            for c in d.cells
        }
        patches, seen = 0, set()
        for start in ij:  # 8-connected patches of chosen cells
            if start in seen:
                continue
            patches += 1
            stack = [start]
            seen.add(start)
            while stack:
                i, j = stack.pop()
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        nb = (i + di, j + dj)
                        if nb in ij and nb not in seen:
                            seen.add(nb)
                            stack.append(nb)
        last = d.cells[-1].score
        print(
            f"W53 forecast, {method.name}: {len(d.cells)} cells of {size:.4g} m "
            f"({d.chosen_km2:.3f} of {d.study_km2:.3f} km2, {d.area_share:.2%}), in "
            f"{len(parents)} distinct 250 m cells, {patches} 8-connected patches; "
            f"top score {d.cells[0].score:g}, last chosen {last:g} "
            f"({sum(c.score == last for c in d.cells)} chosen cells have that score)"
        )


# --- fourth round ------------------------------------------------------------------------------


def points_tune(
    points: Points, sigma: float, seed: int
) -> tuple[
    list[tuple[str, AnyMethod, float]], dict[str, dict[str, ConditionResult]], dict[str, str]
]:
    """The candidates ranked by the fourth round's criterion on the tuning weeks: (family,
    method, criterion), best first; ties keep the written order."""
    cands = point_candidates()
    methods = [m for _, m in cands]
    table, _ = run_conditions(conditions_for(points, sigma, seed), methods, TUNE_WEEKS)
    _, own = references_for(methods)
    snapped, jittered = list(table.values())
    scored = [(fam, m, criterion(snapped[m.name], jittered[m.name])) for fam, m in cands]
    order = sorted(
        range(len(scored)),
        key=lambda i: (-scored[i][2] if not math.isnan(scored[i][2]) else math.inf, i),
    )
    return [scored[i] for i in order], table, own


def print_points_tune(
    ranked: list[tuple[str, AnyMethod, float]],
    table: dict[str, dict[str, ConditionResult]],
    own: dict[str, str],
) -> None:
    snapped, jittered = list(table.values())
    labels = list(table)
    print(f"Tuning weeks {TUNE_WEEKS[0]}..{TUNE_WEEKS[1]} (excl.), area fraction 0.05")
    for name in ("baseline", "count 125 m", "count 83.3 m"):
        s, j = snapped[name].summary, jittered[name].summary
        print(
            f"reference {name}: {labels[0]} PAI {s.mean_pai:.3f} hit {s.mean_hit_rate:.2%}; "
            f"{labels[1]} PAI {j.mean_pai:.3f} hit {j.mean_hit_rate:.2%}"
        )
    print(
        "| rank | candidate | family | jittered PAI | jittered vs 250 m: rel. gain ± SE (b/w) "
        "| snapped PAI | snapped vs own-cell count: rel. gain ± SE (b/w) | criterion |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, (fam, m, crit) in enumerate(ranked, start=1):
        cs, cj = snapped[m.name], jittered[m.name]
        jm, jse = cj.relative_vs_baseline
        sm, sse = cs.relative_vs_own_cell
        print(
            f"| {n} | {m.name} | {fam} | {cj.summary.mean_pai:.3f} | {jm:+.2%} ± {jse:.2%} "
            f"({cj.vs_baseline.gain.better}/{cj.vs_baseline.gain.worse}) | "
            f"{cs.summary.mean_pai:.3f} | {sm:+.2%} ± {sse:.2%} "
            f"({cs.vs_own_cell.gain.better}/{cs.vs_own_cell.gain.worse}) | {crit:+.2%} |"
        )
    print()
    for fam in FAMILIES:
        best = next(r for r in ranked if r[0] == fam)
        print(f"family winner {fam}: {best[1].name} [{best[1].spec}] criterion {best[2]:+.2%}")
    print(f"overall winner: {ranked[0][1].name} [{ranked[0][1].spec}]")
    by_jitter = max(
        ranked,
        key=lambda r: (
            jittered[r[1].name].relative_vs_baseline[0]
            - jittered[r[1].name].relative_vs_baseline[1]
        ),
    )
    print(f"(jittered half alone would pick: {by_jitter[1].name})")


def points_holdout(points: Points, sigma: float, seed: int) -> None:
    ranked, _, _ = points_tune(points, sigma, seed)
    winner = ranked[0][1]
    family_winners = [next(r[1] for r in ranked if r[0] == fam) for fam in FAMILIES]
    print(f"Tuning winner (the rule's choice): {winner.name} [{winner.spec}]")
    methods: list[AnyMethod] = [winner]
    fine = Method("fine", cell_m=250 / 3)
    table, weekly = run_conditions(conditions_for(points, sigma, seed), [winner, fine], TEST_WEEKS)
    _, own = references_for([winner, fine])
    snapped, jittered = list(table.values())
    d = decide(snapped[winner.name], jittered[winner.name])
    names = [m.name for m in references_for([winner, fine])[0]]
    print(f"\nHeld-out weeks {TEST_WEEKS[0]}..{TEST_WEEKS[1]} (excl.), area fraction 0.05")
    print_side_by_side(table, names, own)
    print(
        f"\nRule: snapped gain vs 250 m {d.snapped_gain.mean:+.3f} vs 2 SE "
        f"{2 * d.snapped_gain.se:.3f}; jittered {d.jittered_gain.mean:+.3f} vs 2 SE "
        f"{2 * d.jittered_gain.se:.3f} -> beats baseline: {d.beats_baseline}"
    )
    print(
        f"Target: jittered hit ratio vs 250 m {d.jittered_ratio:.3f} (>= 1.05), snapped hit ratio "
        f"vs own-cell count {d.snapped_own_ratio:.3f} (>= 1.05) -> reached: {d.reaches_target}"
    )
    print(f"ADOPTED: {d.adopted}")
    print("\n| week | incidents | positions | 250 m count hit | winner hit | own-cell count hit |")
    print("|---|---|---|---|---|---|")
    for label, results in weekly.items():
        for r in results:
            print(
                f"| {r.week} | {r.n_incidents} | {label} | "
                f"{r.methods['baseline'].hit_rate:.1%} | {r.methods[winner.name].hit_rate:.1%} | "
                f"{r.methods[own[winner.name]].hit_rate:.1%} |"
            )
    # For the record only (after the decision): the other families' winners, another jitter.
    others = [m for m in family_winners if m.name != winner.name]
    if others:
        table, _ = run_conditions(conditions_for(points, sigma, seed), others, TEST_WEEKS)
        full, own = references_for(others)
        print("\nFor the record: the other families' tuning winners, held-out weeks")
        print_side_by_side(table, [m.name for m in others], own)
    table, _ = run_conditions(conditions_for(points, sigma, RECORD_SEED), methods, TEST_WEEKS)
    full, own = references_for(methods)
    print(f"\nFor the record: the winner with another jitter (seed {RECORD_SEED})")
    print_side_by_side(table, [m.name for m in full], own)


# Run after the decision, for the record: the jittered half's own favourites (the pick of the
# jittered half of the criterion alone, and the cross-validated KDE on 83⅓ m cells).
RECORD_PICKS = ("etas gauss ts100 bg50 c83.3", "kde-cv c83.3")


def points_record(points: Points, sigma: float, seed: int) -> None:
    picks = [m for _, m in point_candidates() if m.name in RECORD_PICKS]
    table, _ = run_conditions(conditions_for(points, sigma, seed), picks, TEST_WEEKS)
    full, own = references_for(picks)
    print(f"Held-out weeks {TEST_WEEKS[0]}..{TEST_WEEKS[1]} (excl.), after the decision")
    print_side_by_side(table, [m.name for m in full], own)


def timing(points: Points, sigma: float, seed: int) -> None:
    """Wall time of one forecast for 2020-W53 from the whole year, per method, and as a ratio
    to the 250 m count timed in the same run (best of 3; the machine is shared). The point
    methods start cold here: no cache, no previous week's fit."""
    timed: list[AnyMethod] = [parse_method(name) for name in TIMED]
    timed += [m for _, m in point_candidates() if m.name in TIMED_CANDIDATES]
    until = date(2020, 12, 28)
    for label, pts in conditions_for(points, sigma, seed).items():
        base_time = math.nan
        print(f"\n{label}: one forecast for the week of {until}, {len(pts)} incidents of 2020")
        print("| method | spec | seconds (best of 3) | × the 250 m count |")
        print("|---|---|---|---|")
        for m in timed:
            best = math.inf
            for _ in range(3):
                started = time.perf_counter()
                forecast_details(pts, until, method=m, cell_m=STUDY_CELL_M, area_fraction=0.05)
                best = min(best, time.perf_counter() - started)
            if m.name == "baseline":
                base_time = best
            print(f"| {m.name} | `{m.spec}` | {best:.3f} | {best / base_time:.0f} |")


TIMED = ("baseline", "fine", "kde", "kde-cv", "blend", "etas")
TIMED_CANDIDATES = ("etas gauss ts100 bg50 c83.3",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "step",
        choices=[
            "tune",
            "holdout",
            "diagnose",
            "points-tune",
            "points-holdout",
            "points-record",
            "timing",
        ],
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--jitter-m",
        type=float,
        default=None,
        help="σ in metres of a Gaussian displacement of every point; the results with and "
        f"without it side by side (points-*/timing: default {JITTER_M:g})",
    )
    parser.add_argument("--seed", type=int, default=JITTER_SEED, help="seed of the jitter")
    args = parser.parse_args()
    started = time.perf_counter()
    points = load_points(args.data, LAYOUT).points
    sigma = args.jitter_m
    if args.step == "diagnose":
        run_diagnose(points)
    elif args.step in ("points-tune", "points-holdout", "points-record", "timing"):
        sigma = JITTER_M if sigma is None else sigma
        if args.step == "points-tune":
            print_points_tune(*points_tune(points, sigma, args.seed))
        elif args.step == "points-holdout":
            points_holdout(points, sigma, args.seed)
        elif args.step == "points-record":
            points_record(points, sigma, args.seed)
        else:
            timing(points, sigma, args.seed)
    else:
        ranked = run_tune(points)
        if args.step == "tune":
            print_tune(ranked, points)
            if sigma:
                run_jitter_side_by_side(
                    points, [r.method for r in ranked], TUNE_WEEKS, sigma, args.seed
                )
        else:
            run_holdout(points, ranked)
            if sigma:
                winner = ranked[0].method
                run_jitter_side_by_side(
                    points,
                    [winner, Method("c250 decay8 (decay)", half_life_weeks=HALF_LIFE)],
                    TEST_WEEKS,
                    sigma,
                    args.seed,
                )
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
