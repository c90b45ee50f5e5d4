"""Sustained ingest throughput of the real service against a minimal hand-written consumer.

Both consume the same N valid reports from a fresh Redis and SQLite file, doing the same
work per report: parse JSON, validate the v1 contract, find the area (point in polygon),
insert with ON CONFLICT DO NOTHING, publish an accepted event and XACK. Time runs from
the first publish until every report is stored and acknowledged.

    .venv/bin/python bench/bench_ingest.py [--reports 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
EXTRA_ENV: dict[str, str] = {}
sys.path.insert(0, str(ROOT))

from shared.contracts import INGEST_GROUP, REPORTS_STREAM  # noqa: E402
from shared.redis_runtime import EmbeddedRedis  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def payloads(n: int) -> list[bytes]:
    rng, now = random.Random(3), datetime.now(UTC)
    return [
        json.dumps(
            {
                "version": 1,
                "report_id": f"b-{i}",
                "kommun": "0580",
                "source": "vaktare",
                "organisation": f"Bolag {i % 5}",
                "category": "klotter",
                "occurred_at": (now - timedelta(minutes=5 + i)).isoformat(),
                "lat": 58.41 + rng.uniform(-0.03, 0.03),
                "lon": 15.62 + rng.uniform(-0.05, 0.05),
                "description": "Klotter på fasad",
            }
        ).encode()
        for i in range(n)
    ]


def publish_all(url: str, lines: list[bytes]) -> float:
    client = redis.Redis.from_url(url)
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i, line in enumerate(lines, 1):
        pipe.xadd(REPORTS_STREAM, {"payload": line})
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()
    client.close()
    return start


def stored_rows(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def run_one(kind: str, lines: list[bytes], workdir: Path) -> float:
    workdir.mkdir(parents=True)
    server = EmbeddedRedis(free_port(), workdir / f"redis-{kind}").start()
    db = workdir / f"{kind}.db"
    env = {
        **os.environ,
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATABASE_URL": f"sqlite:///{db}",
        "LAGESBILD_DATA_DIR": str(workdir),
        **EXTRA_ENV,
    }
    client = redis.Redis.from_url(server.url)
    client.xgroup_create(REPORTS_STREAM, INGEST_GROUP, id="0", mkstream=True)
    cmd = (
        [sys.executable, "-m", "services.cli", "ingest"]
        if kind == "service"
        else [
            sys.executable,
            str(Path(__file__).with_name("baseline_consumer.py")),
            server.url,
            str(db),
        ]
    )
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    table = "report" if kind == "service" else "baseline_report"
    try:
        time.sleep(2.0)  # let it start and create its tables
        start = publish_all(server.url, lines)
        while (
            stored_rows(db, table) < len(lines)
            or client.xpending(REPORTS_STREAM, INGEST_GROUP)["pending"]
        ):
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} consumer exited")
            time.sleep(0.02)
        return len(lines) / (time.perf_counter() - start)
    finally:
        proc.terminate()
        proc.wait(10)
        client.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    lines = payloads(args.reports)
    rates: dict[str, list[float]] = {"baseline": [], "service": []}
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate the two so a passing load on the machine hits both alike.
        for i in range(args.rounds):
            for kind in rates:
                rates[kind].append(run_one(kind, lines, Path(tmp) / f"{kind}-{i}"))
    baseline, service = (statistics.median(rates[k]) for k in ("baseline", "service"))
    print(f"reports: {args.reports}, rounds: {args.rounds} (medians)")
    print(f"hand-written redis-py + sqlite3 consumer: {baseline:8.0f} reports/s")
    print(f"lagesbild ingest service (FastStream):    {service:8.0f} reports/s")
    print(f"ratio service / baseline: {service / baseline:.2f} (target >= 0.60)")
    pairs = zip(rates["service"], rates["baseline"], strict=True)
    print("per round:", ", ".join(f"{s / b:.2f}" for s, b in pairs))


if __name__ == "__main__":
    main()
