"""What every stream-consuming service does around its handlers: consumer name, consumer
groups, reclaimers, an optional scheduler, and an orderly stop.

`run_alongside` hooks this into a FastStream app (ingest, aggregate, maps);
`consume_streams` runs the same inside a web service's own life cycle (the intake, the TiB
and the archive server run it as a task of their FastAPI lifespan)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from shared.contracts import groups_to_create
from shared.streams import Handler, Reclaimer, ensure_groups, reclaimers, register

log = logging.getLogger("lagesbild.service")


def consumer_name() -> str:
    # One name per process: a restarted process is a new consumer, and the reclaimers
    # take over what a dead one left pending.
    return f"{socket.gethostname()}-{os.getpid()}"


def run_alongside(
    app: Any,
    *,
    service: str,
    redis: Redis,
    reclaimers: Sequence[Reclaimer],
    interval_s: float,
    scheduler: Any = None,
    close: Sequence[Callable[[], object]] = (),
) -> None:
    """Hook the background work into a FastStream app's life cycle.

    Groups (the pipeline's and `service`'s own, from the stream table) are created before
    the broker starts; reclaimers and the scheduler start once
    it runs; on stop they are cancelled first, and connections close only after FastStream
    has let the batch in flight finish and be acknowledged.
    """
    tasks: list[asyncio.Task[None]] = []

    @app.on_startup
    async def create_groups() -> None:
        await ensure_groups(redis, groups_to_create(service))

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


async def consume_streams(
    service: str,
    handlers: Mapping[str, Handler],
    *,
    redis: Redis,
    settings: Any,
    also: Sequence[Callable[[], Awaitable[object]]] = (),
) -> None:
    """Run `service`'s stream consumers until cancelled: the pipeline's and its own groups
    (waiting for Redis if it is down or loading), a FastStream broker with the subscribers
    the stream table gives it, one Reclaimer per stream, and `also` (periodic jobs). On
    cancel the reclaimers stop first, then the broker (FastStream lets the batch in flight
    finish and be acknowledged). `settings`: the shared Settings."""
    consumer = consumer_name()
    broker = RedisBroker(settings.resolved_redis_url, socket_timeout=30)
    register(broker, service, handlers, consumer=consumer, batch_size=settings.batch_size)
    tasks: list[asyncio.Task[Any]] = []
    try:
        # Groups first (at "0"), so neither a subscriber nor a reclaimer sees NOGROUP.
        await ensure_groups(redis, groups_to_create(service))
        await broker.start()
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            # FastStream's start swallows a cancel that arrives while it connects: honour it.
            raise asyncio.CancelledError
        interval = max(0.2, settings.claim_interval_ms / 1000)
        found = reclaimers(redis, service, handlers, consumer=consumer, settings=settings)
        tasks = [asyncio.create_task(r.run_forever(interval)) for r in found]
        tasks += [asyncio.create_task(job()) for job in also]  # type: ignore[arg-type]
        log.info("%s %s: consuming %d streams", service, consumer, len(found))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:  # bounded, as in `run_alongside`: what a task had claimed stays pending
            await asyncio.wait(tasks, timeout=5)
        await broker.stop()


async def stop_task(task: asyncio.Task[Any], timeout_s: float = 10.0) -> None:
    """Cancel `task` and wait for it, cancelling again should a library have swallowed the
    first cancel; give up (log) after `timeout_s` so a shutdown never hangs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=min(1.0, max(0.0, deadline - loop.time())))
        if loop.time() >= deadline and not task.done():
            log.warning("%s did not stop within %.0f s; left behind", task.get_name(), timeout_s)
            return
    if not task.cancelled() and task.exception() is not None:
        log.error("stream consumers ended with an error", exc_info=task.exception())
