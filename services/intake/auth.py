"""Organisations, their tokens and what each role may do; the FastAPI dependency that
checks a request's token, its role and its rate limit.

A token is 32 random bytes shown once at `org add`; only its sha256 is stored. The
token is the organisation's identity: a report's `organisation` always comes from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from services.intake import audit
from services.intake.context import Ctx, IntakeContext, in_thread, remote_addr
from services.intake.errors import IntakeError
from shared.access import (  # the rules live in shared/, the FastAPI check here
    AUDIT,
    OWN_STATUS,
    ROLE_LABELS,
    SUBMIT,
    Caller,
    find_caller,
    hash_token,
    rate_limited,
)

# --- the request check -------------------------------------------------------------


def token_of(request: Request) -> str | None:
    """Bearer token, X-API-Key header, or Open311's `api_key` query parameter."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or request.query_params.get("api_key") or None


async def authorize(
    ctx: IntakeContext, request: Request, token: str | None, permission: str | None
) -> Caller:
    if not token:
        raise IntakeError.one(
            401,
            "missing_token",
            "Nyckel saknas. Skicka organisationens nyckel som 'Authorization: Bearer …'.",
            "No token. Send the organisation's token as 'Authorization: Bearer …'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    caller = await in_thread(find_caller, ctx.engine, token)
    if caller is None:
        raise IntakeError.one(
            401,
            "invalid_token",
            "Nyckeln är okänd eller återkallad. Be administratören om en ny.",
            "The token is unknown or revoked. Ask the administrator for a new one.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = await rate_limited(
        ctx.redis, hash_token(token), ctx.settings.intake_rate_limit_per_minute
    )
    if wait is not None:
        raise IntakeError.one(
            429,
            "rate_limited",
            f"För många anrop. Vänta {wait} sekunder och försök igen.",
            f"Too many requests. Wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )
    if not caller.can(permission):
        await deny(ctx, request, caller, f"permission:{permission}")
        raise IntakeError.one(
            403,
            "role_not_allowed",
            f"Rollen {caller.role} ({ROLE_LABELS.get(caller.role, caller.role)}) får inte "
            "göra detta.",
            f"The role {caller.role} is not allowed to do this.",
        )
    return caller


async def deny(ctx: IntakeContext, request: Request, caller: Caller, what: str) -> None:
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "denied", what, remote_addr(request)
    )


def require(permission: str | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, when its token is valid, within its rate and allowed."""

    async def dependency(request: Request, ctx: Ctx) -> Caller:
        return await authorize(ctx, request, token_of(request), permission)

    return dependency


# Endpoint parameter types: `caller: Submitter` checks the token and the permission.
AnyCaller = Annotated[Caller, Depends(require(None))]
Submitter = Annotated[Caller, Depends(require(SUBMIT))]
StatusReader = Annotated[Caller, Depends(require(OWN_STATUS))]
Auditor = Annotated[Caller, Depends(require(AUDIT))]
