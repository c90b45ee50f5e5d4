"""Aggregate service: per area × ISO week × category counts and the weekly lägesbild.

Run alone with `lagesbild aggregate` or
`faststream run services.aggregate.main:create_app --factory`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime

from apscheduler.triggers.interval import IntervalTrigger
from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.aggregate import handlers, store
from services.aggregate.builder import WeekBuilder
from services.aggregate.jobs import (
    DUE_REVISIONS_JOB_ID,
    WEEKLY_JOB_ID,
    due_revisions_check_s,
    weekly_build,
)
from services.retention import AGGREGATE_PARTS, purge
from shared.areas import load_kommuner
from shared.categories import category_catalog
from shared.config import Settings
from shared.contracts import (
    ACCEPTED_STREAM,
    AGGREGATE_GROUP,
    DECISION_STREAM,
    NOLLRAPPORT_STREAM,
    TIB_ORDER_STREAM,
    WEEK_BUILD_STREAM,
)
from shared.db import init_db, make_engine
from shared.observability import observe_service
from shared.scheduling import make_scheduler
from shared.service import consumer_name, run_alongside
from shared.streams import Reclaimer

log = logging.getLogger("lagesbild.aggregate")


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    builder = WeekBuilder(
        engine=engine,
        kommuner=load_kommuner(settings.areas_dir, settings.area_name_property),
        categories=category_catalog(settings.extra_categories),
    )
    aggregate = handlers.Aggregate(
        broker, redis, builder, revision_min_interval_s=settings.revision_min_interval_s
    )
    consumer = consumer_name()
    handlers.register(broker, aggregate, consumer=consumer, batch_size=settings.batch_size)
    reclaimers = [
        Reclaimer(
            redis=redis,
            stream=stream,
            group=AGGREGATE_GROUP,
            consumer=consumer,
            settle=settle,
            dead_letter=functools.partial(aggregate.dead_letter, stream=stream),
            min_idle_ms=settings.claim_idle_ms,
            max_failures=settings.max_failures,
            max_deliveries=settings.max_deliveries,
        )
        for stream, settle in (
            (ACCEPTED_STREAM, aggregate.settle_accepted),
            (WEEK_BUILD_STREAM, aggregate.settle_build_requests),
            (NOLLRAPPORT_STREAM, aggregate.settle_nollrapporter),
            (DECISION_STREAM, aggregate.settle_decisions),
            (TIB_ORDER_STREAM, aggregate.settle_patrol_events),
        )
    ]

    async def run_weekly_build() -> None:
        async def build(kommun: str, week: str) -> None:
            await aggregate.build_and_announce(kommun, week, requested_by="schedule")

        await weekly_build(
            redis,
            settings.kommuner,
            build,
            lambda kommun: store.frozen_weeks(
                engine, kommun, set(store.weeks_with_data(engine, kommun))
            ),
        )
        await aggregate.announce_public_revisions()

    async def run_purge() -> None:
        await asyncio.to_thread(
            purge,
            engine,
            now=datetime.now(UTC),
            retention_days=settings.retention_days,
            dry_run=False,
            run_by="aggregate",
            parts=AGGREGATE_PARTS,
        )

    scheduler = make_scheduler(
        {
            WEEKLY_JOB_ID: (settings.week_build_cron, run_weekly_build),
            "purge-aggregate": (settings.purge_cron, run_purge),
            DUE_REVISIONS_JOB_ID: (
                IntervalTrigger(seconds=due_revisions_check_s(settings.revision_min_interval_s)),
                aggregate.build_due_revisions,
            ),
        }
    )
    app = FastStream(broker)
    observe_service(app, "aggregate", broker=broker, redis=redis, engine=engine)
    run_alongside(
        app,
        redis=redis,
        reclaimers=reclaimers,
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
        scheduler=scheduler,
        close=[engine.dispose],
    )
    log.info("aggregate %s: weekly build '%s' Europe/Stockholm", consumer, settings.week_build_cron)
    return app
