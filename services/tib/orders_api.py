"""Patrol orders: the TiB issues, edits and cancels them ("tasking"); the guard company
acknowledges, checks in and out and reports the outcome with its own reporting token.

Who may do what (shared/access.py): listing needs "live" (every order of the kommun) or
the guard-company mark (the company's own and unassigned orders); public, meeting and plain
reporter tokens cannot list. An order is acted on only by the guard company it is assigned
to, or, unassigned, by the first guard company to act on it; an organisation that is not a
guard company (field workers, nattvandrare, …) never can. `assigned_to` must name a guard
company of the order's kommun. An order id of another kommun is 404.

Each change is checked against the order's state, stored as an event, then put on
TIB_ORDER_STREAM for the guard company's consumer. An outcome may carry an incident
report: it goes to the reports stream like any intake submission (organisation, kommun and
source from the token), so the ingest validates and stores it as usual.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from services.tib import store
from services.tib.context import (
    Ctx,
    GuardCompany,
    OrderReader,
    Tasking,
    TibContext,
    TibError,
    check_kommun,
)
from shared import patrol_orders as orders
from shared.access import GUARD_ORDERS, LIVE, Caller, caller_by_name
from shared.contracts import (
    GUARD_EVENTS,
    PIPELINE_GROUPS,
    REPORTS_STREAM,
    TIB_ORDER_STREAM,
    PatrolOrderEventV1,
    PatrolOrderV1,
    ReportV1,
)
from shared.streams import ensure_groups, send

router = APIRouter(prefix="/api/v1/tib/orders", tags=["TiB-uppdrag"])


class OrderIn(BaseModel):
    place: str = Field(min_length=1, max_length=200)
    lat: float | None = None
    lon: float | None = None
    area: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    task: str = Field(min_length=1, max_length=1000)
    priority: Literal["hög", "normal", "låg"] = "normal"
    assigned_to: str | None = None
    reason: str = Field("", max_length=500)


ACTION_ID = r"^[A-Za-z0-9_-]{8,64}$"


class NoteIn(BaseModel):
    note: str = Field("", max_length=2000)
    action_id: str | None = Field(
        None,
        pattern=ACTION_ID,
        description="the client's id of this action: sent again (a phone that was offline "
        "retries), it is done once and answered with the order's state",
    )


class IncidentIn(BaseModel):
    report_id: str | None = Field(None, description="unset: tib-<order id>-<n>")
    category: str
    occurred_at: AwareDatetime | None = None
    lat: float | None = Field(None, description="unset: the order's place")
    lon: float | None = None
    source: str | None = Field(None, description="unset: the token's first source")
    description: str = Field("", max_length=2000)


class OutcomeIn(NoteIn):
    incident: IncidentIn | None = None


def _order(kommun: str, body: OrderIn, order_id: str | None = None) -> PatrolOrderV1:
    try:
        extra = {"order_id": order_id} if order_id else {}
        return PatrolOrderV1(kommun=kommun, **body.model_dump(), **extra)
    except ValidationError as exc:
        raise TibError(422, "invalid_order", f"Ogiltigt uppdrag: {exc.errors()[0]['msg']}",
                       f"Invalid order: {exc.errors()[0]['msg']}") from None  # fmt: skip


async def _check_assignee(ctx: TibContext, kommun: str, name: str | None) -> None:
    """An order goes to a guard company of its kommun, or to none (then any of them)."""
    if name is None:
        return
    org = await anyio.to_thread.run_sync(caller_by_name, ctx.engine, name)
    if org is None or not org.can(GUARD_ORDERS) or not org.covers(kommun):
        raise TibError(
            422,
            "not_a_guard_company",
            f"{name!r} är inget väktarbolag i kommun {kommun}: uppdrag går bara till "
            "organisationer som är markerade som väktarbolag (lagesbild org guard-company).",
            f"{name!r} is not a guard company of kommun {kommun}.",
        )


async def _current(
    ctx: TibContext, caller: Caller, kommun: str, order_id: str, kind: str
) -> orders.OrderState | None:
    """The order's state before `kind`: 404 when the kommun has no such order; 403 when a
    guard company acts on an order that is another company's."""
    events = await anyio.to_thread.run_sync(store.order_events, ctx.engine, kommun, order_id)
    state = orders.fold(events).get(order_id)
    if kind == "issued":
        return state
    if state is None:
        raise TibError(
            404,
            "order_not_found",
            f"Det finns inget uppdrag {order_id!r} i kommun {kommun}.",
            f"There is no order {order_id!r} in kommun {kommun}.",
        )
    if kind in GUARD_EVENTS and state.holder not in (None, caller.organisation):
        raise TibError(
            403,
            "order_not_yours",
            "Uppdraget är tilldelat ett annat väktarbolag; bara det kan kvittera, checka in, "
            "checka ut eller rapportera utfall.",
            "The order is another guard company's.",
        )
    return state


def action_message_id(caller: Caller, order_id: str, kind: str, action_id: str | None) -> str:
    """The event's id: from the client's action id when it sent one (the same action sent
    twice gets the same id, and the second is not recorded), else a fresh one."""
    if action_id is None:
        return uuid.uuid4().hex
    key = f"{caller.organisation}/{order_id}/{kind}/{action_id}"
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex


async def _done_before(
    ctx: TibContext, kommun: str, order_id: str, message_id: str
) -> dict[str, Any] | None:
    """The order's state when the event `message_id` is already recorded (a retry)."""
    events = await anyio.to_thread.run_sync(store.order_events, ctx.engine, kommun, order_id)
    if not any(e.message_id == message_id for e in events):
        return None
    state = orders.fold(events)[order_id]
    return state.as_dict() | {"duplicate": True}


async def _record(
    ctx: TibContext,
    caller: Caller,
    kommun: str,
    order_id: str,
    kind: str,
    action_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Check the event against the order's state, store it, put it on the stream; then
    tell the TiB page's open event streams (`event: order`)."""
    message_id = action_message_id(caller, order_id, kind, action_id)
    event = PatrolOrderEventV1(
        message_id=message_id,
        order_id=order_id,
        kommun=kommun,
        kind=kind,
        at=datetime.now(UTC),
        by=caller.organisation,
        **fields,
    )
    event = orders.scrubbed(event)  # no personal data stored or published (shared/scrub.py)
    async with ctx.order_lock:
        if action_id is not None and (
            done := await _done_before(ctx, kommun, order_id, message_id)
        ):
            return done
        current = await _current(ctx, caller, kommun, order_id, kind)
        try:
            state = orders.apply(current, event)
        except orders.OrderConflict as exc:
            raise TibError(
                409, "order_conflict", str(exc), "The order's state does not allow this."
            ) from None
        await anyio.to_thread.run_sync(store.append_event, ctx.engine, event)
        try:
            await send(ctx.redis, TIB_ORDER_STREAM, event)
        except Exception:
            await anyio.to_thread.run_sync(store.remove_event, ctx.engine, event.message_id)
            raise
    ctx.hub.broadcast(kommun, {"type": "order", "order": state.as_dict()})
    return state.as_dict()


def _visible(caller: Caller, state: orders.OrderState) -> bool:
    """The TiB sees every order of its kommun; a guard company its own and unassigned ones."""
    if caller.can(LIVE):
        return True
    return state.holder in (None, caller.organisation)


KommunParam = Annotated[
    str | None, Query(description="unset: the token's; an administrator's other kommun")
]


@router.get("", summary="Uppdragen i kommunen (TiB; väktarbolag: sina och otilldelade)")
async def list_orders(
    caller: OrderReader, ctx: Ctx, kommun: KommunParam = None
) -> list[dict[str, Any]]:
    kommun = check_kommun(caller, kommun)
    events = await anyio.to_thread.run_sync(store.order_events, ctx.engine, kommun)
    states = [s for s in orders.fold(events).values() if _visible(caller, s)]
    return [s.as_dict() for s in sorted(states, key=lambda s: s.order.start)]


@router.post("", status_code=201, summary="Utfärda ett uppdrag (TiB)")
async def issue(
    body: OrderIn, caller: Tasking, ctx: Ctx, kommun: KommunParam = None
) -> dict[str, Any]:
    kommun = check_kommun(caller, kommun)
    order = _order(kommun, body)
    await _check_assignee(ctx, kommun, order.assigned_to)
    return await _record(ctx, caller, kommun, order.order_id, "issued", order=order)


@router.put("/{order_id}", summary="Ändra ett uppdrag (TiB)")
async def update(
    order_id: str, body: OrderIn, caller: Tasking, ctx: Ctx, kommun: KommunParam = None
) -> dict[str, Any]:
    kommun = check_kommun(caller, kommun)
    order = _order(kommun, body, order_id)
    await _check_assignee(ctx, kommun, order.assigned_to)
    return await _record(ctx, caller, kommun, order_id, "updated", order=order)


@router.post("/{order_id}/cancel", summary="Ställ in ett uppdrag (TiB)")
async def cancel(
    order_id: str, body: NoteIn, caller: Tasking, ctx: Ctx, kommun: KommunParam = None
) -> dict[str, Any]:
    kommun = check_kommun(caller, kommun)
    return await _record(ctx, caller, kommun, order_id, "cancelled", body.action_id, note=body.note)


@router.post("/{order_id}/acknowledge", summary="Kvittera ett uppdrag (väktarbolaget)")
async def acknowledge(
    order_id: str, body: NoteIn, caller: GuardCompany, ctx: Ctx
) -> dict[str, Any]:
    return await _record(
        ctx, caller, caller.kommun, order_id, "acknowledged", body.action_id, note=body.note
    )


@router.post("/{order_id}/check-in", summary="Checka in på platsen (väktarbolaget)")
async def check_in(order_id: str, body: NoteIn, caller: GuardCompany, ctx: Ctx) -> dict[str, Any]:
    return await _record(
        ctx, caller, caller.kommun, order_id, "checked_in", body.action_id, note=body.note
    )


@router.post("/{order_id}/check-out", summary="Checka ut från platsen (väktarbolaget)")
async def check_out(order_id: str, body: NoteIn, caller: GuardCompany, ctx: Ctx) -> dict[str, Any]:
    return await _record(
        ctx, caller, caller.kommun, order_id, "checked_out", body.action_id, note=body.note
    )


@router.post("/{order_id}/outcome", summary="Rapportera utfallet (väktarbolaget)")
async def outcome(order_id: str, body: OutcomeIn, caller: GuardCompany, ctx: Ctx) -> dict[str, Any]:
    """The outcome in words, optionally with an incident report for the lägesbild."""
    kommun = caller.kommun  # a guard company acts for its one kommun
    report_key = None
    if body.action_id is not None:  # a retry: neither the report nor the event again
        message_id = action_message_id(caller, order_id, "outcome", body.action_id)
        if done := await _done_before(ctx, kommun, order_id, message_id):
            return done
    if body.incident is not None:
        state = await _current(ctx, caller, kommun, order_id, "outcome")
        probe = PatrolOrderEventV1(order_id=order_id, kommun=kommun, kind="outcome",
                                   at=datetime.now(UTC), by=caller.organisation)  # fmt: skip
        try:  # refuse before the report is published, not after
            state = orders.apply(state, probe)
        except orders.OrderConflict as exc:
            raise TibError(
                409, "order_conflict", str(exc), "The order's state does not allow this."
            ) from None
        report = _incident_report(
            ctx, caller, state, body.incident, len(state.incident_reports) + 1
        )
        await ensure_groups(ctx.redis, PIPELINE_GROUPS)
        key = f"{report.organisation}/{report.report_id}"
        await send(ctx.redis, REPORTS_STREAM, report, message_id=key)
        report_key = key
    return await _record(
        ctx, caller, kommun, order_id, "outcome", body.action_id,
        note=body.note, incident_report_id=report_key,
    )  # fmt: skip


def _incident_report(
    ctx: TibContext, caller: Caller, state: orders.OrderState, inc: IncidentIn, n: int
) -> ReportV1:
    source = inc.source or (caller.sources[0] if caller.sources else None)
    if source not in caller.sources:
        raise TibError(403, "source_not_allowed", f"Nyckeln får inte rapportera som {source!r}.",
                       f"The token may not report as {source!r}.")  # fmt: skip
    if inc.category not in ctx.categories:
        raise TibError(422, "unknown_category", f"Okänd kategori {inc.category!r}.",
                       f"Unknown category {inc.category!r}.")  # fmt: skip
    lat, lon = (
        inc.lat if inc.lat is not None else state.order.lat,
        inc.lon if inc.lon is not None else state.order.lon,
    )
    try:
        return ReportV1(
            report_id=inc.report_id or f"tib-{state.order.order_id}-{n}",
            kommun=caller.kommun,
            source=source,
            organisation=caller.organisation,
            category=inc.category,
            occurred_at=inc.occurred_at or datetime.now(UTC),
            lat=lat,
            lon=lon,
            description=inc.description,
        )
    except ValidationError as exc:
        raise TibError(422, "invalid_report", f"Ogiltig rapport: {exc.errors()[0]['msg']}",
                       f"Invalid report: {exc.errors()[0]['msg']}") from None  # fmt: skip
