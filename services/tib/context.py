"""What every TiB request needs: the context (settings, database, Redis, hub, areas) and
the token check. A token comes as `Authorization: Bearer …`, `X-API-Key`, or the HttpOnly
cookie that `POST /logga-in` sets (page.py); never in the address. Each check counts
against the organisation's rate (`LAGESBILD_TIB_RATE_LIMIT_PER_MINUTE`), and an unknown or
revoked token against the client address (`LAGESBILD_AUTH_FAILURES_PER_MINUTE`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException

from services.tib.config import TibSettings
from services.tib.consumer import Hub
from shared.access import (
    GUARD_ORDERS,
    LIVE,
    ROLE_LABELS,
    TASKING,
    Caller,
    auth_blocked,
    auth_failed,
    client_address,
    find_caller,
    rate_limited,
)
from shared.areas import KommunAreas
from shared.bootstrap import bootstrap

COOKIE = "lagesbild_tib"


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
        foundation = bootstrap(settings)  # connects to nothing: the lifespan migrates
        return cls(
            settings=settings,
            engine=foundation.engine,
            redis=Redis.from_url(settings.resolved_redis_url, socket_timeout=30),
            hub=Hub(),
            kommuner=foundation.kommuner,  # the enabled ones, kept current
            categories=foundation.categories,
        )


def get_ctx(request: Request) -> TibContext:
    ctx: TibContext = request.app.state.ctx
    return ctx


Ctx = Annotated[TibContext, Depends(get_ctx)]


class TibError(HTTPException):
    """A refusal in the intake's error shape: {"errors": [{code, message_sv, message_en}]}."""

    def __init__(
        self,
        status: int,
        code: str,
        message_sv: str,
        message_en: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message_en, headers=headers)
        self.item = {"code": code, "message_sv": message_sv, "message_en": message_en}


def install_errors(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TibError)
        return JSONResponse(
            {"errors": [exc.item]}, status_code=exc.status_code, headers=exc.headers
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        """Unknown routes, wrong methods: in the API's shape, never `{"detail": …}`."""
        assert isinstance(exc, HTTPException)
        code, sv, en = {
            404: ("not_found", "Adressen finns inte.", "No such address."),
            405: ("method_not_allowed", "Metoden finns inte för den här adressen.",
                  "This address does not take that method."),
        }.get(exc.status_code, ("bad_request", "Förfrågan kunde inte behandlas.",
                                "The request could not be handled."))  # fmt: skip
        item = {"code": code, "message_sv": sv, "message_en": en}
        return JSONResponse({"errors": [item]}, status_code=exc.status_code, headers=exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        items = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e.get("loc", ())[1:]) or None
            invalid_json = e.get("type") == "json_invalid"
            items.append({
                "code": "invalid_json" if invalid_json else "invalid_field",
                "message_sv": "Förfrågan är inte giltig JSON." if invalid_json
                else f'Fältet "{field}" saknas eller har ett ogiltigt värde.',
                "message_en": "The request is not valid JSON." if invalid_json
                else f'The field "{field}" is missing or has an invalid value.',
                "field": field,
            })  # fmt: skip
        return JSONResponse({"errors": items}, status_code=422)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(TibError, handler)


def token_of(request: Request) -> str | None:
    """Bearer token, X-API-Key header, or the login cookie. Never the address."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE) or None


def remote_addr(ctx: TibContext, request: Request) -> str:
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, ctx.settings.trusted_proxies)


Permission = str | tuple[str, ...] | None


async def caller_of(
    ctx: TibContext, request: Request, token: str | None, permission: Permission
) -> Caller:
    """The token's organisation, when the token is valid, the client address has not
    failed too often, the organisation is within its rate and has (one of) `permission`."""
    if not token:
        raise TibError(401, "missing_token", "Nyckel saknas.", "No token.")
    address = remote_addr(ctx, request)
    fail_limit = ctx.settings.auth_failures_per_minute
    blocked = await auth_blocked(ctx.redis, address, fail_limit)
    if blocked is not None:
        raise TibError(
            429, "too_many_failures",
            f"För många felaktiga nycklar från din adress. Vänta {blocked} sekunder.",
            f"Too many invalid tokens from your address. Wait {blocked} seconds.",
            headers={"Retry-After": str(blocked)},
        )  # fmt: skip
    caller = await anyio.to_thread.run_sync(find_caller, ctx.engine, token)
    if caller is None:
        await auth_failed(ctx.redis, address, fail_limit)
        raise TibError(
            401, "invalid_token", "Nyckeln är okänd eller återkallad.", "Unknown or revoked token."
        )
    wait = await rate_limited(
        ctx.redis, caller.organisation, ctx.settings.tib_rate_limit_per_minute, scope="tib"
    )
    if wait is not None:
        raise TibError(
            429, "rate_limited", f"För många anrop. Vänta {wait} sekunder och försök igen.",
            f"Too many requests. Wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )  # fmt: skip
    if not caller.can_any(permission):
        label = ROLE_LABELS.get(caller.role, caller.role)
        raise TibError(
            403,
            "role_not_allowed",
            f"Rollen {caller.role} ({label}) får inte göra detta.",
            f"The role {caller.role} is not allowed to do this.",
        )
    return caller


async def still_allowed(ctx: TibContext, token: str, permission: str, kommun: str) -> bool:
    """Does the token still hold `permission` for `kommun`? (An open live stream asks at
    every heartbeat: a revoked token's stream is closed.)"""
    caller = await anyio.to_thread.run_sync(find_caller, ctx.engine, token)
    return caller is not None and caller.can(permission) and caller.covers(kommun)


def check_kommun(caller: Caller, kommun: str | None) -> str:
    """The kommun asked for (default: the token's); the token must act for it (its own,
    or one of an administrator's configured kommuner)."""
    kommun = kommun or caller.kommun
    if not caller.covers(kommun):
        raise TibError(
            403,
            "kommun_not_allowed",
            f"Nyckeln gäller kommun {caller.kommun}, inte {kommun}.",
            f"The token is for kommun {caller.kommun}, not {kommun}.",
        )
    return kommun


def require(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    async def dependency(request: Request, ctx: Ctx) -> Caller:
        return await caller_of(ctx, request, token_of(request), permission)

    return dependency


Live = Annotated[Caller, Depends(require(LIVE))]
Tasking = Annotated[Caller, Depends(require(TASKING))]
# Only a guard company (shared/access.py) acts on orders; which orders: orders_api.
GuardCompany = Annotated[Caller, Depends(require(GUARD_ORDERS))]
OrderReader = Annotated[Caller, Depends(require((LIVE, GUARD_ORDERS)))]
AnyCaller = Annotated[Caller, Depends(require(None))]
