"""What every stream-consuming service does around its handlers: consumer name, consumer
groups, reclaimers, an optional scheduler, and an orderly stop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from shared.contracts import CONSUMER_GROUPS
from shared.streams import Reclaimer, ensure_groups

log = logging.getLogger("lagesbild.service")


def consumer_name() -> str:
    # One name per process: a restarted process is a new consumer, and the reclaimers
    # take over what a dead one left pending.
    return f"{socket.gethostname()}-{os.getpid()}"


def run_alongside(
    app: Any,
    *,
    redis: Redis,
    reclaimers: Sequence[Reclaimer],
    interval_s: float,
    scheduler: Any = None,
    close: Sequence[Callable[[], object]] = (),
) -> None:
    """Hook the background work into a FastStream app's life cycle.

    Groups are created before the broker starts; reclaimers and the scheduler start once
    it runs; on stop they are cancelled first, and connections close only after FastStream
    has let the batch in flight finish and be acknowledged.
    """
    tasks: list[asyncio.Task[None]] = []

    @app.on_startup
    async def create_groups() -> None:
        await ensure_groups(redis, CONSUMER_GROUPS)

    @app.after_startup
    async def start_background_work() -> None:
        if scheduler is not None:
            scheduler.start()  # APScheduler's AsyncIOScheduler needs the running loop
        tasks.extend(asyncio.create_task(r.run_forever(interval_s)) for r in reclaimers)

    @app.on_shutdown
    async def stop_background_work() -> None:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
        # Bounded: a task stuck in a blocking call must not hold up the stop; whatever it
        # had claimed stays pending and is reclaimed by the next process.
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    @app.after_shutdown
    async def close_connections() -> None:
        await redis.aclose()
        for fn in close:
            fn()
        log.info("%s: stopped", consumer_name())
