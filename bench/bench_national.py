"""National scale on Monday morning: every kommun of Sweden enabled, a realistic week each on
52 weeks of history, and the weekly build and publication of all their lägesbilder (map,
meeting pack, public version, exports, JSON) timed with 1 and 2 aggregate + maps workers,
on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_national.py [--kommuner 290] [--history-weeks 52]
        [--databases sqlite,postgresql] [--workers 1,2]

Volume: no population table is in the data beside the checkout, and the project does not
write one from memory. The proxy is the police's own open events (`../shared/data/polisen/
events_snapshot_2026-08-22.json`, 500 events from all of Sweden): each kommun gets
50 + 4,950 × (its events / the most any kommun has) reports a week, so 50 to 5,000 (Malmö,
19 events, gets 5,000; the 147 kommuner without an event get 50). Police events grow with
population and activity, so the big cities come out on top, but the proxy is noisy: read
the totals, not one kommun's figure. Total: about 106,000 reports a week.

Reports: 70 % spread over the kommun (points inside its packaged boundary), 30 % around four
spots of its own (so hotspots exist); categories by the EST mix; each week's count drawn
around the kommun's volume (Poisson). History: the 52 weeks before the built week, written
in bulk into the aggregate's tables as the running service keeps them (reports, counts per
area × category and per 250 m cell), as a year of operation leaves them.

The timed part is what the services do on Monday morning: `lagesbild aggregate` and
`lagesbild maps` processes (1 or 2 of each, each worker a consumer of its service's group)
get one build request per kommun on `lagesbild.weeks.build-requested.v1`; the clock runs
from the first request until every kommun's `lagesbild.lagesbild.published.v1` has arrived.
No week is built twice: Redis gives each request to one aggregate consumer and each ready
week to one maps consumer; afterwards the run checks one snapshot (revision 1) and one
publication per kommun, and the files of every week on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import redis
import shapely
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from processes import healthy, new_database, stop_all  # noqa: E402

from services.aggregate.hotspot_grid import HotspotGrid  # noqa: E402
from services.aggregate.models import (  # noqa: E402
    WeekCount,
    WeekGridCellCount,
    WeekIncident,
    WeekSnapshotRow,
)
from services.aggregate.snapshot import HOTSPOT_CELL_M  # noqa: E402
from services.ingest.police import KommunLookup, find_kommun  # noqa: E402
from shared.areas import OTHER_AREA, KommunAreas, load_kommuner  # noqa: E402
from shared.contracts import (  # noqa: E402
    PUBLISHED_STREAM,
    WEEK_BUILD_STREAM,
    LagesbildPublishedV1,
    WeekBuildRequestedV1,
)
from shared.db import init_db, make_engine  # noqa: E402
from shared.kommun_registry import enable  # noqa: E402
from shared.national import boundary_only, national_kommuner  # noqa: E402
from shared.redis_runtime import EmbeddedRedis  # noqa: E402
from shared.streams import entry_payload  # noqa: E402
from shared.weeks import last_complete_week, shift_week, week_bounds  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.support.postgres import start_temp_postgres  # noqa: E402

POLICE_SAMPLE = ROOT.parent / "shared" / "data" / "polisen" / "events_snapshot_2026-08-22.json"
MIN_WEEKLY, MAX_WEEKLY = 50, 5000
# The EST mix of a municipal lägesbild (roughly what the demo's Linköping shows).
CATEGORY_MIX = {
    "ordningsstorning": 0.16, "stold": 0.12, "klotter": 0.12, "skadegorelse": 0.1,
    "nedskrapning": 0.09, "inbrott": 0.08, "storande_samling": 0.08, "narkotika": 0.06,
    "otrygg_plats": 0.05, "buskorning": 0.04, "vald": 0.04, "hot": 0.03, "brand": 0.01,
    "hot_vald_personal": 0.01, "ovrigt": 0.01,
}  # fmt: skip
SPREAD_SHARE = 0.7
BATCH_ROWS = 20_000


# --- the week's volume per kommun ------------------------------------------------------------


def weekly_volumes() -> dict[str, int]:
    """kommunkod -> reports a week, from the police-events proxy (module docstring)."""
    if not POLICE_SAMPLE.is_file():
        sys.exit(f"the volume proxy needs the police sample beside the checkout: {POLICE_SAMPLE}")
    events = json.loads(POLICE_SAMPLE.read_text(encoding="utf-8"))
    lookup = KommunLookup.of({k.name: code for code, k in national_kommuner().items()})
    counts = Counter(find_kommun(e, lookup).kommun for e in events)
    counts.pop(None, None)
    top = max(counts.values())
    return {
        code: min(MAX_WEEKLY, round(MIN_WEEKLY + (MAX_WEEKLY - MIN_WEEKLY) * counts[code] / top))
        for code in national_kommuner()
    }


def chosen(volumes: dict[str, int], n: int) -> list[str]:
    """`n` kommuner spread evenly over the volume ranking (all of them when n >= 290)."""
    ranked = sorted(volumes, key=lambda k: (-volumes[k], k))
    if n >= len(ranked):
        return sorted(ranked)
    step = len(ranked) / n
    return sorted(ranked[int(i * step)] for i in range(n))


# --- data ------------------------------------------------------------------------------------


def kommun_areas(code: str) -> KommunAreas:
    packaged = load_kommuner()
    return packaged[code] if code in packaged else boundary_only(code)


def points_inside(rng: np.random.Generator, areas: KommunAreas, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = areas.boundary.bounds
    shapely.prepare(areas.boundary)
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        lon = rng.uniform(minx, maxx, max(64, 2 * (n - have)))
        lat = rng.uniform(miny, maxy, lon.size)
        inside = shapely.contains_xy(areas.boundary, lon, lat)
        batch = np.column_stack([lat[inside], lon[inside]])
        found.append(batch)
        have += len(batch)
    return np.concatenate(found)[:n]


def week_points(
    rng: np.random.Generator, areas: KommunAreas, spots: np.ndarray, n: int
) -> np.ndarray:
    spread = round(n * SPREAD_SHARE)
    near = spots[rng.integers(0, len(spots), n - spread)]
    scatter = rng.normal(0, 150 / 111_320, (n - spread, 2)) * [1, 2]  # ~150 m
    clustered = near + scatter
    keep = shapely.contains_xy(areas.boundary, clustered[:, 1], clustered[:, 0])
    clustered = np.where(keep[:, None], clustered, near)
    return np.concatenate([points_inside(rng, areas, spread), clustered])


def load_history(
    engine: Engine, kommuner: list[str], volumes: dict[str, int], target: str, history: int
) -> int:
    """The week and its history into the aggregate's tables; returns the reports written."""
    rng = np.random.default_rng(290)
    categories = list(CATEGORY_MIX)
    weights = np.array([CATEGORY_MIX[c] for c in categories])
    weeks = [shift_week(target, -i) for i in range(history, -1, -1)]
    written = 0
    for code in kommuner:
        areas = kommun_areas(code)
        grid = HotspotGrid(areas, HOTSPOT_CELL_M)
        spots = points_inside(rng, areas, 4)
        rows: list[dict[str, Any]] = []
        counts: Counter[tuple[str, str, str, str]] = Counter()
        cells: Counter[tuple[str, str, int, int]] = Counter()
        for week in weeks:
            n = int(rng.poisson(volumes[code]))
            start = week_bounds(week)[0]
            points = week_points(rng, areas, spots, n)
            cats = rng.choice(len(categories), n, p=weights)
            seconds = rng.uniform(0, 7 * 86400, n)
            for i in range(n):
                lat, lon = float(points[i, 0]), float(points[i, 1])
                area = areas.area_of(lat, lon) if areas.areas else OTHER_AREA
                category = categories[cats[i]]
                rows.append(
                    {
                        "key": f"Bench/{code}-{week}-{i}",
                        "kommun": code,
                        "iso_week": week,
                        "area": area,
                        "category": category,
                        "source": "vaktare",
                        "occurred_at": start + timedelta(seconds=float(seconds[i])),
                        "lat": round(lat, 6),
                        "lon": round(lon, 6),
                        "location_precision": "exact",
                        "description": "",
                        "duplicate_of": None,
                    }
                )
                counts[(code, week, area, category)] += 1
                cells[(code, week, *grid.cell(lat, lon))] += 1
            if len(rows) >= BATCH_ROWS:
                _write(engine, WeekIncident, rows)
                written += len(rows)
                rows = []
        _write(engine, WeekIncident, rows)
        written += len(rows)
        _write(engine, WeekCount, _keyed(("kommun", "iso_week", "area", "category"), counts))
        _write(engine, WeekGridCellCount, _keyed(("kommun", "iso_week", "cell_x", "cell_y"), cells))
    return written


def _keyed(names: tuple[str, ...], counted: Counter[Any]) -> list[dict[str, Any]]:
    return [dict(zip(names, key, strict=True), count=n) for key, n in counted.items()]


def _write(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if engine.dialect.name == "postgresql":  # COPY: what a bulk load on PostgreSQL uses
        columns = list(rows[0])
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            names = ", ".join(columns)
            with cursor.copy(f"COPY {table.__tablename__} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            raw.commit()
        finally:
            raw.close()
        return
    with Session(engine) as session:
        session.connection().execute(insert(table), rows)
        session.commit()


# --- the timed run ---------------------------------------------------------------------------


def _read(
    client: redis.Redis, last: str, block: int | None
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Entries of the published stream after `last`."""
    reply = cast(Any, client.xread({PUBLISHED_STREAM: last}, block=block, count=10_000))
    return [(i, f) for _stream, entries in reply or [] for i, f in entries]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(
    db_url: str, kommuner: list[str], target: str, workers: int, workdir: Path
) -> dict[str, Any]:
    engine = make_engine(db_url)
    with Session(engine) as session:  # the week is not built yet (rounds reuse the data)
        session.connection().execute(
            delete(WeekSnapshotRow).where(WeekSnapshotRow.iso_week == target)  # type: ignore[arg-type]
        )
        session.commit()
    server = EmbeddedRedis(free_port(), workdir / "redis").start()
    client = redis.Redis.from_url(server.url)
    out = workdir / "out"
    env = {
        **os.environ,
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATABASE_URL": db_url,
        "LAGESBILD_DATA_DIR": str(workdir / "data"),
        "LAGESBILD_OUTPUT_DIR": str(out),
        "LAGESBILD_MAP_TILES": "",
        "LAGESBILD_KOMMUNER": "[]",  # every kommun comes from the registry
        "LAGESBILD_WEEK_BUILD_CRON": "0 0 1 1 *",  # the bench asks for the builds itself
    }
    ports = {(svc, i): free_port() for svc in ("aggregate", "maps") for i in range(workers)}
    procs = {
        key: subprocess.Popen(
            [sys.executable, "-m", "services.cli", key[0]],
            env={**env, "LAGESBILD_METRICS_PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / f"{key[0]}-{key[1]}.log", "w"),  # noqa: SIM115
        )
        for key, port in ports.items()
    }
    try:
        deadline = time.monotonic() + 120
        while not all(healthy(p) for p in ports.values()):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs.values()):
                raise RuntimeError(f"services did not start; see {workdir}/*.log")
            time.sleep(0.2)
        cpu_before = {key: cpu_seconds(p.pid) for key, p in procs.items()}
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        for code in kommuner:
            request = WeekBuildRequestedV1(kommun=code, iso_week=target)
            client.xadd(WEEK_BUILD_STREAM, {"payload": request.model_dump_json()})
        published: list[LagesbildPublishedV1] = []
        last = "0-0"
        wanted = set(kommuner)
        deadline = time.monotonic() + 3600
        while {p.kommun for p in published} < wanted:
            for entry_id, fields in _read(client, last, block=1000):
                last = entry_id.decode()
                published.append(LagesbildPublishedV1.model_validate_json(entry_payload(fields)))
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs.values()):
                raise RuntimeError(f"not all published; see {workdir}/*.log")
        seconds = time.perf_counter() - start
        load_after = os.getloadavg()[0]
        cpu = {
            f"{k[0]}-{k[1]}": round(cpu_seconds(p.pid) - cpu_before[k], 1) for k, p in procs.items()
        }
        time.sleep(1.0)  # late duplicates, if any, would arrive now
        published += [
            LagesbildPublishedV1.model_validate_json(entry_payload(f))
            for _, f in _read(client, last, block=None)
        ]
        with Session(engine) as session:
            snapshots = (
                session.connection()
                .execute(
                    select(WeekSnapshotRow.kommun, func.max(WeekSnapshotRow.revision), func.count())  # type: ignore[call-overload]
                    .where(WeekSnapshotRow.iso_week == target)
                    .group_by(WeekSnapshotRow.kommun)
                )
                .all()
            )
        built_twice = [k for k, top, n in snapshots if top != 1 or n != 1]
        published_twice = [k for k, n in Counter(p.kommun for p in published).items() if n > 1]
        missing_files = [
            k
            for k in kommuner
            if not all(
                (out / sub / k / target / name).is_file()
                for sub, name in (
                    ("", "karta.html"),
                    ("", "motesunderlag.html"),
                    ("", "sammanfattning.json"),
                    ("", "export.csv"),
                    ("offentlig", "karta.html"),
                    ("offentlig", "sammanfattning.json"),
                )
            )
        ]
        index = json.loads((out / "index.json").read_text(encoding="utf-8"))
        return {
            "seconds": round(seconds, 1),
            "published": len(published),
            "snapshots": len(snapshots),
            "built_twice": built_twice,
            "published_twice": published_twice,
            "missing_files": missing_files,
            "index_entries": len(index),
            "cpu_s": cpu,
            "load": (round(load_before, 1), round(load_after, 1)),
        }
    finally:
        stop_all(procs.values())
        client.close()
        server.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kommuner", type=int, default=290)
    parser.add_argument("--history-weeks", type=int, default=52)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    volumes = weekly_volumes()
    kommuner = chosen(volumes, args.kommuner)
    target = last_complete_week(datetime.now(UTC))
    week_total = sum(volumes[k] for k in kommuner)
    print(
        f"{len(kommuner)} kommuner, about {week_total:,} reports in {target} "
        f"(largest {max(volumes[k] for k in kommuner):,}, smallest "
        f"{min(volumes[k] for k in kommuner)}), {args.history_weeks} weeks of history; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start"
    )
    kinds = args.databases.split(",")
    postgres = start_temp_postgres(free_port()) if "postgresql" in kinds else None
    if "postgresql" in kinds and postgres is None:
        print("no PostgreSQL server installed: SQLite only")
        kinds.remove("postgresql")
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-national-") as tmp:
            for kind in kinds:
                workdir = Path(tmp) / kind
                workdir.mkdir()
                db_url = new_database(kind, workdir, postgres)
                engine = make_engine(db_url)
                init_db(engine)
                now = datetime.now(UTC)
                for code in kommuner:
                    enable(engine, code, by="bench", now=now)
                began = time.perf_counter()
                rows = load_history(engine, kommuner, volumes, target, args.history_weeks)
                loaded = time.perf_counter() - began
                engine.dispose()
                print(f"{kind}: wrote {rows:,} reports (week + history) in {loaded:.0f} s")
                for workers in (int(w) for w in args.workers.split(",")):
                    result = run_round(db_url, kommuner, target, workers, workdir / f"w{workers}")
                    result |= {"database": kind, "workers": workers, "kommuner": len(kommuner),
                               "history_weeks": args.history_weeks, "reports": rows}  # fmt: skip
                    results.append(result)
                    ok = not (
                        result["built_twice"]
                        or result["published_twice"]
                        or result["missing_files"]
                    )
                    print(
                        f"{kind:10} {workers} aggregate + {workers} maps: {len(kommuner)} "
                        f"published in {result['seconds']:.0f} s "
                        f"({result['seconds'] / 60:.1f} min); published events "
                        f"{result['published']}, snapshots {result['snapshots']}, built twice "
                        f"{len(result['built_twice'])}, missing files "
                        f"{len(result['missing_files'])}; CPU s {result['cpu_s']}; "
                        f"load {result['load'][0]} -> {result['load'][1]}"
                        + ("" if ok else "  ** CHECK FAILED **")
                    )
    finally:
        if postgres:
            postgres.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
