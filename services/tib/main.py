"""TiB service: the FastAPI app with its stream consumers. `create_app()` connects to
nothing; its lifespan migrates the schema and starts the stream consumers (FastStream
subscribers and reclaimers from the stream table, `shared.service.consume_streams`) and the
pruning of the live window.

Run with `lagesbild tib serve` or
`uvicorn services.tib.main:create_app --factory --host 127.0.0.1 --port 8082`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.tib import orders_api, page, routes
from services.tib.config import TibSettings
from services.tib.consumer import TibConsumer
from services.tib.context import TibContext, install_errors
from shared import api_docs, openapi_contract
from shared.config import Settings, settings_for
from shared.contracts import TIB
from shared.db import init_db
from shared.http_server import RequestGuard
from shared.login import apply_access_defaults
from shared.service import consume_streams, stop_task
from shared.web_assets import ASSETS_DIR
from shared.web_security import SecurityHeadersMiddleware, tile_sources

log = logging.getLogger("lagesbild.tib")


def _live_stream_is_sse(path: str, method: str, op: dict[str, Any]) -> None:
    """The live stream answers Server-Sent Events, not JSON."""
    if path.endswith("/stream") and "200" in op["responses"]:
        op["responses"]["200"]["content"] = {"text/event-stream": {"schema": {"type": "string"}}}


# One error shape, bearer security on every operation (shared/openapi_contract.py).
API_CONTRACT = (
    openapi_contract.Api("/api/v1", security=({"bearer": []},), extra=_live_stream_is_sse),
)


def create_app(settings: Settings | None = None) -> FastAPI:
    # `lagesbild` passes the shared settings; the TiB's own come from the environment.
    settings = settings_for(TibSettings, settings)
    ctx = TibContext.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(init_db, ctx.engine)
        ctx.order_lock = anyio.Lock()
        app.state.ctx = ctx
        consumer = TibConsumer(ctx.engine, ctx.redis, ctx.hub, settings.tib_history_days)
        # A task, not awaited: the page and the API serve from the TiB's own tables even
        # while Redis is down (the consumers wait for it).
        streams = asyncio.create_task(
            consume_streams(
                TIB,
                consumer.handlers(),
                redis=ctx.redis,
                settings=settings,
                also=[consumer.prune_forever],
            )
        )
        yield
        await stop_task(streams)
        await ctx.redis.aclose()
        ctx.engine.dispose()

    # /docs from vendored files without inline script (the intake's), as the CSP requires.
    app = FastAPI(
        title="Lägesbild TiB", version="1", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    api_docs.install(app)
    install_errors(app)
    apply_access_defaults(app)  # no Host-built redirects; no secrets in the access log
    app.include_router(routes.router)
    app.include_router(orders_api.router)
    app.include_router(page.router)
    openapi_contract.document(app, API_CONTRACT)
    app.mount("/assets", StaticFiles(directory=ASSETS_DIR), name="assets")
    app.mount("/tib/static", StaticFiles(directory=page.STATIC_DIR), name="tib-static")
    app.add_middleware(RequestGuard, body_timeout_s=settings.http_body_timeout_s)
    app.add_middleware(SecurityHeadersMiddleware, img_sources=tile_sources(settings.tib_tile_url))
    return app
