"""Intake service: the FastAPI app. `create_app()` connects to nothing; startup migrates the
schema and starts the stream consumers of the ingest's outcomes (its receipts' projection);
the first request that needs Redis connects to it.

Run with `lagesbild intake` or
`uvicorn services.intake.main:create_app --factory --host 127.0.0.1 --port 8080`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake import errors, form, open311, routes
from services.intake.config import IntakeSettings
from services.intake.context import IntakeContext, in_thread
from services.intake.outcomes import Outcomes
from services.intake.retention import purge_daily
from shared import api_docs, openapi_contract
from shared.config import Settings, settings_for
from shared.contracts import INTAKE
from shared.db import init_db
from shared.http_server import RequestGuard
from shared.login import apply_access_defaults
from shared.service import consume_streams, stop_task
from shared.web_assets import ASSETS_DIR
from shared.web_security import SecurityHeadersMiddleware, tile_sources

# One error shape per API, the security each takes (shared/openapi_contract.py).
API_CONTRACT = (
    openapi_contract.Api("/api/v1", "Errors", security=({"bearer": []},)),
    openapi_contract.Api(
        "/open311",
        "Open311Errors",
        security=({"api_key": []}, {"bearer": []}),
        optional_for=("GET",),
        content_types=("application/json", "text/xml"),  # as the address's .json/.xml
    ),
)

DESCRIPTION = """Rapporter in till lägesbilden: JSON-API, Open311 GeoReport v2 och
mobilformuläret på `/rapport`. Varje anrop bär organisationens nyckel
(`Authorization: Bearer …`, eller `api_key` för Open311)."""


PHOTO_PATH = re.compile(r"^/api/v1/reports/.+/photo$")


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` (413) before anything parses them: by
    Content-Length up front, and by counting for chunked bodies without one. A report's
    photo (`PUT /api/v1/reports/…/photo`) may be up to `photo_max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int, photo_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.photo_max_bytes = photo_max_bytes or max_bytes

    def _limit(self, scope: Scope) -> int:
        return self.photo_max_bytes if PHOTO_PATH.match(scope["path"]) else self.max_bytes

    def _error(self, scope: Scope) -> errors.IntakeError:
        limit = self._limit(scope)
        return (
            errors.photo_too_large(limit)
            if PHOTO_PATH.match(scope["path"])
            else (errors.too_large(limit))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise self._error(scope)  # handled by the app's error handler
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self._error(scope)
        response = errors.error_response(Request(scope), 413, error.errors, {"Connection": "close"})
        await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    # `lagesbild` passes the shared settings; the intake's own come from the environment.
    settings = settings_for(IntakeSettings, settings)
    ctx = IntakeContext.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await in_thread(init_db, ctx.engine)
        app.state.ctx = ctx
        # The outcome streams into the intake's own receipts projection (services/intake/
        # outcomes.py), as a task: the form and the API serve while Redis is down.
        outcomes = Outcomes(ctx.engine, ctx.redis)
        streams = asyncio.create_task(
            consume_streams(
                INTAKE,
                outcomes.handlers(),
                redis=ctx.redis,
                settings=settings,
                also=[
                    lambda: purge_daily(
                        ctx.engine, settings.retention_days, data_dir=settings.data_dir
                    )
                ],
            )
        )
        yield
        await stop_task(streams)
        await ctx.redis.aclose()
        ctx.engine.dispose()

    app = FastAPI(
        title="Lägesbild intake",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by `docs` from vendored files, without inline script
        redoc_url=None,
    )
    errors.install(app)
    apply_access_defaults(app)  # no Host-built redirects; api_key out of the access log
    app.include_router(routes.router, tags=["Rapporter"])
    app.include_router(open311.router)
    app.include_router(form.router)
    api_docs.install(app)
    openapi_contract.document(app, API_CONTRACT)
    app.mount("/assets", StaticFiles(directory=ASSETS_DIR), name="assets")
    app.mount("/rapport/static", StaticFiles(directory=form.STATIC_DIR), name="form-static")
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.intake_max_body_bytes,
        photo_max_bytes=settings.photo_max_bytes,
    )
    app.add_middleware(
        RequestGuard, body_timeout_s=settings.http_body_timeout_s, respond=errors.guard_response
    )
    # Outermost, so every response (a 413 too) carries the headers.
    app.add_middleware(
        SecurityHeadersMiddleware,
        img_sources=tile_sources(settings.intake_tile_url, settings.wms_url),
    )
    return app
