"""Sending the meeting's decisions (DecisionV1) as events on DECISION_STREAM, for both places a
decision is entered: `lagesbild decision add/close` (services/aggregate/plan_cli.py) and the
archive server's decision page (services/maps/server.py).

The event is written with `shared.streams.send`, as every stream is, and scrubbed once
more on the way out. `send_decision` is callable from sync code (a CLI command, a sync
FastAPI endpoint): it runs its own event loop, so never call it from inside a running loop.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from shared.contracts import DECISION_STREAM, DecisionV1
from shared.decisions import scrub_decision
from shared.streams import send

PUBLISH_TIMEOUT_S = 5.0


async def xadd_decision(redis: Redis, decision: DecisionV1) -> str:
    """Write the event (scrubbed) on DECISION_STREAM; returns the entry id."""
    entry_id = await send(redis, DECISION_STREAM, scrub_decision(decision))
    return str(entry_id)


def send_decision(redis_url: str, decision: DecisionV1) -> str:
    """`xadd_decision` from sync code; raises redis' ConnectionError/TimeoutError when no
    Redis answers within PUBLISH_TIMEOUT_S. ("Send", not "publish": in this project a
    week's pages are published, events are sent; docs/architecture.md.)"""

    async def send() -> str:
        redis = Redis.from_url(
            redis_url, socket_connect_timeout=PUBLISH_TIMEOUT_S, socket_timeout=PUBLISH_TIMEOUT_S
        )
        try:
            return await xadd_decision(redis, decision)
        finally:
            await redis.aclose()

    return asyncio.run(send())
