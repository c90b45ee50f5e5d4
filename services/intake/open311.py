"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2), in JSON and XML: discovery,
services and their definitions, creating, listing and reading service requests.

The routes only translate: the rules are in `open311_model.py` (pure), the formats in
`open311_format.py`, the queries in `open311_store.py`. A service request is a report
received here; what is shown of it never names the organisation or the reporter, and its
text is scrubbed. Personal fields a client may send (email, first_name, phone, …) and
media_url are ignored, never stored. Status: `open` while queued; `closed` once stored in
the lägesbild or rejected (`updated_datetime`: when). Without a key, GET shows the public
view (`LAGESBILD_OPEN311_PUBLIC_READ`, on by default); see docs/open311.md.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from services.intake import audit
from services.intake import open311_model as model
from services.intake.auth import authorize, deny, token_of
from services.intake.context import Ctx, IntakeContext, in_thread, remote_addr
from services.intake.errors import IntakeError
from services.intake.open311_format import JSON_TYPE, XML_TYPE, Format, render
from services.intake.open311_store import Query as Find
from services.intake.open311_store import find, live_receipts
from services.intake.submit import send_reports, validate_all
from shared.access import OWN_STATUS, SUBMIT, VIEW_REPORTS, Caller
from shared.areas import KommunAreas
from shared.weeks import iso_week_of, week_bounds

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
STARTED = datetime.now(UTC)  # the discovery's changeset: categories and areas load at start


def _doc(schema: dict[str, Any], description: str, status: int = 200) -> dict[int | str, Any]:
    xml = {"schema": {"type": "string", "description": "the same, as the spec's XML"}}
    content = {JSON_TYPE: {"schema": schema}, XML_TYPE: xml}
    return {status: {"description": description, "content": content}}


def _obj(required: list[str], /, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_STR, _NSTR = {"type": "string"}, {"type": ["string", "null"]}
_NUM = {"type": "number"}
SERVICE = _obj(
    ["service_code", "service_name", "metadata", "type"],
    service_code=_STR, service_name=_STR, description=_STR, metadata={"type": "boolean"},
    type={"enum": ["realtime", "batch", "blackbox"]}, keywords=_STR, group=_STR,
)  # fmt: skip
ATTRIBUTE = _obj(
    ["variable", "code", "datatype", "required", "order", "description"],
    variable={"type": "boolean"}, code=_STR, datatype=_STR, required={"type": "boolean"},
    datatype_description=_NSTR, order={"type": "integer"}, description=_STR,
    values={"type": "array", "items": _obj(["key", "name"], key=_STR, name=_STR)},
)  # fmt: skip
DEFINITION = _obj(
    ["service_code", "attributes"],
    service_code=_STR, attributes={"type": "array", "items": ATTRIBUTE},
)  # fmt: skip
DISCOVERY = _obj(
    ["changeset", "contact", "key_service", "endpoints"],
    changeset=_STR, contact=_STR, key_service=_STR,
    endpoints={"type": "array", "items": _obj(
        ["specification", "url", "changeset", "type", "formats"],
        specification=_STR, url=_STR, changeset=_STR, type={"enum": ["production", "test"]},
        formats={"type": "array", "items": _STR},
    )},
)  # fmt: skip
CREATED = {
    "type": "array",
    "items": _obj(
        ["service_request_id"],
        service_request_id=_STR, service_notice=_NSTR, account_id=_NSTR,
    ),
}  # fmt: skip
SERVICE_REQUESTS = {
    "type": "array",
    "items": _obj(
        ["service_request_id", "status", "service_code", "requested_datetime"],
        service_request_id=_STR, status={"enum": ["open", "closed"]}, status_notes=_NSTR,
        service_code=_STR, service_name=_STR, description=_NSTR,
        requested_datetime=_STR, updated_datetime=_NSTR, address=_STR, address_id=_STR,
        lat=_NUM, long=_NUM,
    ),
}  # fmt: skip
FORMAT_DOC = "json or xml"


def _kommun_param() -> Any:
    return Query(None, description="kommunkoden, t.ex. 0580 (utan nyckel: krävs när flera "
                 "kommuner är påslagna)")  # fmt: skip


@router.get(
    "/discovery.{response_format}",
    summary="Service Discovery",
    response_class=Response,
    responses=_doc(DISCOVERY, "the endpoints and their formats"),
)
async def discovery(response_format: Format) -> Response:
    return render(response_format, "discovery", model.discovery(STARTED))


@router.get(
    "/services.{response_format}",
    summary="Tjänster (kategorierna)",
    response_class=Response,
    responses=_doc({"type": "array", "items": SERVICE}, "every category as a service"),
)
async def services(
    ctx: Ctx, response_format: Format, jurisdiction_id: str | None = _kommun_param()
) -> Response:
    if jurisdiction_id:
        model.jurisdiction(ctx.kommuner, jurisdiction_id, None)
    return render(response_format, "services", model.service_list(ctx.categories))


@router.get(
    "/services/{service_code}.{response_format}",
    summary="En tjänsts definition (attributen källa och tid)",
    response_class=Response,
    responses=_doc(DEFINITION, "the attributes of a service"),
)
async def service_definition(
    ctx: Ctx,
    service_code: str,
    response_format: Format,
    jurisdiction_id: str | None = _kommun_param(),
) -> Response:
    if service_code not in ctx.categories:
        raise IntakeError.one(
            404,
            "unknown_category",
            f"Tjänsten {service_code!r} finns inte; se services.{response_format}.",
            f"No service {service_code!r}; see services.{response_format}.",
            "service_code",
        )
    kommun = None
    if jurisdiction_id or len(ctx.kommuner) == 1:
        kommun = model.jurisdiction(ctx.kommuner, jurisdiction_id, None)
    definition = model.service_definition(service_code, kommun)
    return render(response_format, "service_definition", definition)


@router.post(
    "/requests.{response_format}",
    status_code=201,
    summary="Skapa en rapport",
    response_class=Response,
    responses=_doc(CREATED, "the new service request's id", 201),
)
async def create_request(
    request: Request,
    ctx: Ctx,
    response_format: Format,
    service_code: str = Form(...),
    lat: str | None = Form(None),
    long: str | None = Form(None),
    address_string: str | None = Form(None, description="an area or known place, by name"),
    address_id: str | None = Form(None, description="omrade:<namn> or plats:<namn>"),
    api_key: str | None = Form(None, description="the organisation's key"),
    jurisdiction_id: str | None = Form(None),
    description: str = Form(""),
    source: str | None = Form(None, alias="attribute[source]"),
    occurred_at: str | None = Form(None, alias="attribute[occurred_at]"),
) -> Response:
    """Form-encoded (the spec). One location: `lat` and `long`, or `address_string` (an
    area or known place of the key's kommun, by name), or `address_id`.
    `attribute[source]` chooses among the key's sources (default: its first);
    `attribute[occurred_at]` (ISO 8601 with offset) defaults to now."""
    caller = await authorize(ctx, request, api_key or token_of(request), SUBMIT)
    kommun = model.jurisdiction(ctx.kommuner, jurisdiction_id, caller.kommun)
    where = model.location(kommun, lat, long, address_string, address_id)
    payload = {
        "report_id": f"open311-{uuid.uuid4().hex}",
        "source": source or (caller.sources[0] if caller.sources else None),
        "category": service_code,
        "occurred_at": occurred_at or datetime.now(UTC).isoformat(),
        "lat": where.lat,
        "lon": where.lon,
        "location_precision": where.precision,
        "description": description,
    }
    reports = validate_all(ctx, caller, [payload])
    statuses = await send_reports(ctx, caller, reports, "open311", remote_addr(request))
    created = [
        {
            "service_request_id": str(statuses[0].receipt_id),
            "service_notice": "Tack! Rapporten är mottagen.",
            "account_id": None,
        }
    ]
    return render(response_format, "service_requests", created, 201)


async def _reader(
    ctx: IntakeContext, request: Request, jurisdiction_id: str | None
) -> tuple[Caller | None, str | None]:
    """(caller, organisation whose requests it may see; None: the whole kommun). No key:
    (None, None), the public view, unless LAGESBILD_OPEN311_PUBLIC_READ is off (403)."""
    token = token_of(request)
    if token is None:
        if not ctx.settings.open311_public_read:
            raise IntakeError.one(
                403,
                "missing_token",
                "Nyckel (api_key) saknas: här visas rapporter bara för organisationer med nyckel.",
                "No api_key: reports are shown only to organisations with a key.",
                "api_key",
            )
        return None, None
    caller = await authorize(ctx, request, token, None)
    if caller.can(VIEW_REPORTS):
        return caller, None
    if caller.can(OWN_STATUS):
        return caller, caller.organisation
    await deny(ctx, request, caller, "open311:requests")
    raise IntakeError.one(
        403,
        "role_not_allowed",
        f"Rollen {caller.role} får bara se sammanställda lägesbilder; utan nyckel visas den "
        "offentliga vyn.",
        f"The role {caller.role} may only see aggregated lägesbilder; without a key the "
        "public view is shown.",
    )


async def _show(
    ctx: IntakeContext,
    request: Request,
    caller: Caller | None,
    find_what: Find,
    what: str,
) -> list[dict[str, Any]]:
    kommun = ctx.kommuner[find_what.kommun]
    found = await in_thread(find, ctx.engine, find_what)
    if caller is None:
        points = model.area_points(kommun)
        sizes = await in_thread(_public_group_sizes, ctx.engine, kommun, found)
        return [
            model.public_view(
                r, ctx.categories, kommun, points, sizes[model.public_group(r, kommun)]
            )
            for r in found
        ]
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "view", what,
        remote_addr(request), f"{len(found)} requests",
    )  # fmt: skip
    return [model.restricted_view(r, ctx.categories) for r in found]


def _public_group_sizes(
    engine: Engine, kommun: KommunAreas, found: list[model.Request]
) -> Counter[tuple[str, str, str]]:
    """How many requests (not rejected) each public group of `found` holds in all."""
    if not found:
        return Counter()
    weeks = {iso_week_of(r.requested) for r in found}
    start, end = week_bounds(min(weeks))[0], week_bounds(max(weeks))[1]
    every = live_receipts(engine, kommun.kommun, start, end)
    return Counter(model.public_group(r, kommun) for r in every)


@router.get(
    "/requests.{response_format}",
    summary="Rapporter (utan nyckel: den offentliga vyn)",
    response_class=Response,
    responses=_doc(SERVICE_REQUESTS, "the service requests asked for"),
)
async def list_requests(
    request: Request,
    ctx: Ctx,
    response_format: Format,
    service_request_id: str | None = Query(None, description="ids, comma-separated; "
                                           "overrides every other filter"),
    service_code: str | None = Query(None, description="comma-separated"),
    status: str | None = Query(None, description="open, closed (comma-separated)"),
    start_date: str | None = Query(None, description="w3 date/time, e.g. 2026-11-01T00:00:00Z"),
    end_date: str | None = Query(None, description="w3 date/time; at most 90 days after "
                                 "start_date; neither: the last 90 days"),
    jurisdiction_id: str | None = _kommun_param(),
) -> Response:  # fmt: skip
    caller, organisation = await _reader(ctx, request, jurisdiction_id)
    kommun = model.jurisdiction(ctx.kommuner, jurisdiction_id, caller.kommun if caller else None)
    ids = model.request_ids(service_request_id)
    if ids is not None:
        query = Find(kommun.kommun, organisation, ids)
    else:
        start, end = model.window(
            model.moment("start_date", start_date),
            model.moment("end_date", end_date),
            datetime.now(UTC),
        )
        query = Find(
            kommun.kommun, organisation, None, model.comma_list(service_code), start, end,
            model.statuses(status),
        )  # fmt: skip
    shown = await _show(ctx, request, caller, query, "open311:requests")
    return render(response_format, "service_requests", shown)


@router.get(
    "/requests/{service_request_id}.{response_format}",
    summary="En rapport (utan nyckel: den offentliga vyn)",
    response_class=Response,
    responses=_doc(SERVICE_REQUESTS, "the service request (a list of one)"),
)
async def get_request(
    request: Request,
    ctx: Ctx,
    service_request_id: str,
    response_format: Format,
    jurisdiction_id: str | None = _kommun_param(),
) -> Response:
    caller, organisation = await _reader(ctx, request, jurisdiction_id)
    kommun = model.jurisdiction(ctx.kommuner, jurisdiction_id, caller.kommun if caller else None)
    ids = model.request_ids(service_request_id) or [-1]
    query = Find(kommun.kommun, organisation, ids[:1])
    shown = await _show(ctx, request, caller, query, f"open311:request:{service_request_id}")
    if not shown:
        raise IntakeError.one(
            404,
            "not_found",
            f"Ingen rapport {service_request_id!r} här.",
            f"No service request {service_request_id!r} here.",
            "service_request_id",
        )
    return render(response_format, "service_requests", shown)
