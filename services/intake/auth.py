"""The FastAPI dependency that checks a request's token, its role and its rate limit
(the rules themselves are in shared/access.py).

A token comes as `Authorization: Bearer …` (or an `X-API-Key` header). Open311 clients may
send it as `api_key` (the spec's name), in the form body or, for Open311 paths only, in the
query string; uvicorn's access log redacts it (`shared.access.install_log_redaction`).

Every token check counts against the organisation's rate (`LAGESBILD_INTAKE_RATE_LIMIT_PER_MINUTE`;
a batch of reports counts one per report), and an unknown or revoked token counts against
the client address (`LAGESBILD_AUTH_FAILURES_PER_MINUTE`, then 429 for the rest of the minute).
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
    auth_blocked,
    auth_failed,
    find_caller,
    organisations_in,
    rate_limited,
)

OPEN311_PREFIX = "/open311/"

# --- the request check -------------------------------------------------------------


def token_of(request: Request) -> str | None:
    """Bearer token or X-API-Key header; Open311's `api_key` query parameter on Open311
    paths only (anywhere else a token in the address is ignored)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"]
    if request.url.path.startswith(OPEN311_PREFIX):
        return request.query_params.get("api_key") or None
    return None


def _too_many(wait: int, code: str, sv: str, en: str) -> IntakeError:
    return IntakeError.one(429, code, sv, en, headers={"Retry-After": str(wait)})


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
    address = remote_addr(request)
    fail_limit = ctx.settings.auth_failures_per_minute
    blocked = await auth_blocked(ctx.redis, address, fail_limit)
    if blocked is not None:
        raise _too_many(
            blocked,
            "too_many_failures",
            f"För många felaktiga nycklar från din adress. Vänta {blocked} sekunder.",
            f"Too many invalid tokens from your address. Wait {blocked} seconds.",
        )
    caller = await in_thread(find_caller, ctx.engine, token)
    if caller is None:
        await auth_failed(ctx.redis, address, fail_limit)
        raise IntakeError.one(
            401,
            "invalid_token",
            "Nyckeln är okänd eller återkallad. Be administratören om en ny.",
            "The token is unknown or revoked. Ask the administrator for a new one.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = await rate_limited(
        ctx.redis, caller.organisation, ctx.settings.intake_rate_limit_per_minute
    )
    if wait is not None:
        raise _too_many(
            wait,
            "rate_limited",
            f"För många anrop. Vänta {wait} sekunder och försök igen.",
            f"Too many requests. Wait {wait} seconds and try again.",
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


async def charge_reports(ctx: IntakeContext, caller: Caller, reports: int) -> None:
    """A batch counts one per report against the rate: the request itself paid for one,
    this charges the rest, or refuses the whole batch (nothing of it is published)."""
    limit = ctx.settings.intake_rate_limit_per_minute
    if limit > 0 and reports > limit:
        raise IntakeError.one(
            422,
            "too_many_reports",
            f"En sändning får ha högst {limit} rapporter (gränsen per minut); den här har "
            f"{reports}. Dela upp den.",
            f"A batch may hold at most {limit} reports (the limit per minute); this one has "
            f"{reports}. Split it.",
        )
    wait = await rate_limited(ctx.redis, caller.organisation, limit, cost=reports - 1)
    if wait is not None:
        raise _too_many(
            wait,
            "rate_limited",
            f"För många rapporter den här minuten: {reports} ryms inte. Vänta {wait} sekunder "
            "och skicka igen; inget av dem är mottaget.",
            f"Too many reports this minute: {reports} do not fit. Wait {wait} seconds and "
            "send again; none of them was received.",
        )


async def deny(ctx: IntakeContext, request: Request, caller: Caller, what: str) -> None:
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "denied", what, remote_addr(request)
    )


def require(permission: str | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, when its token is valid, within its rate and allowed."""

    async def dependency(request: Request, ctx: Ctx) -> Caller:
        return await authorize(ctx, request, token_of(request), permission)

    return dependency


def receipt_kommun(ctx: IntakeContext, organisation: str, report_id: str) -> str | None:
    """The kommun a received report was for (None: no such receipt)."""
    from sqlmodel import Session, select

    from services.intake.models import IntakeReceipt

    with Session(ctx.engine) as s:
        return s.exec(
            select(IntakeReceipt.kommun).where(
                IntakeReceipt.organisation == organisation, IntakeReceipt.report_id == report_id
            )
        ).first()


def visible_organisations(ctx: IntakeContext, caller: Caller) -> list[str]:
    """The organisations whose audit entries the caller may read: its kommuner's."""
    return organisations_in(ctx.engine, caller.kommuner)


# Endpoint parameter types: `caller: Submitter` checks the token and the permission.
AnyCaller = Annotated[Caller, Depends(require(None))]
Submitter = Annotated[Caller, Depends(require(SUBMIT))]
StatusReader = Annotated[Caller, Depends(require(OWN_STATUS))]
Auditor = Annotated[Caller, Depends(require(AUDIT))]
