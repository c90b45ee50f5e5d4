"""Open311 GeoReport v2 (JSON), so existing civic-reporting apps can submit and follow up.

Services are the categories. A service request is a report received here; what is shown
of it never names the organisation or the reporter, and its text is scrubbed. Personal
fields a client may send (email, first_name, phone, …) are ignored, never stored.
Status: `open` while queued; `closed` once stored in the lägesbild or rejected (see
`status_notes`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Query, Request

from services.intake import audit
from services.intake.auth import AnyCaller, authorize, deny, token_of
from services.intake.context import Ctx, IntakeContext, in_thread, remote_addr
from services.intake.errors import IntakeError
from services.intake.models import IntakeReceipt
from services.intake.submit import (
    QUEUED,
    STORED,
    Status,
    receipts_for,
    send_reports,
    statuses_of_receipts,
    validate_all,
)
from shared.access import OWN_STATUS, SUBMIT, VIEW_REPORTS, Caller

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

_NOTES = {QUEUED: "Mottagen, i kö.", STORED: "Registrerad i lägesbilden."}


@router.get("/services.json", summary="Tjänster (kategorierna)")
async def services(ctx: Ctx, jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
    """Every category as an Open311 service: service_code = category code."""
    return [
        {
            "service_code": code,
            "service_name": label,
            "description": label,
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": "EST",
        }
        for code, label in ctx.categories.items()
    ]


@router.post("/requests.json", status_code=201, summary="Skapa en rapport")
async def create_request(
    request: Request,
    ctx: Ctx,
    service_code: str = Form(...),
    lat: str = Form(...),
    long: str = Form(...),
    api_key: str | None = Form(None, description="the organisation's token"),
    description: str = Form(""),
    source: str | None = Form(None, alias="attribute[source]"),
    occurred_at: str | None = Form(None, alias="attribute[occurred_at]"),
) -> list[dict[str, Any]]:
    """Form-encoded. `attribute[source]` chooses among the token's sources (default: the
    first); `attribute[occurred_at]` (ISO 8601 with offset) defaults to now."""
    caller = await authorize(ctx, request, api_key or token_of(request), SUBMIT)
    payload = {
        "report_id": f"open311-{uuid.uuid4().hex}",
        "source": source or (caller.sources[0] if caller.sources else None),
        "category": service_code,
        "occurred_at": occurred_at or datetime.now(UTC).isoformat(),
        "lat": lat,
        "lon": long,
        "description": description,
    }
    reports = validate_all(ctx, caller, [payload])
    statuses = await send_reports(ctx, caller, reports, "open311", remote_addr(request))
    return [
        {
            "service_request_id": str(statuses[0].receipt_id),
            "service_notice": "Tack! Rapporten är mottagen.",
            "account_id": None,
        }
    ]


async def _viewer(ctx: IntakeContext, request: Request, caller: Caller) -> str | None:
    """The organisation whose requests the caller may see; None: the whole kommun."""
    if caller.can(VIEW_REPORTS):
        return None
    if caller.can(OWN_STATUS):
        return caller.organisation
    await deny(ctx, request, caller, "open311:requests")
    raise IntakeError.one(
        403,
        "role_not_allowed",
        f"Rollen {caller.role} får bara se sammanställda lägesbilder.",
        f"The role {caller.role} may only see aggregated lägesbilder.",
    )


@router.get("/requests.json", summary="Rapporter (utan personuppgifter)")
async def list_requests(
    request: Request,
    caller: AnyCaller,
    ctx: Ctx,
    service_request_id: str | None = Query(None, description="comma-separated ids"),
    service_code: str | None = None,
    status: str | None = Query(None, description="open or closed"),
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> list[dict[str, Any]]:
    organisation = await _viewer(ctx, request, caller)
    ids = _ids(service_request_id)
    rows = await in_thread(
        lambda: receipts_for(ctx.engine, caller.kommun, organisation, ids, service_code)
    )
    rows = [r for r in rows if _within(r.submitted_at, start_date, end_date)]
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "view", "open311:requests",
        remote_addr(request), f"{len(rows)} requests",
    )  # fmt: skip
    shown = await _represent(ctx, rows)
    return [r for r in shown if status is None or r["status"] == status]


@router.get("/requests/{request_id}.json", summary="En rapport (utan personuppgifter)")
async def get_request(
    request_id: str,
    request: Request,
    caller: AnyCaller,
    ctx: Ctx,
) -> Any:
    organisation = await _viewer(ctx, request, caller)
    ids = _ids(request_id) or [-1]
    rows = await in_thread(lambda: receipts_for(ctx.engine, caller.kommun, organisation, ids))
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "view", f"open311:request:{request_id}",
        remote_addr(request),
    )  # fmt: skip
    if not rows:
        raise IntakeError.one(
            404,
            "not_found",
            f"Ingen rapport {request_id!r} här.",
            f"No service request {request_id!r} here.",
            "service_request_id",
        )
    return await _represent(ctx, rows)


# A service_request_id is the receipt's row id: ASCII digits only (not "١٢٣" or full-width
# digits, which Python's int() would also read), within the database's integer range.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
MAX_ID = 2**31 - 1


def _ids(text: str | None) -> list[int] | None:
    """The ids asked for (comma-separated); 400 for one that is not a number at all. An
    id past the integer range cannot exist, so it is left out (alone: 404)."""
    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    bad = [part for part in parts if not _DIGITS.fullmatch(part)]
    if bad:
        raise IntakeError.one(
            400,
            "invalid_field",
            f"Ogiltigt service_request_id {bad[0]!r}: ange ett nummer med siffrorna 0–9.",
            f"Invalid service_request_id {bad[0]!r}: give a number written with digits 0-9.",
            "service_request_id",
        )
    numbers = [part.lstrip("0") or "0" for part in parts]
    # Length first: int() of thousands of digits is refused (and slow) in Python.
    return [int(n) for n in numbers if len(n) <= len(str(MAX_ID)) and int(n) <= MAX_ID]


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (start is None or moment >= _aware(start)) and (end is None or moment < _aware(end))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _represent(ctx: IntakeContext, rows: list[IntakeReceipt]) -> list[dict[str, Any]]:
    statuses = await in_thread(statuses_of_receipts, ctx.engine, rows)
    return [_service_request(ctx, r, statuses.get(r.id or -1)) for r in rows]


def _service_request(
    ctx: IntakeContext, row: IntakeReceipt, status: Status | None
) -> dict[str, Any]:
    """What anyone allowed may see of a report: no organisation, no reporter, scrubbed text."""
    state = status.status if status else QUEUED
    reason = (status.reason if status else None) or {}
    notes = _NOTES.get(state) or f"Avvisad: {reason.get('message_sv', '')}"
    return {
        "service_request_id": str(row.id),
        "status": "open" if state == QUEUED else "closed",
        "status_notes": notes,
        "service_code": row.category,
        "service_name": ctx.categories.get(row.category, row.category),
        "description": row.description_scrubbed,
        "requested_datetime": _aware(row.submitted_at).isoformat(),
        "updated_datetime": None,
        "lat": row.lat,
        "long": row.lon,
    }
