"""What every TiB request needs: the context (settings, database, Redis, hub, areas) and
the token check. A token comes as `Authorization: Bearer …`, `X-API-Key`, or the HttpOnly
cookie the page sets once from `/tib?token=…`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException

from services.tib.config import TibSettings
from services.tib.consumer import Hub
from shared.access import ROLE_LABELS, SUBMIT, Caller, find_caller
from shared.areas import KommunAreas, load_kommuner
from shared.categories import category_catalog
from shared.db import make_engine

COOKIE = "lagesbild_tib"
LIVE, TASKING = "live", "tasking"


@dataclass
class TibContext:
    settings: TibSettings
    engine: Engine
    redis: Redis
    hub: Hub
    kommuner: Mapping[str, KommunAreas]
    categories: Mapping[str, str]
    order_lock: Any = field(default=None)  # an anyio.Lock, made inside the running loop

    @classmethod
    def build(cls, settings: TibSettings) -> TibContext:
        return cls(
            settings=settings,
            engine=make_engine(settings.resolved_database_url),
            redis=Redis.from_url(settings.resolved_redis_url, socket_timeout=30),
            hub=Hub(),
            kommuner=load_kommuner(settings.areas_dir, settings.area_name_property),
            categories=category_catalog(settings.extra_categories),
        )


def get_ctx(request: Request) -> TibContext:
    ctx: TibContext = request.app.state.ctx
    return ctx


Ctx = Annotated[TibContext, Depends(get_ctx)]


class TibError(HTTPException):
    """A refusal in the intake's error shape: {"errors": [{code, message_sv, message_en}]}."""

    def __init__(self, status: int, code: str, message_sv: str, message_en: str) -> None:
        super().__init__(status, message_en)
        self.item = {"code": code, "message_sv": message_sv, "message_en": message_en}


def install_errors(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TibError)
        return JSONResponse({"errors": [exc.item]}, status_code=exc.status_code)

    app.add_exception_handler(TibError, handler)


def token_of(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE) or None


async def caller_of(ctx: TibContext, token: str | None, permission: str | None) -> Caller:
    if not token:
        raise TibError(401, "missing_token", "Nyckel saknas.", "No token.")
    caller = await anyio.to_thread.run_sync(find_caller, ctx.engine, token)
    if caller is None:
        raise TibError(
            401, "invalid_token", "Nyckeln är okänd eller återkallad.", "Unknown or revoked token."
        )
    if not caller.can(permission):
        label = ROLE_LABELS.get(caller.role, caller.role)
        raise TibError(
            403,
            "role_not_allowed",
            f"Rollen {caller.role} ({label}) får inte göra detta.",
            f"The role {caller.role} is not allowed to do this.",
        )
    return caller


def check_kommun(caller: Caller, kommun: str | None) -> str:
    """The kommun asked for (default: the token's); it must be the token's."""
    kommun = kommun or caller.kommun
    if kommun != caller.kommun:
        raise TibError(
            403,
            "kommun_not_allowed",
            f"Nyckeln gäller kommun {caller.kommun}, inte {kommun}.",
            f"The token is for kommun {caller.kommun}, not {kommun}.",
        )
    return kommun


def require(permission: str | None) -> Callable[..., Awaitable[Caller]]:
    async def dependency(request: Request, ctx: Ctx) -> Caller:
        return await caller_of(ctx, token_of(request), permission)

    return dependency


Live = Annotated[Caller, Depends(require(LIVE))]
Tasking = Annotated[Caller, Depends(require(TASKING))]
Guard = Annotated[Caller, Depends(require(SUBMIT))]
AnyCaller = Annotated[Caller, Depends(require(None))]
