"""Scale-out of the ingest: the same N reports through 1 and through 2 ingest processes in
one consumer group, on SQLite and on PostgreSQL.

Each process is a separate consumer of the group (its name comes from its pid), so Redis
hands each batch to exactly one of them. Time runs from the first publish until every
report is stored and acknowledged; afterwards stored == submitted and no report is stored
twice, or the run fails. SQLite allows one writer at a time, PostgreSQL many.

    .venv/bin/python bench/bench_scale.py [--reports 20000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from bench_ingest import payloads, publish_all  # noqa: E402
from processes import healthy, new_database, stop_all  # noqa: E402

from shared.contracts import INGEST_GROUP, REPORTS_STREAM  # noqa: E402
from shared.db import init_db, make_engine  # noqa: E402
from shared.redis_runtime import EmbeddedRedis  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.support.postgres import start_temp_postgres  # noqa: E402


def counts(db_url: str) -> tuple[int, int]:
    """(stored rows, distinct idempotency keys) in the ingest's report table."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM report")).scalar_one()
            distinct = conn.execute(
                text("SELECT count(*) FROM (SELECT DISTINCT organisation, report_id FROM report) k")
            ).scalar_one()
    finally:
        engine.dispose()
    return int(stored), int(distinct)


def wait_until(
    predicate: Callable[[], bool], procs: list[subprocess.Popen[bytes]], timeout: float = 600
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("an ingest process exited")
        if time.monotonic() > deadline:
            raise TimeoutError("not done in time")
        time.sleep(0.02)


def run_one(workers: int, db_url: str, lines: list[bytes], workdir: Path) -> float:
    server = EmbeddedRedis(free_port(), workdir / "redis").start()
    client = redis.Redis.from_url(server.url)
    client.xgroup_create(REPORTS_STREAM, INGEST_GROUP, id="0", mkstream=True)
    engine = make_engine(db_url)
    init_db(engine)  # migrate once here, so the processes start alike
    engine.dispose()
    env = {
        **os.environ,
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATABASE_URL": db_url,
        "LAGESBILD_DATA_DIR": str(workdir),
    }
    ports = [free_port() for _ in range(workers)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "services.cli", "ingest"],
            env={**env, "LAGESBILD_METRICS_PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        # Every process consumes (its /healthz says so) before the clock starts.
        wait_until(lambda: all(healthy(port) for port in ports), procs)
        start = publish_all(server.url, lines)

        def done() -> bool:
            pending = client.xpending(REPORTS_STREAM, INGEST_GROUP)["pending"]
            return not pending and counts(db_url)[0] >= len(lines)

        wait_until(done, procs)
        rate = len(lines) / (time.perf_counter() - start)
        stored, distinct = counts(db_url)
        assert stored == distinct == len(lines), f"stored {stored}, distinct {distinct}"
        return rate
    finally:
        stop_all(procs, timeout=30)
        client.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of 1 and 2")
    args = parser.parse_args()
    lines = payloads(args.reports)
    postgres = start_temp_postgres(free_port())
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    if not postgres:
        print("no PostgreSQL server installed: SQLite only")
    print(f"reports: {args.reports}, rounds: {args.rounds} (medians), cores: {os.cpu_count()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                rates: dict[int, list[float]] = {1: [], 2: []}
                for i in range(args.rounds):
                    for workers in rates:  # alternate, so passing load hits both alike
                        workdir = Path(tmp) / f"{kind}-{workers}-{i}"
                        db_url = new_database(kind, workdir, postgres)
                        rates[workers].append(run_one(workers, db_url, lines, workdir))
                one, two = (statistics.median(rates[w]) for w in (1, 2))
                print(
                    f"{kind:10} 1 worker {one:7.0f} reports/s, 2 workers {two:7.0f} reports/s, "
                    f"ratio {two / one:.2f}  (rounds: "
                    + ", ".join(f"{b / a:.2f}" for a, b in zip(rates[1], rates[2], strict=True))
                    + "); stored == submitted, no duplicates"
                )
    finally:
        if postgres:
            postgres.stop()


if __name__ == "__main__":
    main()
