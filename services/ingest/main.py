"""Ingest service: validate raw reports from the stream, store them, announce the result.

Run alone with `lagesbild ingest` or
`faststream run services.ingest.main:create_app --factory`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.ingest import handlers
from services.ingest import status as ingest_status
from services.ingest.config import IngestSettings
from services.ingest.jobs import scheduled_jobs
from services.ingest.pipeline import IngestPipeline
from services.ingest.store import DuplicatePolicy
from shared.bootstrap import Foundation, bootstrap, migrate_on_startup
from shared.config import Settings, settings_for
from shared.contracts import INGEST, REPORTS_STREAM
from shared.observability import observe_service
from shared.scheduling import make_scheduler
from shared.service import consumer_name, run_alongside
from shared.status_table import report_service_status
from shared.streams import reclaimers, register
from shared.validation import Limits

log = logging.getLogger("lagesbild.ingest")


def build_pipeline(
    settings: IngestSettings, foundation: Foundation | None = None
) -> IngestPipeline:
    """The ingest's pipeline; the schema is not migrated here (see `create_app`)."""
    foundation = foundation or bootstrap(settings)
    return IngestPipeline(
        engine=foundation.engine,
        kommuner=foundation.kommuner,  # the enabled ones, kept current
        categories=foundation.categories,
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


def create_app(base: Settings | None = None) -> FastStream:
    settings = settings_for(IngestSettings, base)
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    foundation = bootstrap(settings)
    pipeline = build_pipeline(settings, foundation)
    consumer = consumer_name()
    ingest = handlers.Ingest(broker, redis, pipeline)
    # Subscribers and reclaimers from the stream table (shared/contracts.py: STREAM_TABLE).
    register(broker, INGEST, ingest.handlers(), consumer=consumer, batch_size=settings.batch_size)
    app = FastStream(broker)
    migrate_on_startup(app, foundation)  # the schema, before the broker reads anything
    # /metrics, /healthz (LAGESBILD_METRICS_PORT) and the pending/lag gauges of its streams.
    observe_service(app, INGEST, broker=broker, redis=redis, engine=pipeline.engine)
    # Its numbers for `lagesbild status`, kept current in Redis (shared/service_status.py).
    report_service_status(app, redis, INGEST, partial(ingest_status.counts, pipeline.engine))
    reclaimer_list = reclaimers(
        redis,
        INGEST,
        ingest.handlers(),
        consumer=consumer,
        settings=settings,
        dead_letters=ingest.dead_letters(),
    )

    # Graceful shutdown (SIGTERM): the reclaimer and scheduler stop first; FastStream then
    # waits (graceful_timeout) for the batch in flight to be stored, announced and acked;
    # the connections it needs close only after that. A reclaimer pass cancelled here just
    # leaves its entries pending for the next process.
    run_alongside(
        app,
        service=INGEST,
        redis=redis,
        reclaimers=reclaimer_list,
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
        scheduler=make_scheduler(scheduled_jobs(settings, pipeline.engine)),
        close=[pipeline.engine.dispose],
    )
    log.info("ingest %s: consuming %s", consumer, REPORTS_STREAM)

    return app
