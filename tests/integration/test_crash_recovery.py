"""Nothing lost, nothing doubled: kill -9 the ingest consumer mid-batch, restart Redis,
and count what was stored against what was submitted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_sync
from sqlalchemy import func
from sqlmodel import Session, select

from services.ingest.models import RejectedSubmission, ReportConflict, StoredReport
from shared.contracts import INGEST_GROUP, REJECTED_STREAM, REPORTS_STREAM
from shared.db import make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import run_cli, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _payloads(n: int, seed: int) -> tuple[list[bytes], int, int]:
    """n submissions: mostly valid, some invalid, some redelivered copies of valid ones."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    lines, valid, invalid = [], 0, 0
    for i in range(n):
        roll = rng.random()
        if roll < 0.06:
            lines.append(b'{"broken json ' + str(i).encode())
            invalid += 1
            continue
        report = {
            "version": 1,
            "report_id": f"r-{i}",
            "kommun": "0580",
            "source": "vaktare",
            "organisation": "Bevakningsbolaget",
            "category": "klotter",
            "occurred_at": (now - timedelta(minutes=10 + i * 7)).isoformat(),
            "lat": 58.4108 + rng.uniform(-0.01, 0.01),
            "lon": 15.6214 + rng.uniform(-0.01, 0.01),
            "description": f"rapport {i}",
        }
        if roll < 0.10:
            report["category"] = "ufo"
            invalid += 1
        else:
            valid += 1
        line = json.dumps(report).encode()
        lines.append(line)
        if roll > 0.95:  # the sender retries: the same report again
            lines.append(line)
    return lines, valid, invalid


def _start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "ingest"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _counts(db_url: str) -> tuple[int, int, int, int]:
    engine = make_engine(db_url)
    with Session(engine) as s:
        stored = s.exec(select(func.count()).select_from(StoredReport)).one()
        distinct = s.exec(
            select(func.count()).select_from(
                select(StoredReport.organisation, StoredReport.report_id).distinct().subquery()
            )
        ).one()
        rejected = s.exec(select(func.count()).select_from(RejectedSubmission)).one()
        conflicts = s.exec(select(func.count()).select_from(ReportConflict)).one()
    engine.dispose()
    return stored, distinct, rejected, conflicts


def _diagnosis(client: redis_sync.Redis) -> str:
    groups = client.xinfo_groups(REPORTS_STREAM)
    pending = client.xpending(REPORTS_STREAM, INGEST_GROUP)
    return f"groups={groups} pending={pending} last={client.xrevrange(REPORTS_STREAM, count=1)}"


def _drained(client: redis_sync.Redis) -> bool:
    try:
        groups = {g["name"]: g for g in client.xinfo_groups(REPORTS_STREAM)}
        group = groups.get(INGEST_GROUP) or groups.get(INGEST_GROUP.encode())
        if not group:
            return False
        unread = client.xrange(REPORTS_STREAM, min=b"(" + group["last-delivered-id"], count=1)
    except redis_sync.ConnectionError:
        return False
    return group["pending"] == 0 and not unread


def _publish_slowly(env: dict[str, str], lines: list[bytes], tmp: Path, chunks: int) -> None:
    size = len(lines) // chunks + 1
    for k in range(chunks):
        part = tmp / f"part-{k}.jsonl"
        part.write_bytes(b"\n".join(lines[k * size : (k + 1) * size]) + b"\n")
        for _attempt in range(50):  # Redis may be restarting: a real sender retries too
            if run_cli(env, "submit", str(part), check=False).returncode == 0:
                break
            time.sleep(0.2)
        time.sleep(0.15)


def test_kill_9_mid_batch_loses_and_doubles_nothing(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "LAGESBILD_BATCH_SIZE": "25"}
    lines, valid, invalid = _payloads(2500, seed=7)
    producer = threading.Thread(target=_publish_slowly, args=(env, lines, tmp_path, 25))
    producer.start()
    log = tmp_path / "ingest.log"
    kills = 0
    proc = _start_ingest(env, log)
    rng = random.Random(1)
    while producer.is_alive() or kills < 4:
        time.sleep(rng.uniform(0.6, 1.2))
        proc.send_signal(signal.SIGKILL)  # no clean-up, mid-batch or not
        proc.wait()
        kills += 1
        proc = _start_ingest(env, log)
    producer.join()
    client = redis_sync.Redis.from_url(env["LAGESBILD_REDIS_URL"])
    try:
        try:
            wait_for(lambda: _drained(client), timeout=30)
        except AssertionError:
            raise AssertionError(_diagnosis(client)) from None
        stored, distinct, rejected, conflicts = _counts(env["LAGESBILD_DATABASE_URL"])
        assert kills >= 4
        assert stored == distinct == valid, log.read_text()[-2000:]
        assert rejected == invalid
        assert conflicts == 0
        assert client.xlen(REJECTED_STREAM) >= invalid  # the dead letters are on the stream too
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def test_redis_restart_mid_run_loses_no_accepted_submission(
    service_env: dict[str, str], redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    lines, valid, invalid = _payloads(1500, seed=11)
    log = tmp_path / "ingest.log"
    proc = _start_ingest(service_env, log)
    producer = threading.Thread(target=_publish_slowly, args=(service_env, lines, tmp_path, 15))
    producer.start()
    time.sleep(1.0)
    redis_server.stop()  # SIGTERM: the AOF is flushed; what was acknowledged to a sender stays
    time.sleep(0.5)
    redis_server.start()
    producer.join()
    client = redis_sync.Redis.from_url(service_env["LAGESBILD_REDIS_URL"])
    try:
        try:
            wait_for(lambda: _drained(client), timeout=90)
        except AssertionError:
            raise AssertionError(_diagnosis(client)) from None
        stored, distinct, rejected, _ = _counts(service_env["LAGESBILD_DATABASE_URL"])
        assert stored == distinct == valid, log.read_text()[-3000:]
        assert rejected == invalid
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
