"""Serve the published lägesbild archive over HTTP, with the intake's role checks.

- ``/offentlig/…`` (the public tree) and ``/assets/…`` (Leaflet): no token.
- Everything else is restricted: a token with the permission "restricted_lagesbild"
  (roles meeting, tib, admin), as ``Authorization: Bearer …`` or once as ``?token=…``,
  which sets an HttpOnly cookie and redirects to the URL without it (so a browser can
  follow the pages' links and the token does not stay in the address bar or history).
  Under ``/{kommun}/…`` the token's kommun must match, unless the role is admin.
- ``/{kommun}/beslut``: the meeting's decision page (form, open decisions, "Stäng"); it
  needs the permission "record_decisions" (roles meeting, admin) for the kommun. Its POSTs
  publish DecisionV1 on DECISION_STREAM (`shared/decisions.py`, as `lagesbild decision`
  does) and are audited. CSRF: the cookie is SameSite=Lax, and a POST whose Origin (or,
  without one, Referer) names another host than the request's Host is refused; the page
  sends `Referrer-Policy: same-origin` so the browser names its origin on its own posts.

Run with `lagesbild maps-serve` (`serve_command`).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.maps import decision_page as page
from services.maps.publish import PUBLIC_DIR
from shared import decisions
from shared.access import RECORD_DECISIONS, ROLE_LABELS, Caller, find_caller
from shared.areas import load_kommuner
from shared.categories import category_catalog
from shared.config import Settings
from shared.models_access import AuditEntry

PERMISSION = "restricted_lagesbild"
COOKIE = "lagesbild_token"
OPEN_TOP_DIRS = (PUBLIC_DIR, "assets")
NO_STORE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
# The decision page's own posts must name their origin (see `same_origin`).
FORM_HEADERS = {**NO_STORE, "Referrer-Policy": "same-origin"}
KOMMUN_RE = re.compile(r"^\d{4}$")
FormText = Annotated[str, Form()]


class MapsServerSettings(Settings):
    maps_host: str = Field("127.0.0.1", description="address the lägesbild archive listens on")
    maps_port: int = Field(8081, description="port of the lägesbild archive")


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def record_audit(
    engine: Engine, caller: Caller, action: str, obj: str, remote_addr: str = ""
) -> None:
    """One audit entry (the intake's `audit.record`, for a single object)."""
    with Session(engine) as s:
        s.add(
            AuditEntry(
                at=datetime.now(UTC),
                organisation=caller.organisation,
                role=caller.role,
                action=action,
                object=obj[:500],
                remote_addr=remote_addr,
            )
        )
        s.commit()


def _token_of(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def _page_kommun(parts: list[str]) -> str | None:
    return parts[0] if parts and len(parts[0]) == 4 and parts[0].isdigit() else None


def check_access(caller: Caller | None, kommun: str | None) -> None:
    """Raise `Refusal` unless the caller may see a restricted page of `kommun`."""
    if caller is None:
        raise Refusal(401, "Nyckeln saknas, är okänd eller återkallad.")
    if not caller.can(PERMISSION):
        raise Refusal(403, f"Rollen {caller.role} får inte se den begränsade lägesbilden.")
    if kommun is not None and kommun != caller.kommun and not caller.can("admin"):
        raise Refusal(403, f"Nyckeln gäller kommun {caller.kommun}, inte {kommun}.")


def check_decision_access(caller: Caller | None, kommun: str) -> Caller:
    """The caller when it may record and close decisions of `kommun`; else `Refusal`."""
    check_access(caller, kommun)
    assert caller is not None
    if not caller.can(RECORD_DECISIONS):
        role = ROLE_LABELS.get(caller.role, caller.role)
        raise Refusal(
            403,
            f"Rollen {role} får inte registrera eller stänga beslut; "
            "det gör samverkansmötet (och administratörer).",
        )
    return caller


def same_origin(request: Request) -> bool:
    """A POST's Origin, or else its Referer, when present, names the request's own host.

    With the SameSite=Lax cookie no other *site* can post with the user's cookie; this
    also refuses other origins of the same site (another port or service on the host).
    A request with neither header (not a browser form) passes; it carries no victim's
    cookie. `Origin: null` (an opaque or privacy-hidden origin) is refused."""
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc.lower() == host
    referer = request.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return True


def _remember_token(request: Request, token: str) -> RedirectResponse:
    """Set the token as an HttpOnly cookie and redirect to the address without it."""
    response = RedirectResponse(request.url.remove_query_params("token"), 303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.headers.update(NO_STORE)
    return response


def _refusal_page(refusal: Refusal) -> HTMLResponse:
    body = (
        '<!DOCTYPE html><html lang="sv"><meta charset="utf-8"><title>Ingen åtkomst</title>'
        f"<h1>Ingen åtkomst</h1><p>{html.escape(refusal.message)}</p>"
        "<p>Öppna sidan med din organisations nyckel (<code>?token=…</code>) eller se den "
        '<a href="/offentlig/">offentliga lägesbilden</a>.</p></html>'
    )
    headers = {**NO_STORE, **({"WWW-Authenticate": "Bearer"} if refusal.status == 401 else {})}
    return HTMLResponse(body, status_code=refusal.status, headers=headers)


def _locate(root: Path, path: str) -> tuple[list[str], Path | None] | None:
    """The path's parts as resolved inside `root` (so `offentlig/../0580` counts as
    `0580`), and the published file there (a folder: its index.html); None outside."""
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        return None
    if target.is_dir():
        target = target / "index.html"
    parts = list(target.relative_to(root).parts)
    return parts, target if target.is_file() else None


def create_server_app(settings: MapsServerSettings | None = None) -> FastAPI:
    from shared.db import init_db, make_engine

    settings = settings or MapsServerSettings()
    root = settings.resolved_output_dir.resolve()
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    app = FastAPI(title="Lägesbild – arkiv", docs_url=None, redoc_url=None, openapi_url=None)
    _add_decision_routes(app, settings, engine)

    # Sync endpoint: FastAPI runs it in a thread, so the DB lookups do not block the loop.
    @app.get("/{path:path}", response_model=None)
    def serve(request: Request, path: str = "") -> Response:
        located = _locate(root, path)
        if located is None:
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        parts, found = located
        restricted = len(parts) < 2 or parts[0] not in OPEN_TOP_DIRS
        remote = request.client.host if request.client else ""
        query_token = request.query_params.get("token")
        if restricted:
            caller = None
            token = query_token or _token_of(request)
            if token:
                caller = find_caller(engine, token)
            try:
                check_access(caller, _page_kommun(parts))
            except Refusal as refusal:
                if caller is not None:
                    record_audit(engine, caller, "denied", f"lagesbild:/{path}", remote)
                return _refusal_page(refusal)
            if query_token:  # remember it in a cookie and drop it from the address
                return _remember_token(request, query_token)
        if found is None:
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        if restricted:
            assert caller is not None
            if found.suffix == ".html" or found.name.startswith("export"):
                action = "export" if found.name.startswith("export") else "view"
                record_audit(engine, caller, action, f"lagesbild:/{path}", remote)
            return FileResponse(found, headers=NO_STORE)
        return FileResponse(found, headers={"Cache-Control": "public, max-age=60"})

    return app


def _add_decision_routes(app: FastAPI, settings: MapsServerSettings, engine: Engine) -> None:
    """`/{kommun}/beslut`: the form and the open decisions; POST creates, `…/{id}/stang`
    closes. Registered before the archive's catch-all route. Sync endpoints: FastAPI runs
    them in a thread, where `decisions.publish_decision` runs its own event loop."""
    kommuner = load_kommuner(settings.areas_dir, settings.area_name_property)
    known = set(kommuner) | set(settings.kommuner)
    catalog = category_catalog(settings.extra_categories)

    def areas_of(kommun: str) -> list[str]:
        return kommuner[kommun].area_names if kommun in kommuner else []

    def authorise(request: Request, kommun: str, *, post: bool) -> Caller | Response:
        if not KOMMUN_RE.match(kommun) or kommun not in known:
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        token = _token_of(request)
        caller = find_caller(engine, token) if token else None
        try:
            check_decision_access(caller, kommun)
            if post and not same_origin(request):
                raise Refusal(
                    403,
                    "Formuläret skickades inte från lägesbildens egen sida; öppna sidan "
                    "Beslut och skicka det därifrån.",
                )
        except Refusal as refusal:
            if caller is not None:
                remote = request.client.host if request.client else ""
                record_audit(engine, caller, "denied", f"beslut:{request.url.path}", remote)
            return _refusal_page(refusal)
        assert caller is not None
        return caller

    def show(
        kommun: str,
        values: page.FormValues,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        problem: str = "",
        receipt: str = "",
    ) -> HTMLResponse:
        body = page.render_decision_page(
            kommun=kommun,
            kommun_name=kommuner[kommun].kommun_name if kommun in kommuner else kommun,
            values=values,
            categories=catalog,
            activities=decisions.plan_activities(engine, kommun),
            area_names=areas_of(kommun),
            decisions=decisions.open_decisions(engine, kommun),
            errors=errors,
            problem=problem,
            receipt=receipt,
        )
        return HTMLResponse(body, status_code=status, headers=FORM_HEADERS)

    def publish(
        kommun: str, values: page.FormValues, event: decisions.DecisionV1
    ) -> Response | None:
        """None when the event is on the stream; else the form again, with a 503."""
        try:
            decisions.publish_decision(settings.resolved_redis_url, event)
        except (RedisError, OSError):
            problem = (
                "Beslutet kunde inte skickas: beslutsströmmen (Redis) svarar inte. "
                "Inget är registrerat; försök igen om en stund."
            )
            return show(kommun, values, status=503, problem=problem)
        return None

    def done(request: Request, kommun: str, receipt: str) -> RedirectResponse:
        response = RedirectResponse(f"/{kommun}/beslut", 303)
        response.set_cookie(
            page.RECEIPT_COOKIE,
            page.encode_receipt(receipt),
            max_age=120,
            httponly=True,
            samesite="lax",
            path=f"/{kommun}/beslut",
            secure=request.url.scheme == "https",
        )
        response.headers.update(NO_STORE)
        return response

    @app.get("/{kommun}/beslut", response_model=None)
    def decision_form(request: Request, kommun: str) -> Response:
        query_token = request.query_params.get("token")
        if query_token and KOMMUN_RE.match(kommun):
            return _remember_token(request, query_token)
        caller = authorise(request, kommun, post=False)
        if isinstance(caller, Response):
            return caller
        query = dict(request.query_params)
        values = page.prefilled(
            kommun, query, decisions.plan_activities(engine, kommun), datetime.now(UTC)
        )
        receipt = page.decode_receipt(request.cookies.get(page.RECEIPT_COOKIE))
        response = show(kommun, values, receipt=receipt)
        if receipt:
            response.delete_cookie(page.RECEIPT_COOKIE, path=f"/{kommun}/beslut")
        return response

    @app.get("/{kommun}/{sub:path}/beslut", response_model=None)
    def decision_form_from_a_week(request: Request, kommun: str, sub: str) -> Response:
        """The meeting pack links `../beslut` from {kommun}/{week}/ (and r{n}/): one page."""
        if not KOMMUN_RE.match(kommun):
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/{kommun}/beslut{query}", 303, headers=NO_STORE)

    @app.post("/{kommun}/beslut", response_model=None)
    def decision_create(
        request: Request,
        kommun: str,
        measure: FormText = "",
        activity: FormText = "",
        target: FormText = "",
        categories: Annotated[list[str] | None, Form()] = None,
        responsible: FormText = "",
        from_week: FormText = "",
        until_week: FormText = "",
        note: FormText = "",
        decision_id: FormText = "",
    ) -> Response:
        caller = authorise(request, kommun, post=True)
        if isinstance(caller, Response):
            return caller
        values = page.FormValues(
            measure=measure,
            activity=activity,
            target=target,
            categories=categories or [],
            responsible=responsible,
            from_week=from_week,
            until_week=until_week,
            note=note,
            decision_id=page.fresh_id_unless_ours(kommun, decision_id),
        )
        stored = decisions.stored_decision(engine, values.decision_id)
        if stored is not None and stored.kommun == kommun and values.same_as(stored):
            return done(request, kommun, page.created_receipt(stored))  # sent twice
        if stored is not None:  # an old form's id: a new decision gets a new id
            values.decision_id = decisions.new_decision_id(kommun)
        activities = decisions.plan_activities(engine, kommun)
        problems = _all_problems(values.draft(kommun), catalog, activities, areas_of(kommun))
        if problems:
            return show(kommun, values, status=422, errors=page.error_messages(problems))
        event = decisions.build_decision(
            values.draft(kommun),
            categories=catalog,
            activities=activities,
            area_names=areas_of(kommun),
            now=datetime.now(UTC),
        )
        failed = publish(kommun, values, event)
        if failed is not None:
            return failed
        remote = request.client.host if request.client else ""
        record_audit(engine, caller, "decision_add", f"beslut:{event.decision_id}", remote)
        return done(request, kommun, page.created_receipt(event))

    @app.post("/{kommun}/beslut/{decision_id}/stang", response_model=None)
    def decision_close(
        request: Request, kommun: str, decision_id: str, note: FormText = ""
    ) -> Response:
        caller = authorise(request, kommun, post=True)
        if isinstance(caller, Response):
            return caller
        values = page.prefilled(kommun, {}, [], datetime.now(UTC))
        current = decisions.stored_decision(engine, decision_id)
        if current is None or current.kommun != kommun:
            problem = (
                f"Det finns inget beslut {decision_id!r} i kommun {kommun} "
                "(eller så har aggregate-tjänsten inte läst det än)."
            )
            return show(kommun, values, status=404, problem=problem)
        if current.status == "closed":
            return show(kommun, values, status=409, problem="Beslutet är redan stängt.")
        try:
            closing = decisions.closing_event(current, note, datetime.now(UTC))
        except decisions.DecisionError as exc:
            return show(kommun, values, status=422, problem=f"Beslutet kan inte stängas: {exc}")
        failed = publish(kommun, values, closing)
        if failed is not None:
            return failed
        remote = request.client.host if request.client else ""
        record_audit(engine, caller, "decision_close", f"beslut:{decision_id}", remote)
        return done(request, kommun, page.closed_receipt(current))


def _all_problems(
    draft: decisions.DecisionDraft,
    catalog: dict[str, str],
    activities: list[decisions.PlanActivity],
    area_names: list[str],
) -> list[tuple[str, str]]:
    """Every problem of a form at once: the activity, then the decision's own."""
    problems: list[tuple[str, str]] = []
    activity = None
    if draft.activity_id:
        try:
            activity = decisions.find_activity(activities, draft.activity_id)
        except decisions.DecisionError as exc:
            problems.append(("activity", exc.message))
    full = decisions.apply_defaults(draft, activity, datetime.now(UTC))
    return problems + decisions.decision_problems(full, catalog, area_names)


def serve_command() -> None:
    """Servera lägesbildsarkivet över HTTP (offentligt under /offentlig/, resten med nyckel)."""
    import logging

    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = MapsServerSettings()
    print(
        f"Lägesbildsarkivet på http://{settings.maps_host}:{settings.maps_port}/ "
        f"(offentligt: /offentlig/; begränsat: ?token=…)"
    )
    uvicorn.run(create_server_app(settings), host=settings.maps_host, port=settings.maps_port)
