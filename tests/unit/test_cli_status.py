"""`lagesbild status` reads what the running services say about their numbers (their
reports in Redis, shared/service_status.py) without a database driver or redis-py, knows
when a report lags behind, and counts in the database itself when no service has
reported (or with --db). Real redis-server, real SQLite file, the command as a process."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlmodel import Session

from services.aggregate import status as aggregate_status
from services.ingest import status as ingest_status
from services.ingest.models import RejectedSubmission
from shared.contracts import INGEST_GROUP, REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.redis_lite import connect
from shared.redis_runtime import EmbeddedRedis
from shared.service_status import keep_reporting, status_key
from shared.status_table import own_groups, stream_rows
from tests.unit.test_cli import flat, run

pytestmark = pytest.mark.redis


@pytest.fixture
def env(tmp_path: Path, redis_server: EmbeddedRedis) -> dict[str, str]:
    """This test's Redis and a migrated SQLite file holding two rejected submissions."""
    url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    (tmp_path / "data").mkdir()
    engine = make_engine(url)
    init_db(engine)
    with Session(engine) as s:
        for i in (1, 2):
            s.add(
                RejectedSubmission(
                    entry_id=f"{i}-0",
                    code="invalid_json",
                    message_sv="x",
                    message_en="x",
                    payload="{",
                    rejected_at=datetime.now(UTC),
                )
            )
        s.commit()
    engine.dispose()
    return {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_DATABASE_URL": url,
    }


async def _report_once(env: dict[str, str]) -> None:
    """What the running ingest and aggregate do (`keep_reporting`, their own counts), for
    as long as their first report takes."""
    engine = make_engine(env["LAGESBILD_DATABASE_URL"])
    redis = Redis.from_url(env["LAGESBILD_REDIS_URL"])
    counters = {"ingest": ingest_status.counts, "aggregate": aggregate_status.counts}
    await redis.delete(*[status_key(name) for name in counters])
    tasks = [
        asyncio.create_task(
            keep_reporting(redis, name, partial(count, engine), stream_rows(), own_groups(name))
        )
        for name, count in counters.items()
    ]
    try:
        for _ in range(100):
            if all([await redis.exists(status_key(name)) for name in counters]):
                break
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await redis.aclose()
        engine.dispose()


def _status(env: dict[str, str], *args: str) -> tuple[dict[str, Any], str, list[str]]:
    proc, imported = run("status", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr, imported


def test_status_reads_the_services_reports_without_a_database_driver(
    env: dict[str, str],
) -> None:
    asyncio.run(_report_once(env))
    reported, _err, imported = _status(env)
    assert reported["source"] == "services"
    assert {r["current"] for r in reported["reports"].values()} == {True}
    # neither a database driver nor a Redis client library was needed
    assert not {"sqlalchemy", "sqlmodel", "faststream", "redis"} & set(imported)
    counted, _err, imported = _status(env, "--db")
    assert counted["source"] == "database" and "sqlalchemy" in imported
    numbers = [k for k in counted if k not in ("source", "reports")]
    assert {k: reported[k] for k in numbers} == {k: counted[k] for k in numbers}
    assert reported["rejected_reports"] == 2
    asyncio.run(_report_once(env))  # fresh again, however slow the machine
    proc, _ = run("status", env=env)  # the table says where the numbers come from
    assert "Källa: tjänsternas egna siffror: ingest" in flat(proc.stdout), proc.stderr


def test_a_report_behind_its_group_is_shown_as_not_current(env: dict[str, str]) -> None:
    sync = SyncRedis.from_url(env["LAGESBILD_REDIS_URL"])
    sync.xgroup_create(REPORTS_STREAM, INGEST_GROUP, id="0", mkstream=True)  # as at start
    asyncio.run(_report_once(env))
    # The ingest's group moves on (an entry delivered) after the service's last count.
    try:
        sync.xadd(REPORTS_STREAM, {"payload": "{}"})
        sync.xreadgroup(INGEST_GROUP, "c", {REPORTS_STREAM: ">"})
    finally:
        sync.close()
    reported, _err, _ = _status(env)
    assert reported["source"] == "services"
    assert (reported["reports"]["ingest"]["current"], reported["pending"]) == (False, 1)
    proc, _ = run("status", env=env)
    assert "ingest" in flat(proc.stdout) and "(uppdateras)" in flat(proc.stdout)


def test_without_a_fresh_report_status_counts_in_the_database(env: dict[str, str]) -> None:
    counted, err, _ = _status(env)
    assert counted["source"] == "database" and counted["rejected_reports"] == 2
    assert "Inga aktuella siffror från ingest och aggregate" in flat(err)
    # A report older than the services' heartbeat allows is as good as none.
    asyncio.run(_report_once(env))
    sync = SyncRedis.from_url(env["LAGESBILD_REDIS_URL"])
    try:
        old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        sync.hset(status_key("aggregate"), "at", old)
    finally:
        sync.close()
    counted, err, _ = _status(env)
    assert counted["source"] == "database"
    assert "Inga aktuella siffror från aggregate" in flat(err)


def test_the_small_client_reads_what_redis_py_reads(redis_server: EmbeddedRedis) -> None:
    sync = SyncRedis.from_url(redis_server.url)
    try:
        first = sync.xadd("s", {"payload": "1"})
        sync.xadd("s", {"payload": "2"})
        sync.xgroup_create("s", "g", id="0")
        sync.xreadgroup("g", "c", {"s": ">"}, count=1)
        sync.hset("h", mapping={"a": "1", "b": "å"})
        sync.config_set("requirepass", "hemligt ord")
        sync = SyncRedis.from_url(redis_server.url, password="hemligt ord")
        url = redis_server.url.replace("redis://", "redis://:hemligt%20ord@")
        lite = connect(url)
        assert lite is not None
        with lite:
            [group] = lite.xinfo_groups("s")
            [expected] = sync.xinfo_groups("s")
            assert set(group) == set(expected)  # lag and entries-read from Redis 7 on
            for key, value in expected.items():
                assert group[key] == value, key
            assert group["last-delivered-id"] == first
            assert (lite.xlen("s"), lite.exists("s"), lite.exists("nej")) == (2, 1, 0)
            assert lite.hgetall("h") == sync.hgetall("h") == {b"a": b"1", b"b": "å".encode()}
            assert lite.get("nej") is None
            after = first.decode() if isinstance(first, bytes) else first
            assert lite.xrange_count("s", f"({after}", 100) == 1
        assert connect(redis_server.url.replace("redis://", "rediss://")) is None  # TLS
        sync.config_set("requirepass", "")
    finally:
        sync.close()
