"""What every request handler needs: settings, database, Redis, areas and categories.

Built by `create_app` without connecting to anything; the first request connects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.engine import Engine

from services.intake.config import IntakeSettings
from shared.access import client_address
from shared.areas import KommunAreas
from shared.bootstrap import bootstrap
from shared.contracts import PIPELINE_GROUPS
from shared.streams import ensure_groups
from shared.validation import Limits, Rejection, ValidReport, validate_submission

T = TypeVar("T")


def limits_of(settings: IntakeSettings) -> Limits:
    # The ingest applies the same limits from the same settings: what passes here passes there.
    return Limits(
        max_future_skew=timedelta(minutes=settings.max_future_skew_minutes),
        max_age=timedelta(days=settings.max_age_days),
        boundary_tolerance_m=settings.boundary_tolerance_m,
    )


@dataclass
class IntakeContext:
    settings: IntakeSettings
    engine: Engine
    redis: Redis
    kommuner: Mapping[str, KommunAreas]
    categories: Mapping[str, str]
    limits: Limits
    _groups_ready: bool = field(default=False, repr=False)

    @classmethod
    def build(cls, settings: IntakeSettings) -> IntakeContext:
        foundation = bootstrap(settings)  # connects to nothing: the lifespan migrates
        return cls(
            settings=settings,
            engine=foundation.engine,
            redis=Redis.from_url(settings.resolved_redis_url, socket_timeout=30),
            kommuner=foundation.kommuner,  # the enabled ones, kept current
            categories=foundation.categories,
            limits=limits_of(settings),
        )

    def validate(
        self, payload: Any, organisation: str, max_bytes: int | None = None
    ) -> ValidReport | Rejection:
        limits = (
            self.limits if max_bytes is None else replace(self.limits, max_payload_bytes=max_bytes)
        )
        return validate_submission(
            payload,
            categories=self.categories,
            kommuner=self.kommuner,
            now=datetime.now(UTC),
            limits=limits,
            organisation=organisation,
        )

    async def ensure_groups(self) -> None:
        # Groups start at "0": a report published before the ingest first ran is still read.
        if not self._groups_ready:
            await ensure_groups(self.redis, PIPELINE_GROUPS)
            self._groups_ready = True


def get_ctx(request: Request) -> IntakeContext:
    ctx: IntakeContext = request.app.state.ctx
    return ctx


Ctx = Annotated[IntakeContext, Depends(get_ctx)]


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Database calls off the event loop: SQLite may wait for the ingest's write lock."""
    return await anyio.to_thread.run_sync(fn, *args)


def remote_addr(request: Request) -> str:
    """The client's address (through configured reverse proxies only): for the audit log
    and the per-address throttle of failed token checks."""
    peer = request.client.host if request.client else ""
    ctx = getattr(request.app.state, "ctx", None)
    trusted = ctx.settings.trusted_proxies if ctx is not None else []
    return client_address(peer, request.headers.get("x-forwarded-for"), trusted)
