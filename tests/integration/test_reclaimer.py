"""The reclaimer closes FastStream's gap: pending entries of dead consumers are retried,
poison entries are dead-lettered after N deliveries, trimming spares unacked entries."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.redis_runtime import EmbeddedRedis
from shared.streams import RawEntry, Reclaimer, ensure_groups, trim_acknowledged
from tests.support.redis_entries import stream_entries_async

pytestmark = pytest.mark.redis
STREAM, GROUP = "test.reports", "ingest"


async def _leave_pending(redis: Redis, payloads: list[bytes], consumer: str = "dead-1") -> None:
    await ensure_groups(redis, {STREAM: (GROUP,)})
    for p in payloads:
        await redis.xadd(STREAM, {"payload": p})
    await redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=len(payloads))  # then "crash"


def _reclaimer(
    redis: Redis,
    settled: list[RawEntry],
    dead: list[tuple[RawEntry, str]],
    *,
    poison: bytes = b"",
    max_failures: int = 3,
) -> Reclaimer:
    async def settle(entries: list[RawEntry]) -> None:
        if any(e.payload == poison for e in entries):
            raise RuntimeError("cannot process")
        settled.extend(entries)

    async def dead_letter(entry: RawEntry, reason: str) -> None:
        dead.append((entry, reason))

    return Reclaimer(
        redis=redis,
        stream=STREAM,
        group=GROUP,
        consumer="survivor",
        settle=settle,
        dead_letter=dead_letter,
        min_idle_ms=0,
        max_failures=max_failures,
        max_deliveries=20,
    )


async def test_a_dead_consumers_pending_entries_are_processed_and_acked(
    redis_server: EmbeddedRedis,
) -> None:
    redis = Redis.from_url(redis_server.url)
    await _leave_pending(redis, [b"a", b"b", b"c"])
    settled: list[RawEntry] = []
    assert await _reclaimer(redis, settled, []).run_once() == 3
    assert sorted(e.payload for e in settled) == [b"a", b"b", b"c"]
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    await redis.aclose()


async def test_a_poison_entry_is_dead_lettered_after_max_failures_and_spares_the_rest(
    redis_server: EmbeddedRedis,
) -> None:
    redis = Redis.from_url(redis_server.url)
    await _leave_pending(redis, [b"ok-1", b"poison", b"ok-2"])
    settled: list[RawEntry] = []
    dead: list[tuple[RawEntry, str]] = []
    reclaimer = _reclaimer(redis, settled, dead, poison=b"poison", max_failures=3)
    assert await reclaimer.run_once() == 2  # failure 1: the neighbours go through
    assert await reclaimer.run_once() == 0  # failure 2: still retried
    assert dead == []
    assert await reclaimer.run_once() == 1  # failure 3: dead-lettered and acked
    assert [e.payload for e, _ in dead] == [b"poison"]
    assert "failed 3 times" in dead[0][1] and "cannot process" in dead[0][1]
    assert sorted(e.payload for e in settled) == [b"ok-1", b"ok-2"]
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    await redis.aclose()


async def test_redeliveries_after_crashes_are_not_failures(redis_server: EmbeddedRedis) -> None:
    redis = Redis.from_url(redis_server.url)
    await _leave_pending(redis, [b"survivor"])
    for n in range(5):  # five consumers read it and died before acknowledging
        await redis.xclaim(STREAM, GROUP, f"dead-{n + 2}", 0, [b"0-0"], justid=True)
        await redis.xautoclaim(STREAM, GROUP, f"dead-{n + 2}", 0, count=10)
    settled: list[RawEntry] = []
    dead: list[tuple[RawEntry, str]] = []
    assert await _reclaimer(redis, settled, dead).run_once() == 1
    assert dead == [] and [e.payload for e in settled] == [b"survivor"]
    assert settled[0].deliveries > 3  # more deliveries than max_failures, yet processed
    await redis.aclose()


async def test_trimming_never_removes_an_unacknowledged_entry(redis_server: EmbeddedRedis) -> None:
    redis = Redis.from_url(redis_server.url)
    await ensure_groups(redis, {STREAM: (GROUP, "other")})
    ids = [await redis.xadd(STREAM, {"payload": str(i)}) for i in range(10)]
    await redis.xreadgroup(GROUP, "c", {STREAM: ">"}, count=10)
    await redis.xack(STREAM, GROUP, *ids[:6])  # ingest: 6 acked, 4 pending
    await redis.xreadgroup("other", "c", {STREAM: ">"}, count=8)
    await redis.xack(STREAM, "other", *ids[:8])  # other group: 8 acked, 2 unread
    assert await trim_acknowledged(redis, STREAM) == 6
    remaining = [e[0] for e in await stream_entries_async(redis, STREAM)]
    assert remaining == ids[6:]
    await redis.aclose()
