"""Maps service: renders each lägesbild-ready week into the publish folder.

Run alone with `lagesbild maps` or `faststream run services.maps.main:create_app --factory`.
"""

from __future__ import annotations

import logging

from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.maps import handlers
from shared.areas import load_kommuner
from shared.config import Settings
from shared.contracts import LAGESBILD_READY_STREAM, MAPS_GROUP
from shared.observability import observe_service
from shared.service import consumer_name, run_alongside
from shared.streams import Reclaimer

log = logging.getLogger("lagesbild.maps")


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    maps = handlers.Maps(
        broker,
        settings.resolved_output_dir,
        load_kommuner(settings.areas_dir, settings.area_name_property),
        tiles=settings.map_tiles or None,
    )
    consumer = consumer_name()
    handlers.register(broker, maps, consumer=consumer)
    reclaimer = Reclaimer(
        redis=redis,
        stream=LAGESBILD_READY_STREAM,
        group=MAPS_GROUP,
        consumer=consumer,
        settle=maps.settle,
        dead_letter=maps.dead_letter,
        min_idle_ms=settings.claim_idle_ms,
        max_failures=settings.max_failures,
        max_deliveries=settings.max_deliveries,
    )
    app = FastStream(broker)
    observe_service(app, "maps", broker=broker, redis=redis)
    run_alongside(
        app,
        redis=redis,
        reclaimers=[reclaimer],
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
    )
    log.info("maps %s: publishing to %s", consumer, settings.resolved_output_dir)
    return app
