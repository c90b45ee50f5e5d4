"""Week build cost against history size: the same week built on a 100k- and a 1M-report
history, printed as a ratio (target <= 1.5: the cost follows the week, not the history).
Both histories also hold the guards' patrol visits (one per 100 reports), since the
week's presence is read from them too.

    .venv/bin/python bench/bench_week_build.py [--week-size 2000] [--small 100000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, delete

from services.aggregate import patrol_store
from services.aggregate.builder import WeekBuilder
from services.aggregate.models import WeekSnapshotRow
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import PatrolOrderEventV1, PatrolOrderV1
from shared.db import init_db, make_engine
from shared.weeks import iso_week_of, shift_week, week_bounds

TARGET = "2026-W47"
KOMMUN = load_kommuner()["0580"]
AREAS = [a.name for a in KOMMUN.areas]
CATEGORIES = list(DEFAULT_CATEGORIES)


def _rows(n: int, weeks: list[str], rng: random.Random, tag: str) -> list[tuple]:
    rows = []
    for i in range(n):
        week = weeks[i % len(weeks)]
        start, _ = week_bounds(week)
        at = start + timedelta(seconds=rng.randrange(7 * 86400))
        area = rng.choice(AREAS)
        point = next(a for a in KOMMUN.areas if a.name == area).geometry.representative_point()
        rows.append(
            (
                f"Org/{tag}-{i}",
                "0580",
                iso_week_of(at),
                area,
                rng.choice(CATEGORIES),
                "vaktare",
                at.isoformat(),
                point.y + rng.gauss(0, 0.002),
                point.x + rng.gauss(0, 0.004),
                "exact",
                "text",
                None,
            )
        )
    return rows


def make_db(path: Path, history: int, week_size: int) -> WeekBuilder:
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    rng = random.Random(1)
    # The built week and the week before it are the same in both databases; history is
    # spread over the ~4 years before them.
    history_weeks = [shift_week(TARGET, -i) for i in range(2, 210)]
    rows = _rows(week_size, [TARGET], rng, "w") + _rows(
        week_size, [shift_week(TARGET, -1)], rng, "p"
    )
    rows += _rows(history, history_weeks, rng, "h")
    builder = WeekBuilder(engine, {"0580": KOMMUN}, DEFAULT_CATEGORIES)
    # The same tables the aggregate service keeps as reports arrive, filled in bulk here.
    counts = Counter((r[1], r[2], r[3], r[4]) for r in rows)
    cells = Counter((r[1], r[2], *builder.grid_cell_of(r[1], r[7], r[8])) for r in rows)  # type: ignore[misc]
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO week_incident VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany(
            "INSERT INTO week_count VALUES (?,?,?,?,?)", [(*k, n) for k, n in counts.items()]
        )
        conn.executemany(
            "INSERT INTO week_cell_count VALUES (?,?,?,?,?)", [(*k, n) for k, n in cells.items()]
        )
    add_patrol_visits(builder, history // 100, history_weeks, rng)
    return builder


def add_patrol_visits(
    builder: WeekBuilder, n: int, history_weeks: list[str], rng: random.Random
) -> None:
    """`n` check-in/check-out visits over the history, plus the same 20 in the built week."""
    week_starts = [week_bounds(w)[0] for w in history_weeks]
    starts = [rng.choice(week_starts) + timedelta(hours=rng.randrange(160)) for _ in range(n)]
    target = week_bounds(TARGET)[0]
    starts += [target + timedelta(hours=8 * k) for k in range(20)]
    events = []
    for i, start in enumerate(starts):
        area = KOMMUN.areas[i % len(KOMMUN.areas)]
        point = area.geometry.representative_point()
        order = PatrolOrderV1(
            order_id=f"o{i}", kommun="0580", place=f"{area.name} centrum", lat=point.y,
            lon=point.x, area=area.name, start=start, end=start + timedelta(hours=4), task="x",
        )  # fmt: skip
        steps = (("issued", -30, "TiB", order), ("checked_in", 0, "V", None),
                 ("checked_out", 180, "V", None))  # fmt: skip
        for kind, minutes, by, with_order in steps:
            at = start + timedelta(minutes=minutes)
            events.append(
                PatrolOrderEventV1(
                    order_id=order.order_id,
                    kommun="0580",
                    kind=kind,
                    by=by,
                    at=at,
                    order=with_order,
                )
            )
    for i in range(0, len(events), 5000):
        patrol_store.add_events(builder.engine, events[i : i + 5000])


def time_build(builder: WeekBuilder, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        with Session(builder.engine) as session:
            session.exec(delete(WeekSnapshotRow))
            session.commit()
        start = time.perf_counter()
        builder.build("0580", TARGET, datetime(2026, 11, 30, 6, tzinfo=UTC))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week-size", type=int, default=2000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, history in (("small", args.small), ("large", args.large)):
            builder = make_db(Path(tmp) / f"{label}.db", history, args.week_size)
            results[label] = time_build(builder)
            size, seconds = args.week_size, results[label]
            print(
                f"history {history:>9,} reports, {history // 100:,} patrol visits: "
                f"week of {size} built in {seconds:.3f} s"
            )
    print(f"ratio large / small: {results['large'] / results['small']:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
