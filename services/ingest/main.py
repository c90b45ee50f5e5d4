"""Ingest service: validate raw reports from the stream, store them, announce the result.

Run alone with `lagesbild ingest` or `faststream run services.ingest.main:app --factory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.ingest import handlers
from services.ingest.logic import Limits
from services.ingest.pipeline import IngestPipeline
from services.ingest.store import DuplicatePolicy
from services.retention import INGEST_PARTS, purge
from shared.areas import load_kommuner
from shared.categories import category_catalog
from shared.config import Settings
from shared.contracts import CONSUMER_GROUPS, INGEST_GROUP, REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.observability import observe_service
from shared.scheduling import make_scheduler
from shared.service import consumer_name
from shared.streams import Reclaimer, ensure_groups

log = logging.getLogger("lagesbild.ingest")


def build_pipeline(settings: Settings) -> IngestPipeline:
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return IngestPipeline(
        engine=engine,
        kommuner=load_kommuner(settings.areas_dir, settings.area_name_property),
        categories=category_catalog(settings.extra_categories),
        limits=Limits(
            max_future_skew=timedelta(minutes=settings.max_future_skew_minutes),
            max_age=timedelta(days=settings.max_age_days),
            boundary_tolerance_m=settings.boundary_tolerance_m,
        ),
        duplicates=DuplicatePolicy(
            max_distance_m=settings.duplicate_distance_m,
            window=timedelta(minutes=settings.duplicate_window_minutes),
        ),
    )


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    pipeline = build_pipeline(settings)
    consumer = consumer_name()
    ingest = handlers.Ingest(broker, redis, pipeline)
    handlers.register(broker, ingest, consumer=consumer, batch_size=settings.batch_size)
    app = FastStream(broker)
    observe_service(
        app,
        "ingest",
        broker=broker,
        redis=redis,
        engine=pipeline.engine,
        streams={REPORTS_STREAM: INGEST_GROUP},
    )
    reclaimer = Reclaimer(
        redis=redis,
        stream=REPORTS_STREAM,
        group=INGEST_GROUP,
        consumer=consumer,
        settle=ingest.settle,
        dead_letter=ingest.dead_letter,
        min_idle_ms=settings.claim_idle_ms,
        max_failures=settings.max_failures,
        max_deliveries=settings.max_deliveries,
    )
    tasks: list[asyncio.Task[None]] = []

    async def run_purge() -> None:
        await asyncio.to_thread(
            purge,
            pipeline.engine,
            now=datetime.now(UTC),
            retention_days=settings.retention_days,
            dry_run=False,
            run_by="ingest",
            parts=INGEST_PARTS,
        )

    scheduler = make_scheduler({"purge-ingest": (settings.purge_cron, run_purge)})

    @app.on_startup
    async def create_groups() -> None:
        await ensure_groups(redis, CONSUMER_GROUPS)

    @app.after_startup
    async def start_reclaimer() -> None:
        scheduler.start()
        interval = max(0.2, settings.claim_interval_ms / 1000)
        tasks.append(asyncio.create_task(reclaimer.run_forever(interval)))
        log.info(
            "ingest %s: consuming %s, reclaiming every %.1f s", consumer, REPORTS_STREAM, interval
        )

    # Graceful shutdown (SIGTERM): FastStream runs the on_shutdown hooks, then stops the
    # subscriber, which waits (graceful_timeout, 15 s by default) for the batch in flight
    # to be stored, announced and acked. A reclaimer pass cancelled here just leaves its
    # entries pending: the next process reclaims them. The connections the batch needs
    # are closed only after that, in after_shutdown.
    @app.on_shutdown
    async def stop_reclaimer() -> None:
        scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @app.after_shutdown
    async def close_connections() -> None:
        await redis.aclose()
        pipeline.engine.dispose()
        log.info("ingest %s: stopped", consumer)

    return app
