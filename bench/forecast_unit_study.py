"""Third forecast round (docs/forecast.md, "Third round: the spatial unit"): does a smaller
cell, with the same area budget, beat the 250 m 52-week-count baseline?

    .venv/bin/python bench/forecast_unit_study.py tune      # tuning weeks W06-W27 only
    .venv/bin/python bench/forecast_unit_study.py holdout   # the tuning winner, W28-W52
    .venv/bin/python bench/forecast_unit_study.py diagnose  # positions; the W53 forecast

`holdout` re-runs the tuning to find the winner (the rule's choice, not a hand pick), then
evaluates only the winner, the baseline, the 250 m decay default and the plain count at the
winner's cell size on the held-out weeks, at area fraction 0.05 and, for the record, at
0.01, 0.02 and 0.10. The study area is always the 250 m cells with a training incident.

The data file is ../shared/data/incidents/vancouver_vpd_crimes_2020.csv.gz (override with
--data). Each command takes well under a minute.
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
    Method,
    Points,
    TuneResult,
    WeekResult,
    evaluate,
    forecast_details,
    paired_gain,
    rank_candidates,
    summarize,
)
from services.aggregate.forecast_cli import load_points
from services.aggregate.forecast_study import (
    HALF_LIFE,
    STUDY_CELL_M,
    TEST_WEEKS,
    TUNE_WEEKS,
    VANCOUVER_FILE,
    VANCOUVER_LAYOUT,
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
    methods = [Method("baseline"), winner]
    if winner.name != "c250 decay8":
        methods.append(Method("c250 decay8 (current default)", half_life_weeks=HALF_LIFE))
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
        if plain.name in summary and plain.name != winner.name:
            gain, se, better, worse = astuple(paired_gain(weeks, winner.name, plain.name))
            print(
                f"winner vs plain count at {size_label(size)} m: {gain:+.3f} ± {se:.3f} "
                f"({better}/{worse})"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["tune", "holdout", "diagnose"])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    started = time.perf_counter()
    points = load_points(args.data, LAYOUT).points
    if args.step == "diagnose":
        run_diagnose(points)
        print(f"\n({time.perf_counter() - started:.1f} s)")
        return
    ranked = run_tune(points)
    if args.step == "tune":
        print_tune(ranked, points)
    else:
        run_holdout(points, ranked)
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
