"""TiB service: the FastAPI app with its stream consumers. `create_app()` connects to
nothing; its lifespan migrates the schema, creates the "tib" groups and starts the
consumer, the reclaimers and the pruning of the live window.

Run with `lagesbild tib serve` or
`uvicorn services.tib.main:create_app --factory --host 127.0.0.1 --port 8082`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.intake import docs
from services.maps.offline import ASSETS_DIR
from services.tib import api, orders_api, page
from services.tib.config import TibSettings
from services.tib.consumer import TIB_GROUPS, TibConsumer
from services.tib.web import TibContext, install_errors
from shared.config import Settings
from shared.db import init_db
from shared.http_server import RequestGuard
from shared.login import apply_access_defaults
from shared.service import consumer_name
from shared.streams import ensure_groups
from shared.web_security import SecurityHeadersMiddleware, tile_sources

log = logging.getLogger("lagesbild.tib")


def create_app(settings: Settings | None = None) -> FastAPI:
    if not isinstance(settings, TibSettings):
        # `lagesbild` passes the shared settings; the TiB's own come from the environment.
        settings = TibSettings(**(settings.model_dump() if settings else {}))
    ctx = TibContext.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(init_db, ctx.engine)
        ctx.order_lock = anyio.Lock()
        app.state.ctx = ctx
        tasks = _start_consumers(ctx, settings)
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx.redis.aclose()
        ctx.engine.dispose()

    # /docs from vendored files without inline script (the intake's), as the CSP requires.
    app = FastAPI(
        title="Lägesbild TiB", version="1", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    docs.install(app)
    install_errors(app)
    apply_access_defaults(app)  # no Host-built redirects; no secrets in the access log
    app.include_router(api.router)
    app.include_router(orders_api.router)
    app.include_router(page.router)
    app.mount("/assets", StaticFiles(directory=ASSETS_DIR), name="assets")
    app.mount("/tib/static", StaticFiles(directory=page.STATIC_DIR), name="tib-static")
    app.add_middleware(RequestGuard, body_timeout_s=settings.http_body_timeout_s)
    app.add_middleware(SecurityHeadersMiddleware, img_sources=tile_sources(settings.tib_tile_url))
    return app


def _start_consumers(ctx: TibContext, settings: TibSettings) -> list[asyncio.Task[None]]:
    consumer = TibConsumer(
        ctx.engine, ctx.redis, ctx.hub, consumer_name(), settings.tib_history_days
    )
    interval = max(0.2, settings.claim_interval_ms / 1000)
    reclaimers = consumer.reclaimers(
        settings.claim_idle_ms, settings.max_failures, settings.max_deliveries
    )

    async def run_all() -> None:
        # Groups first (at "0", waiting for Redis if it is down), so no reclaimer sees NOGROUP.
        await ensure_groups(ctx.redis, TIB_GROUPS)
        jobs = [consumer.run(batch=settings.batch_size), consumer.prune_forever()]
        await asyncio.gather(*jobs, *(r.run_forever(interval) for r in reclaimers))

    return [asyncio.create_task(run_all())]
