"""Aggregate service: per area × ISO week × category counts and the weekly lägesbild.

Run alone with `lagesbild aggregate` or
`faststream run services.aggregate.main:create_app --factory`.
"""

from __future__ import annotations

import logging
from functools import partial

from apscheduler.triggers.interval import IntervalTrigger
from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.aggregate import handlers, store
from services.aggregate import status as aggregate_status
from services.aggregate.builder import WeekBuilder
from services.aggregate.config import AggregateSettings
from services.aggregate.jobs import (
    DUE_REVISIONS_JOB_ID,
    PURGE_JOB_ID,
    WEEKLY_JOB_ID,
    due_revisions_check_s,
    weekly_build,
)
from services.aggregate.retention import PURGES
from shared.bootstrap import bootstrap, migrate_on_startup
from shared.config import Settings, settings_for
from shared.contracts import AGGREGATE
from shared.observability import observe_service
from shared.retention import purge_job
from shared.scheduling import make_scheduler
from shared.service import consumer_name, run_alongside
from shared.status_table import report_service_status
from shared.streams import reclaimers, register

log = logging.getLogger("lagesbild.aggregate")


def create_app(base: Settings | None = None) -> FastStream:
    settings = settings_for(AggregateSettings, base)
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    foundation = bootstrap(settings)
    engine = foundation.engine
    builder = WeekBuilder(
        engine=engine,
        kommuner=foundation.kommuner,  # the enabled ones, kept current
        categories=foundation.categories,
    )
    aggregate = handlers.Aggregate(
        broker, redis, builder, revision_min_interval_s=settings.revision_min_interval_s
    )
    consumer = consumer_name()
    # Subscribers and reclaimers from the stream table (shared/contracts.py: STREAM_TABLE).
    register(
        broker, AGGREGATE, aggregate.handlers(), consumer=consumer, batch_size=settings.batch_size
    )
    reclaimer_list = reclaimers(
        redis, AGGREGATE, aggregate.handlers(), consumer=consumer, settings=settings
    )

    async def run_weekly_build() -> None:
        async def build(kommun: str, week: str) -> None:
            await aggregate.build_and_announce(kommun, week, requested_by="schedule")

        await weekly_build(
            redis,
            list(builder.kommuner),  # every enabled kommun, LAGESBILD_KOMMUNER and the registry
            build,
            lambda kommun: store.frozen_weeks(
                engine, kommun, set(store.weeks_with_data(engine, kommun))
            ),
        )
        await aggregate.announce_public_revisions()

    scheduler = make_scheduler(
        {
            WEEKLY_JOB_ID: (settings.week_build_cron, run_weekly_build),
            PURGE_JOB_ID: (
                settings.purge_cron,
                purge_job(
                    engine, PURGES, retention_days=settings.retention_days, run_by="aggregate"
                ),
            ),
            DUE_REVISIONS_JOB_ID: (
                IntervalTrigger(seconds=due_revisions_check_s(settings.revision_min_interval_s)),
                aggregate.build_due_revisions,
            ),
        }
    )
    app = FastStream(broker)
    migrate_on_startup(app, foundation)  # the schema, before the broker reads anything
    observe_service(app, "aggregate", broker=broker, redis=redis, engine=engine)
    # Its numbers for `lagesbild status`, kept current in Redis (shared/service_status.py).
    report_service_status(app, redis, AGGREGATE, partial(aggregate_status.counts, engine))
    run_alongside(
        app,
        service=AGGREGATE,
        redis=redis,
        reclaimers=reclaimer_list,
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
        scheduler=scheduler,
        close=[engine.dispose],
    )
    log.info("aggregate %s: weekly build '%s' Europe/Stockholm", consumer, settings.week_build_cron)
    return app
