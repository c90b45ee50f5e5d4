"""SIGTERM mid-flow: the ingest exits 0 within the grace time and nothing is lost (what it
left unacked is reclaimed by the next process). Two ingest processes in one consumer group
share the work and store each report exactly once."""

from __future__ import annotations

import functools
import signal
import threading
import time
from pathlib import Path

import pytest
import redis as redis_sync

from shared.contracts import INGEST_GROUP, REPORTS_STREAM
from tests.conftest import wait_for
from tests.integration.test_crash_recovery import (
    _counts,
    _diagnosis,
    _drained,
    _payloads,
    _publish_slowly,
    _start_ingest,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

GRACE_S = 30  # deploy/: compose stop_grace_period and systemd TimeoutStopSec


def _assert_all_stored_once(env: dict[str, str], valid: int, invalid: int, log: str) -> None:
    client = redis_sync.Redis.from_url(env["LAGESBILD_REDIS_URL"])
    try:
        try:
            wait_for(lambda: _drained(client), timeout=60)
        except AssertionError:
            raise AssertionError(_diagnosis(client)) from None
    finally:
        client.close()
    stored, distinct, rejected, conflicts = _counts(env["LAGESBILD_DATABASE_URL"])
    assert stored == distinct == valid, log[-3000:]
    assert (rejected, conflicts) == (invalid, 0)


def _started_more_than(log: Path, n: int) -> bool:
    return log.read_text().count("waiting for messages") > n


def test_sigterm_mid_flow_exits_0_in_time_and_loses_nothing(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "LAGESBILD_BATCH_SIZE": "25"}
    lines, valid, invalid = _payloads(1000, seed=5)
    producer = threading.Thread(target=_publish_slowly, args=(env, lines, tmp_path, 10))
    producer.start()
    log = tmp_path / "ingest.log"
    stops = 0
    while producer.is_alive() or stops < 2:
        proc = _start_ingest(env, log)
        wait_for(functools.partial(_started_more_than, log, stops), 60, 0.05)
        time.sleep(0.5)  # consuming, and (while the producer runs) mid-flow
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(GRACE_S) == 0, log.read_text()[-3000:]
        assert time.monotonic() - started < GRACE_S
        stops += 1
    producer.join()
    proc = _start_ingest(env, log)  # the next process takes over what is left
    try:
        _assert_all_stored_once(env, valid, invalid, log.read_text())
        assert "stopped" in log.read_text()  # each SIGTERM ran the clean shutdown
    finally:
        proc.terminate()
        proc.wait(GRACE_S)


def test_two_ingest_processes_in_one_group_store_each_report_once(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "LAGESBILD_BATCH_SIZE": "25"}
    lines, valid, invalid = _payloads(1200, seed=9)
    logs = [tmp_path / "ingest-a.log", tmp_path / "ingest-b.log"]
    procs = [_start_ingest(env, log) for log in logs]
    try:
        time.sleep(2.0)
        _publish_slowly(env, lines, tmp_path, 12)
        _assert_all_stored_once(env, valid, invalid, logs[0].read_text())
        client = redis_sync.Redis.from_url(env["LAGESBILD_REDIS_URL"])
        consumers = client.xinfo_consumers(REPORTS_STREAM, INGEST_GROUP)
        client.close()
        assert len(consumers) == 2  # one per process, named after its pid
        for log in logs:  # and both did part of the work
            assert "lagesbild.ingest: batch" in log.read_text(), log.read_text()[-2000:]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            assert proc.wait(GRACE_S) == 0
