"""The live picture and the recommendation: `/api/v1/tib/…` (permission "live", "tasking")."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.tib import store
from services.tib.alarms import alarms
from services.tib.context import (
    LIVE,
    Ctx,
    Live,
    Tasking,
    TibContext,
    TibError,
    check_kommun,
    still_allowed,
    token_of,
)
from services.tib.patrol_plan import patrol_plan, visit_dict
from shared import patrol_orders as orders
from shared.contracts import WeekSnapshotV1
from shared.counting import week_numbers
from shared.formats import week_label_sv
from shared.patrols.allocation import Constraints
from shared.weeks import STOCKHOLM, iso_week_of, week_bounds

router = APIRouter(prefix="/api/v1/tib", tags=["TiB"])
FromParam = Annotated[datetime | None, Query(alias="from", description="unset: the next full hour")]


def overlay(snap: WeekSnapshotV1 | None) -> dict[str, Any] | None:
    """What the map draws from the lägesbild: hotspots and this week's alerts."""
    if snap is None:
        return None
    hotspots = [
        h.model_dump(
            include={"name", "areas", "polygon", "centroid", "count", "categories", "trend"}
        )
        for h in snap.hotspots
    ]
    # each alarm as a sentence (services/tib/alarms.py); the page shows it as text
    alerts = alarms(snap.stats, snap.categories, snap.iso_week)
    numbers = week_numbers(snap)  # the counting rule: händelser, as on every page
    return {
        "iso_week": snap.iso_week,
        "week_label": week_label_sv(snap.iso_week),
        "revision": snap.revision,
        "hotspots": hotspots,
        "alerts": alerts,
        "categories": snap.categories,
        "counts": {
            "headline": numbers.phrase(),
            "total": numbers.total.count,
            "previous_total": numbers.total.previous,
            "reports": numbers.reports,
            "duplicates": numbers.duplicates,
            "areas": {area: pair.count for area, pair in numbers.areas.items()},
            "categories": {code: pair.count for code, pair in numbers.categories.items()},
        },
    }


@router.get("/live", summary="Lägesbilden just nu")
async def live(
    caller: Live,
    ctx: Ctx,
    kommun: str | None = None,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> dict[str, Any]:
    """Accepted reports of the last `hours` (by when they happened), the newest lägesbild's
    hotspots and alerts, and the meeting's open decisions."""
    kommun = check_kommun(caller, kommun)
    now = datetime.now(UTC)
    rows = await anyio.to_thread.run_sync(
        store.reports_since, ctx.engine, kommun, now - timedelta(hours=hours)
    )
    snap = await anyio.to_thread.run_sync(store.latest_snapshot, ctx.engine, kommun)
    decisions = await anyio.to_thread.run_sync(store.open_decisions, ctx.engine, kommun)
    return {
        "kommun": kommun,
        "hours": hours,
        "generated_at": now.isoformat(),
        "reports": [store.public(r) for r in rows],
        "lagesbild": overlay(snap),
        "decisions": [d.model_dump(mode="json") for d in decisions],
        "categories": dict(ctx.categories),
    }


@router.get("/stream", summary="Nya rapporter när de godkänns (server-sent events)")
async def stream(request: Request, caller: Live, ctx: Ctx, kommun: str | None = None) -> Any:
    """`event: report` with the report as JSON for each newly accepted one; `event: refresh`
    when a new lägesbild or decision arrived; `event: order` with an order's state when it
    changed; a comment every heartbeat (15 s) keeps
    proxies open. At every heartbeat the token is checked again: once it is revoked (or
    no longer allowed) the stream sends `event: revoked` and closes."""
    kommun = check_kommun(caller, kommun)
    token = token_of(request)
    assert token is not None  # `Live` checked it
    queue = ctx.hub.subscribe(kommun)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(request, ctx, queue, token, kommun), media_type="text/event-stream",
        headers=headers,
    )  # fmt: skip


REVOKED = {
    "message_sv": "Nyckeln har återkallats eller gäller inte längre. Logga in igen.",
    "message_en": "The token was revoked or is no longer valid. Log in again.",
}


async def _events(
    request: Request, ctx: TibContext, queue: Any, token: str, kommun: str
) -> AsyncIterator[str]:
    beat = ctx.settings.tib_heartbeat_seconds
    loop = asyncio.get_running_loop()
    try:
        yield ": ansluten\n\n"
        next_check = loop.time() + beat
        while not await request.is_disconnected():
            item = None
            with contextlib.suppress(TimeoutError):  # none before the heartbeat
                item = await asyncio.wait_for(queue.get(), max(0.0, next_check - loop.time()))
            if loop.time() >= next_check:  # a heartbeat: is the token still good?
                if not await still_allowed(ctx, token, LIVE, kommun):
                    yield f"event: revoked\ndata: {json.dumps(REVOKED, ensure_ascii=False)}\n\n"
                    return
                next_check = loop.time() + beat
                if item is None:
                    yield ": heartbeat\n\n"
            if item is not None:
                kind, data = _event_of(item)
                yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    finally:
        ctx.hub.unsubscribe(queue)


def _event_of(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A hub item as an SSE event: `order` (an order's new state, from orders_api),
    `refresh` (a new lägesbild or decision) or `report` (a newly accepted report)."""
    if item.get("type") == "order":
        return "order", item["order"]
    return ("refresh" if "type" in item else "report"), item


@router.get("/areas.geojson", summary="Kommunens områden")
async def areas(caller: Live, ctx: Ctx, kommun: str | None = None) -> dict[str, Any]:
    kommun = check_kommun(caller, kommun)
    if kommun not in ctx.kommuner:
        raise TibError(404, "unknown_kommun", "Kommunen saknar områdesfil.", "No area file.")
    return ctx.kommuner[kommun].geojson


@router.get("/recommendation", summary="Förslag: var och när patrullerna gör mest nytta")
async def recommend(
    caller: Tasking,
    ctx: Ctx,
    kommun: str | None = None,
    start: FromParam = None,
    hours: Annotated[float, Query(gt=0, le=24 * 7)] = 8,
    patrols: Annotated[int, Query(ge=1, le=50)] = 2,
    min_visit_minutes: Annotated[int, Query(ge=15, le=24 * 60)] = 60,
    max_share: Annotated[float, Query(gt=0, le=1)] = 0.5,
    speed_kmh: Annotated[float, Query(gt=0)] = 25,
) -> dict[str, Any]:
    kommun = check_kommun(caller, kommun)
    now = datetime.now(UTC)
    start = _aware(start) if start else next_hour(now)
    snap = await anyio.to_thread.run_sync(store.latest_snapshot, ctx.engine, kommun)
    if snap is None:
        return {
            "kommun": kommun,
            "iso_week": None,
            "visits": [],
            "message_sv": "Ingen lägesbild ännu: förslag kräver veckans hotspots.",
        }
    limits = Constraints(min_visit_minutes, speed_kmh, max_share)
    areas = ctx.kommuner.get(kommun)
    visits = await anyio.to_thread.run_sync(
        lambda: patrol_plan(
            ctx.engine,
            snap,
            start,
            hours,
            patrols,
            now,
            limits,
            areas,
            ctx.categories,
        )
    )
    return {
        "kommun": kommun,
        "iso_week": snap.iso_week,
        "from": start.isoformat(),
        "hours": hours,
        "patrols": patrols,
        "visits": [visit_dict(v) for v in visits],
    }


def next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _aware(moment: datetime) -> datetime:
    # a time without offset is Stockholm's, as the TiB means it
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


@router.get("/presence", summary="Väktarnas närvaro per plats och vecka")
async def presence(
    caller: Live, ctx: Ctx, kommun: str | None = None, week: str | None = None
) -> dict[str, Any]:
    """Hours between check-in and check-out per place, visits, outcomes and incident
    reports: where the guards were and what happened there (for the meeting's follow-up)."""
    kommun = check_kommun(caller, kommun)
    week = week or iso_week_of(datetime.now(UTC))
    try:
        week_bounds(week)
    except ValueError:
        raise TibError(
            400, "invalid_week", "Veckan ska skrivas som 2026-W47.",
            "The week must be written like 2026-W47.",
        ) from None  # fmt: skip
    events = await anyio.to_thread.run_sync(store.order_events, ctx.engine, kommun)
    return {
        "kommun": kommun,
        "iso_week": week,
        "places": orders.presence(orders.fold(events).values(), week),
    }
