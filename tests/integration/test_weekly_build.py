"""The scheduled build against a real Redis: two aggregate instances, one build per week."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.aggregate.jobs import weekly_build
from shared.redis_runtime import EmbeddedRedis

pytestmark = pytest.mark.redis


async def test_two_instances_firing_together_build_each_week_once(
    redis_server: EmbeddedRedis,
) -> None:
    now = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    built: list[tuple[str, str]] = []

    async def build(kommun: str, week: str) -> None:
        await asyncio.sleep(0.05)  # both instances are inside the job at the same time
        built.append((kommun, week))

    first, second = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    runs = await asyncio.gather(
        weekly_build(first, ["0580", "0583"], build, lambda k: set(), now=now),
        weekly_build(second, ["0580", "0583"], build, lambda k: set(), now=now),
    )
    assert sorted(built) == sorted(set(built))  # nothing built twice
    assert len(built) == 2 * 8  # two kommuner, the catch-up horizon of 8 weeks each
    assert sorted(runs[0] + runs[1]) == sorted(built)
    await first.aclose()
    await second.aclose()
