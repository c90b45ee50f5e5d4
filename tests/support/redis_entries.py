"""Typed reads of stream entries for tests: redis-py types `xrange` loosely (its reply may be
str or bytes, or None), while the streams' readers (`shared.streams.entry_payload`) take the
bytes that a client without `decode_responses` returns."""

from __future__ import annotations

from typing import Any, cast

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

Entry = tuple[bytes, dict[bytes, bytes]]


def stream_entries(redis: Redis, stream: str, **kwargs: Any) -> list[Entry]:
    """`XRANGE stream - +` as (entry id, fields) pairs of bytes."""
    return cast(list[Entry], redis.xrange(stream, **kwargs) or [])


async def stream_entries_async(redis: AsyncRedis, stream: str, **kwargs: Any) -> list[Entry]:
    """`XRANGE stream - +` as (entry id, fields) pairs of bytes, with the asyncio client."""
    return cast(list[Entry], await redis.xrange(stream, **kwargs) or [])
