"""Ingest service: validate raw reports from the stream, store them, announce the result.

Run alone with `lagesbild ingest` or `faststream run services.ingest.main:app --factory`.
"""

from __future__ import annotations

import asyncio
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
from shared.contracts import INGEST_GROUP, REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.observability import observe_service
from shared.scheduling import make_scheduler
from shared.service import consumer_name, run_alongside
from shared.streams import Reclaimer

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
    # /metrics, /healthz (LAGESBILD_METRICS_PORT) and the pending/lag gauges of its streams.
    observe_service(app, INGEST_GROUP, broker=broker, redis=redis, engine=pipeline.engine)
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

    # Graceful shutdown (SIGTERM): the reclaimer and scheduler stop first; FastStream then
    # waits (graceful_timeout) for the batch in flight to be stored, announced and acked;
    # the connections it needs close only after that. A reclaimer pass cancelled here just
    # leaves its entries pending for the next process.
    run_alongside(
        app,
        redis=redis,
        reclaimers=[reclaimer],
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
        scheduler=make_scheduler({"purge-ingest": (settings.purge_cron, run_purge)}),
        close=[pipeline.engine.dispose],
    )
    log.info("ingest %s: consuming %s", consumer, REPORTS_STREAM)

    return app
