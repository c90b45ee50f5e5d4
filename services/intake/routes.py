"""The JSON API: `/api/v1/…` (documented at /docs and /openapi.json)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.intake import audit
from services.intake.auth import (
    AnyCaller,
    Auditor,
    StatusReader,
    Submitter,
    charge_reports,
    receipt_kommun,
    visible_organisations,
)
from services.intake.context import Ctx, IntakeContext, in_thread, remote_addr
from services.intake.errors import IntakeError, rejection_item
from services.intake.models import IntakeReceipt
from services.intake.submit import (
    Status,
    nollrapport,
    send_nollrapport,
    send_reports,
    statuses_of,
    validate_all,
)
from shared.access import ROLE_PERMISSIONS, VIEW_REPORTS
from shared.categories import SOURCE_LABELS, Source
from shared.contracts import ReportV1
from shared.photos import ACCEPTED_TYPES, PhotoError, PhotoStore, clean_photo
from shared.places import places_for, search_places
from shared.validation import MAX_JSON_DEPTH, Rejection, json_depth_exceeds

router = APIRouter(prefix="/api/v1")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Nyckel saknas eller är ogiltig / missing or invalid token"},
    403: {"description": "Rollen, källan eller kommunen är inte tillåten / not allowed"},
    413: {"description": "För stor förfrågan / body too large"},
    422: {"description": "Avvisad: `errors` med code, message_sv, message_en, field"},
    429: {"description": "För många anrop; se Retry-After / rate limited"},
}


# --- response models (for the OpenAPI document) ------------------------------------


class ErrorItem(BaseModel):
    code: str
    message_sv: str
    message_en: str
    field: str | None = None


class Receipt(BaseModel):
    report_id: str
    status: str = Field(description="queued, stored or rejected")
    status_url: str
    reason: ErrorItem | None = None


class SubmitResponse(BaseModel):
    message_sv: str
    receipts: list[Receipt]


class NollrapportIn(BaseModel):
    source: Source | None = Field(None, description="unset: the token's only source")
    iso_week: str | None = Field(None, description="e.g. 2026-W47; unset: this week")
    area: str | None = Field(None, description="an area of the kommun; unset: the whole kommun")


class NollrapportReceipt(BaseModel):
    message_id: str
    iso_week: str
    area: str | None
    message_sv: str


class Me(BaseModel):
    organisation: str
    kommun: str
    kommun_name: str
    role: str
    permissions: list[str]
    sources: dict[str, str] = Field(description="code -> Swedish label")
    centre: tuple[float, float] | None = Field(description="lat, lon of the kommun's centre")
    areas: list[str]


def status_path(request: Request, report_id: str) -> str:
    """The report's status address, percent-encoded: a report_id may hold `/`, `?`, `#`,
    `%`, spaces and any other printable character, and must come back unchanged."""
    url = request.url_for("report_status", report_id=quote(report_id, safe=""))
    return url.path


def _receipt(request: Request, status: Status) -> Receipt:
    reason = ErrorItem(**status.reason) if status.reason else None
    return Receipt(
        report_id=status.report_id,
        status=status.status,
        status_url=status_path(request, status.report_id),
        reason=reason,
    )


# --- reports -----------------------------------------------------------------------


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` inlined, to embed in the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


def _report_schema() -> dict[str, Any]:
    schema = _inline_refs(ReportV1.model_json_schema())
    schema["title"] = "Rapport"
    # The token decides these: organisation always, kommun and source when left out.
    schema["required"] = [f for f in schema["required"] if f not in ("organisation", "kommun")]
    schema["properties"]["organisation"]["description"] = "ignored: taken from the token"
    return schema


_REPORT_SCHEMA = _report_schema()
_REPORTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_REPORT_SCHEMA, {"type": "array", "items": _REPORT_SCHEMA}]}
            }
        },
    }
}


@router.post(
    "/reports",
    status_code=202,
    response_model=SubmitResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=_REPORTS_BODY,
    summary="Skicka en eller flera rapporter",
)
async def submit_reports(
    request: Request,
    caller: Submitter,
    ctx: Ctx,
) -> SubmitResponse:
    """One report (an object) or many (a list). All are validated as the ingest does; if
    any is rejected, none is published (422 names each). `organisation` comes from the
    token; `kommun` and `source` too when left out. Retrying with the same report_id and
    content is safe: it is answered from the receipt, not published again."""
    payloads = _parse_body(ctx, await request.body())
    await charge_reports(ctx, caller, len(payloads))  # a batch counts per report
    reports = validate_all(ctx, caller, payloads)
    statuses = await send_reports(ctx, caller, reports, "api", remote_addr(request))
    n = len(statuses)
    message = "Tack! Rapporten är mottagen." if n == 1 else f"Tack! {n} rapporter är mottagna."
    return SubmitResponse(message_sv=message, receipts=[_receipt(request, s) for s in statuses])


def _parse_body(ctx: IntakeContext, body: bytes) -> list[Any]:
    try:
        # One level more than a report may have: the list around many reports.
        if json_depth_exceeds(body.decode("utf-8", "replace"), MAX_JSON_DEPTH + 1):
            raise ValueError("nested too deeply")
        data = json.loads(body)
    except (ValueError, RecursionError):
        # validation words the reason (invalid_encoding or invalid_json) as the ingest would
        result = ctx.validate(body, "-", max_bytes=len(body) + 1)  # the body's size is fine
        if isinstance(result, Rejection):
            raise IntakeError(422, [rejection_item(result)]) from None
        raise  # unreachable: a body json.loads refuses never validates
    items = data if isinstance(data, list) else [data]
    if not items:
        raise IntakeError.one(
            422,
            "not_an_object",
            "Listan är tom: skicka minst en rapport.",
            "The list is empty: send at least one report.",
        )
    return items


@router.get(
    # `:path`: a report_id with `/` (sent as %2F, which the server decodes) still matches.
    "/reports/{report_id:path}/status",
    response_model=Receipt,
    responses=ERROR_RESPONSES,
    name="report_status",
    summary="Status för en rapport",
)
async def report_status(
    report_id: str,
    request: Request,
    caller: StatusReader,
    ctx: Ctx,
    organisation: str | None = Query(None, description="another organisation's (tib, admin)"),
) -> Receipt:
    """`queued` (published, not yet processed), `stored`, or `rejected` with the reason."""
    report_id = _report_id_as_sent(request, report_id)
    org = caller.organisation
    if organisation and organisation != org:
        if not caller.can(VIEW_REPORTS):
            raise IntakeError.one(
                403,
                "role_not_allowed",
                "Rollen får bara se den egna organisationens rapporter.",
                "The role may only see its own organisation's reports.",
            )
        org = organisation
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "view",
        f"report:{org}/{report_id}", remote_addr(request),
    )  # fmt: skip
    found = (await in_thread(statuses_of, ctx.engine, org, [report_id])).get(report_id)
    if found is not None and not caller.covers(
        await in_thread(receipt_kommun, ctx, org, report_id)
    ):
        found = None  # another kommun's report: as if it did not exist
    if found is None:
        raise IntakeError.one(
            404,
            "not_found",
            f"Ingen rapport {report_id!r} från {org} har tagits emot här.",
            f"No report {report_id!r} from {org} was received here.",
        )
    return _receipt(request, found)


_RAW_REPORT_PATH = re.compile(rb"/reports/(.+)/(?:status|photo)$")


def _report_id_as_sent(request: Request, decoded: str) -> str:
    """The report_id from the raw path, percent-decoded exactly once (as `status_path`
    encoded it): the decoded path is not always decoded once (Starlette's test client
    decodes twice, so an id holding "%2F" would come back as "/")."""
    raw = request.scope.get("raw_path")
    match = _RAW_REPORT_PATH.search(raw) if isinstance(raw, bytes) else None
    return unquote(match[1].decode("latin-1")) if match else decoded


# --- a report's photo --------------------------------------------------------------


class PhotoReceipt(BaseModel):
    report_id: str
    width: int
    height: int
    bytes: int
    message_sv: str


_PHOTO_BODY = {
    "requestBody": {
        "required": True,
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ACCEPTED_TYPES},
    }
}


@router.put(
    "/reports/{report_id:path}/photo",
    response_model=PhotoReceipt,
    responses={**ERROR_RESPONSES, 404: {"description": "Ingen sådan rapport / no such report"},
               415: {"description": "Ingen bild / not an image"}},
    openapi_extra=_PHOTO_BODY,
    summary="Foto till en rapport",
)  # fmt: skip
async def put_photo(report_id: str, request: Request, caller: Submitter, ctx: Ctx) -> PhotoReceipt:
    """An optional photo of a report already sent (the body: the image, `Content-Type`
    image/jpeg, image/png or image/webp, at most LAGESBILD_PHOTO_MAX_BYTES). It is
    re-encoded without any metadata (EXIF, GPS position, camera) and kept as long as the
    report; only restricted views show it. Sending it again replaces it."""
    report_id = _report_id_as_sent(request, report_id)
    receipt = await in_thread(_receipt_of, ctx, caller.organisation, report_id)
    if receipt is None or not caller.covers(receipt.kommun):
        raise IntakeError.one(
            404, "not_found",
            "Rapporten fotot hör till har inte kommit fram. Skicka rapporten först.",
            "The photo's report has not been received. Send the report first.",
        )  # fmt: skip
    body = await request.body()
    try:
        jpeg, size = await in_thread(clean_photo, body, request.headers.get("content-type"))
    except PhotoError as exc:
        raise IntakeError.one(
            exc.status, exc.code, exc.message_sv, exc.message_en, "photo"
        ) from None
    store = PhotoStore.under(ctx.settings.data_dir)
    await in_thread(
        lambda: store.save(
            kommun=receipt.kommun, organisation=caller.organisation, report_id=report_id,
            occurred_at=receipt.occurred_at, jpeg=jpeg, size=size,
        )
    )  # fmt: skip
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "submit",
        f"photo:{caller.organisation}/{report_id}", remote_addr(request),
    )  # fmt: skip
    return PhotoReceipt(
        report_id=report_id,
        width=size[0],
        height=size[1],
        bytes=len(jpeg),
        message_sv="Fotot är sparat.",
    )


def _receipt_of(ctx: IntakeContext, organisation: str, report_id: str) -> IntakeReceipt | None:
    with Session(ctx.engine) as s:
        return s.exec(
            select(IntakeReceipt).where(
                IntakeReceipt.organisation == organisation, IntakeReceipt.report_id == report_id
            )
        ).first()


# --- nollrapporter -----------------------------------------------------------------


@router.post(
    "/nollrapporter",
    status_code=202,
    response_model=NollrapportReceipt,
    responses=ERROR_RESPONSES,
    summary="Nollrapport: inget att rapportera denna vecka",
)
async def submit_nollrapport(
    body: NollrapportIn,
    request: Request,
    caller: Submitter,
    ctx: Ctx,
) -> NollrapportReceipt:
    """The organisation saw nothing to report this week (in one area, or the whole kommun).
    Its message_id is `organisation/kommun/week/area-or-*`: sending it twice is harmless."""
    source = body.source.value if body.source else None
    message = nollrapport(ctx, caller, source, body.iso_week, body.area, datetime.now(UTC))
    await send_nollrapport(ctx, message)
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "submit",
        f"nollrapport:{message.message_id}", remote_addr(request),
    )  # fmt: skip
    return NollrapportReceipt(
        message_id=message.message_id,
        iso_week=message.iso_week,
        area=message.area,
        message_sv=f"Tack! Nollrapporten för vecka {message.iso_week} är mottagen.",
    )


# --- who am I, areas, audit --------------------------------------------------------


@router.get("/me", response_model=Me, responses=ERROR_RESPONSES, summary="Min organisation")
async def me(caller: AnyCaller, ctx: Ctx) -> Me:
    """What the token is: organisation, kommun, role and the sources it may report as."""
    areas = ctx.kommuner.get(caller.kommun)
    return Me(
        organisation=caller.organisation,
        kommun=caller.kommun,
        kommun_name=areas.kommun_name if areas else caller.kommun,
        role=caller.role,
        permissions=sorted(ROLE_PERMISSIONS[caller.role]),
        sources={s: SOURCE_LABELS.get(Source(s), s) for s in caller.sources},
        centre=areas.centre if areas else None,
        areas=[a.name for a in areas.areas] if areas else [],
    )


class CategoryUse(BaseModel):
    code: str
    label: str
    own: int = Field(description="the organisation's reports in the period")
    kommun: int = Field(description="every organisation's reports in the kommun in the period")


class CategoryOrder(BaseModel):
    days: int
    categories: list[CategoryUse]


@router.get(
    "/categories", response_model=CategoryOrder, responses=ERROR_RESPONSES,
    summary="Kategorierna, de mest använda först",
)  # fmt: skip
async def categories(caller: AnyCaller, ctx: Ctx) -> CategoryOrder:
    """Every category, ordered as the form shows them: the organisation's most used in the
    last LAGESBILD_CATEGORY_USAGE_DAYS days first, then the kommun's, then the catalogue's
    order (reports received here)."""
    days = ctx.settings.category_usage_days
    since = datetime.now(UTC) - timedelta(days=days)
    own, kommun = await in_thread(_category_counts, ctx, caller.organisation, caller.kommun, since)
    order = list(ctx.categories)
    ranked = sorted(order, key=lambda c: (-own.get(c, 0), -kommun.get(c, 0), order.index(c)))
    return CategoryOrder(
        days=days,
        categories=[
            CategoryUse(code=c, label=ctx.categories[c], own=own.get(c, 0), kommun=kommun.get(c, 0))
            for c in ranked
        ],
    )


def _category_counts(
    ctx: IntakeContext, organisation: str, kommun: str, since: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    with Session(ctx.engine) as s:
        rows = s.exec(
            select(IntakeReceipt.organisation, IntakeReceipt.category, func.count())
            .where(IntakeReceipt.kommun == kommun, col(IntakeReceipt.submitted_at) >= since)
            .group_by(col(IntakeReceipt.organisation), col(IntakeReceipt.category))
        ).all()
    own: dict[str, int] = {}
    everyone: dict[str, int] = {}
    for org, category, n in rows:
        everyone[category] = everyone.get(category, 0) + n
        if org == organisation:
            own[category] = own.get(category, 0) + n
    return own, everyone


@router.get("/areas.geojson", responses=ERROR_RESPONSES, summary="Kommunens områden")
async def areas_geojson(caller: AnyCaller, ctx: Ctx) -> dict[str, Any]:
    """The token's kommun and its areas (GeoJSON), the base map of the report form."""
    areas = ctx.kommuner.get(caller.kommun)
    if areas is None:
        raise IntakeError.one(
            404, "unknown_kommun", "Kommunen saknar områdesfil.", "The kommun has no area file."
        )
    return areas.geojson


@router.get("/places", responses=ERROR_RESPONSES, summary="Kommunens kända platser")
async def known_places(
    caller: AnyCaller,
    ctx: Ctx,
    kommun: str | None = Query(None, description="Kommunkod; utan: nyckelns kommun."),
    q: str | None = Query(None, max_length=100, description="Sök: namn eller alias."),
) -> dict[str, Any]:
    """The kommun's known places and areas with a point each (shared/places.py): what a
    typed place search offers, and what Open311's `address_string` is resolved against."""
    wanted = kommun or caller.kommun
    if not caller.covers(wanted):
        raise IntakeError.one(
            403, "forbidden_kommun", "Nyckeln gäller inte den kommunen.",
            "The token is not for that kommun.",
        )  # fmt: skip
    areas = ctx.kommuner.get(wanted)
    if areas is None:
        raise IntakeError.one(
            404, "unknown_kommun", "Kommunen är inte ansluten.", "The kommun is not enabled."
        )
    items = search_places(areas, q) if q else places_for(areas)
    return {"kommun": wanted, "places": items}


@router.get("/audit", responses=ERROR_RESPONSES, summary="Granskningslogg (admin)")
async def audit_log(
    request: Request,
    caller: Auditor,
    ctx: Ctx,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, object]]:
    await audit.record_async(
        ctx.engine, caller.organisation, caller.role, "view", "audit", remote_addr(request)
    )
    visible = await in_thread(visible_organisations, ctx, caller)  # its kommuner's only
    rows = await in_thread(lambda: audit.entries(ctx.engine, limit=limit, organisations=visible))
    return [audit.as_dict(r) for r in rows]
