"""Submitting raw reports on the reports stream, for every producer outside a service's
consumers: `lagesbild submit`, the police importer, the intake's CSV import, the demo and
`rejected replay`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from redis.asyncio import Redis

from shared.contracts import PIPELINE_GROUPS, REPORTS_STREAM
from shared.streams import ensure_groups, send

SUBMIT_CHUNK = 500


async def submit_lines(
    redis_url: str, lines: Iterable[bytes], on_chunk: Callable[[int], object] | None = None
) -> int:
    """Publish each non-empty line, as is, as one raw report; returns how many."""
    sent = 0
    redis = Redis.from_url(redis_url, socket_timeout=30)
    try:
        await ensure_groups(redis, PIPELINE_GROUPS)
        pipe = redis.pipeline(transaction=False)
        for line in lines:
            line = line.strip()
            if not line:
                continue
            await send(pipe, REPORTS_STREAM, line)
            sent += 1
            if sent % SUBMIT_CHUNK == 0:
                await pipe.execute()
                if on_chunk:
                    on_chunk(SUBMIT_CHUNK)
        await pipe.execute()
        if on_chunk:
            on_chunk(sent % SUBMIT_CHUNK)
    finally:
        await redis.aclose()
    return sent
