"""Maps service: renders each lägesbild-ready week into the publish folder.

Run alone with `lagesbild maps` or `faststream run services.maps.main:create_app --factory`.
"""

from __future__ import annotations

import logging

from faststream import FastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.maps import handlers
from services.maps.config import MapsSettings
from shared.config import Settings, settings_for
from shared.contracts import MAPS
from shared.kommuner import live_kommuner
from shared.observability import observe_service
from shared.photos import PhotoStore
from shared.service import consumer_name, run_alongside
from shared.streams import reclaimers, register

log = logging.getLogger("lagesbild.maps")


def create_app(base: Settings | None = None) -> FastStream:
    settings = settings_for(MapsSettings, base)
    url = settings.resolved_redis_url
    broker = RedisBroker(url, socket_timeout=30)
    redis = Redis.from_url(url, socket_timeout=30)
    maps = handlers.Maps(
        broker,
        settings.resolved_output_dir,
        live_kommuner(settings),  # sees newly enabled kommuner
        tiles=settings.map_tiles or None,
        photos=PhotoStore.under(settings.data_dir),
    )
    consumer = consumer_name()
    # Subscriber and reclaimer from the stream table (shared/contracts.py: STREAM_TABLE).
    register(broker, MAPS, maps.handlers(), consumer=consumer, batch_size=settings.batch_size)
    reclaimer_list = reclaimers(redis, MAPS, maps.handlers(), consumer=consumer, settings=settings)
    app = FastStream(broker)
    observe_service(app, "maps", broker=broker, redis=redis)
    run_alongside(
        app,
        service=MAPS,
        redis=redis,
        reclaimers=reclaimer_list,
        interval_s=max(0.2, settings.claim_interval_ms / 1000),
    )
    log.info("maps %s: publishing to %s", consumer, settings.resolved_output_dir)
    return app
