"""Serve the published lägesbild archive over HTTP, with the intake's role checks.

- ``/offentlig/…`` (the public tree) and ``/assets/…`` (Leaflet): no token.
- Everything else is restricted: a token with the permission "restricted_lagesbild"
  (roles meeting, tib, admin), as ``Authorization: Bearer …`` or as the HttpOnly,
  SameSite=Strict cookie that ``POST /logga-in`` sets once it has verified the token (the
  token never travels in an address; ``?token=…`` is ignored). A restricted page without
  a valid token answers with the login form, which brings the browser back to the page.
  Under ``/{kommun}/…`` the token must act for that kommun (its own, or one of an
  administrator's configured kommuner); the index (``/``, ``/index.json``) lists only
  those kommuner.
- ``/{kommun}/beslut``: the meeting's decision page (form, open decisions with their
  status and report-backs, "Återrapportera" (`…/{id}/aterrapport`), "Stäng"); it
  needs the permission "record_decisions" (roles meeting, admin) for the kommun. Its POSTs
  publish DecisionV1 on DECISION_STREAM (`shared/decisions.py` and
  `shared/decision_events.py`, as `lagesbild decision` does) and are audited. CSRF: the
  cookie is SameSite=Strict, and a POST whose Origin (or, without one, Referer) names
  another host than the request's Host is refused; the page sends `Referrer-Policy:
  same-origin` so the browser names its origin on its own posts. The page lists the
  server's own projection of the decision and plan streams (`decision_store.py`, kept by
  its stream consumers in the app's lifespan), never the aggregate's tables.
- Every token check counts against the organisation's rate
  (`LAGESBILD_MAPS_RATE_LIMIT_PER_MINUTE`), an unknown or revoked token against the client
  address (`LAGESBILD_AUTH_FAILURES_PER_MINUTE`); both in Redis. Without Redis the archive
  still serves (it is read-only) and logs that it cannot count.

Run with `lagesbild maps-serve` (`serve_command`).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.maps import decision_page as page
from services.maps import decision_store, week_api
from services.maps.config import MapsSettings
from services.maps.publish import MANIFEST, PHOTO_FOLDER, PUBLIC_DIR, with_csp
from services.maps.render import render_index
from shared import decision_events, decisions, openapi_contract
from shared.access import (
    RECORD_DECISIONS,
    ROLE_LABELS,
    Caller,
    auth_blocked_sync,
    auth_failed_sync,
    client_address,
    find_caller,
    rate_limited_sync,
)
from shared.categories import category_catalog
from shared.config import Settings, settings_for
from shared.contracts import ARCHIVE
from shared.http_server import RequestGuard, html_refusal
from shared.kommuner import live_kommuner
from shared.login import (
    LOGIN_PATH,
    LOGOUT_PATH,
    apply_access_defaults,
    logged_in,
    logged_out,
    login_page,
    safe_next,
    same_origin,
)
from shared.models_access import AuditEntry
from shared.photos import PhotoStore
from shared.places import target_names
from shared.service import consume_streams, stop_task
from shared.web_security import SecurityHeadersMiddleware, tile_sources

PERMISSION = "restricted_lagesbild"
COOKIE = "lagesbild_token"
OPEN_TOP_DIRS = (PUBLIC_DIR, "assets")
NO_STORE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
# The decision page's own posts must name their origin (see `same_origin`).
FORM_HEADERS = {**NO_STORE, "Referrer-Policy": "same-origin"}
KOMMUN_RE = re.compile(r"^\d{4}$")
FormText = Annotated[str, Form()]
TITLE = "Lägesbild – arkiv"
INDEX_FILES = ("index.html", MANIFEST)
log = logging.getLogger("lagesbild.maps.server")


class Refusal(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class Gate:
    """Who the request's token is, with the throttles: failed token checks per client
    address, requests per organisation. Synchronous (the endpoints run in threads)."""

    def __init__(self, settings: MapsSettings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.redis = Redis.from_url(
            settings.resolved_redis_url, socket_timeout=2, socket_connect_timeout=1
        )
        self._warned = False

    def address(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        return client_address(peer, forwarded, self.settings.trusted_proxies)

    def caller(self, request: Request, token: str | None = None) -> Caller | None:
        """The token's organisation (the request's token unless given); None without a
        valid one. Refusal(429) when the address or the organisation is over its limit."""
        token = token if token is not None else _token_of(request)
        if not token:
            return None
        address = self.address(request)
        limit = self.settings.auth_failures_per_minute
        blocked = self._counted(lambda: auth_blocked_sync(self.redis, address, limit))
        if blocked is not None:
            raise Refusal(
                429,
                f"För många felaktiga nycklar från din adress. Vänta {blocked} sekunder.",
                blocked,
            )
        caller = find_caller(self.engine, token)
        if caller is None:
            self._counted(lambda: auth_failed_sync(self.redis, address, limit))
            return None
        per_minute = self.settings.maps_rate_limit_per_minute
        wait = self._counted(
            lambda: rate_limited_sync(self.redis, caller.organisation, per_minute, scope="maps")
        )
        if wait is not None:
            raise Refusal(429, f"För många anrop. Vänta {wait} sekunder och försök igen.", wait)
        return caller

    def _counted(self, count: Callable[[], int | None]) -> int | None:
        """Run a Redis count; without Redis the archive serves uncounted (logged once)."""
        try:
            result = count()
        except (RedisError, OSError) as exc:
            if not self._warned:
                log.warning("cannot count requests (Redis: %s); serving without limits", exc)
                self._warned = True
            return None
        self._warned = False
        return result


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
    """Bearer token or the login cookie; never the address."""
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
    if kommun is not None and not caller.covers(kommun):
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


PUBLIC_LINK = '<p>Utan nyckel: den <a href="/offentlig/">offentliga lägesbilden</a>.</p>'


def _refusal_page(refusal: Refusal, request: Request) -> HTMLResponse:
    """401: the login form, which brings the browser back here; else "Ingen åtkomst"."""
    retry = {} if refusal.retry_after is None else {"Retry-After": str(refusal.retry_after)}
    if refusal.status == 401:  # (the form's own headers: its POST must name its origin)
        back = safe_next(_here(request), "/")
        message = f"Ingen åtkomst. {refusal.message} Logga in med din organisations nyckel."
        return login_page(TITLE, message, back, status=401, extra_html=PUBLIC_LINK, headers=retry)
    headers = {**NO_STORE, **retry}
    body = (
        '<!DOCTYPE html><html lang="sv"><meta charset="utf-8"><title>Ingen åtkomst</title>'
        f"<h1>Ingen åtkomst</h1><p>{html.escape(refusal.message)}</p>"
        f'<p><a href="{LOGIN_PATH}">Logga in med en annan nyckel</a> eller se den '
        '<a href="/offentlig/">offentliga lägesbilden</a>.</p></html>'
    )
    return HTMLResponse(body, status_code=refusal.status, headers=headers)


def _here(request: Request) -> str:
    """The request's own path and query (relative), without any `token` parameter."""
    query = request.url.remove_query_params("token").query
    return request.url.path + (f"?{query}" if query else "")


def _index(root: Path, caller: Caller, name: str) -> Response:
    """The archive index (`index.html`, `index.json`) with only the caller's kommuner."""
    path = root / MANIFEST
    entries = json.loads(path.read_text("utf-8")) if path.exists() else []
    mine = [e for e in entries if caller.covers(e.get("kommun"))]
    if name == MANIFEST:
        return Response(
            json.dumps(mine, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers=NO_STORE,
        )
    return HTMLResponse(with_csp(render_index(mine)), headers=NO_STORE)


FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#0b5394"/>'
    '<path d="M9 7v18h14v-4H13V7z" fill="#fff"/></svg>'
)
FILE_LABELS = {
    "index.html": "Översikt",
    "karta.html": "Karta",
    "motesunderlag.html": "Mötesunderlag",
    "sammanfattning.json": "Sammanfattning (JSON)",
    "index.json": "Förteckning (JSON)",
}
_WEEK_DIR = re.compile(r"^(\d{4})-W(\d{2})$")


def _entry_label(path: Path) -> str:
    if path.is_dir():
        week = _WEEK_DIR.match(path.name)
        if week:
            return f"Vecka {int(week[2])}, {week[1]}"
        if re.fullmatch(r"r\d+", path.name):
            return f"Revision {path.name[1:]}"
        if path.name == PUBLIC_DIR:
            return "Offentlig version"
        return path.name
    return FILE_LABELS.get(path.name, path.name)


def folder_index(root: Path, folder: Path) -> str:
    """A page listing a published folder without an index.html of its own (`/0580/`,
    `/0580/2026-W48/`): its folders (newest week first) and files, as links."""
    relative = folder.relative_to(root).as_posix()
    entries = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".")),
        key=lambda p: (not p.is_dir(), [-ord(c) for c in p.name] if p.is_dir() else p.name),
    )
    items = "".join(
        f'<li><a href="{html.escape(p.name)}{"/" if p.is_dir() else ""}">'
        f"{html.escape(_entry_label(p))}</a></li>"
        for p in entries
    )
    heading = " / ".join(html.escape(_entry_label(root / part)) for part in relative.split("/"))
    up = '<p><a href="../">Upp en nivå</a> · <a href="/">Alla lägesbilder</a></p>'
    return (
        '<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
        f"<title>Lägesbild – {heading}</title>"
        "<style>body{font:17px/1.5 system-ui,sans-serif;max-width:40rem;margin:1rem auto;"
        "padding:0 1rem;color:#1d1d1d}a{color:#0b5394}</style></head><body><main>"
        f"<h1>Lägesbild – {heading}</h1>{up}"
        + (f'<ul class="folder">{items}</ul>' if items else "<p>Mappen är tom.</p>")
        + "</main></body></html>"
    )


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


# The JSON API's one error shape and its security (shared/openapi_contract.py); the
# document lists only these paths (the HTML pages are not an API).
API_CONTRACT = (
    openapi_contract.Api(week_api.PUBLIC_WEEK_PATH.split("{")[0]),
    openapi_contract.Api("/api/v1", security=({"bearer": []},)),
)


def _guard_refusal(scope: Any, status: int, item: dict[str, Any]) -> Response:
    """The request guard's refusal: JSON for the week API, a short page elsewhere."""
    return week_api.guard_refusal(scope, status, item) or html_refusal(scope, status, item)


def create_server_app(settings: Settings | None = None) -> FastAPI:
    from shared.db import init_db, make_engine

    settings = settings_for(MapsSettings, settings)
    root = settings.resolved_output_dir.resolve()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(init_db, engine)  # the schema, at start-up
        # The decision and plan streams into the server's own projection (decision_store),
        # as a task: the archive serves while Redis is down.
        redis = AsyncRedis.from_url(settings.resolved_redis_url, socket_timeout=30)
        projection = decision_store.DecisionProjection(engine, redis)
        streams = asyncio.create_task(
            consume_streams(ARCHIVE, projection.handlers(), redis=redis, settings=settings)
        )
        yield
        await stop_task(streams)
        await redis.aclose()
        engine.dispose()

    # The OpenAPI document covers the JSON API only (week_api); the HTML pages are not in it.
    app = FastAPI(
        title=TITLE, version="1", docs_url=None, redoc_url=None,
        openapi_url="/api/v1/openapi.json", lifespan=lifespan,
    )  # fmt: skip
    openapi_contract.document(app, API_CONTRACT, only_apis=True)
    apply_access_defaults(app)  # no Host-built redirects; no secrets in the access log
    gate = Gate(settings, engine)
    _add_login_routes(app, gate)
    _add_decision_routes(app, settings, engine, gate)
    _add_photo_route(app, PhotoStore.under(settings.data_dir), engine, gate)

    def may_read_week(request: Request, kommun: str) -> tuple[int, str, int | None] | None:
        caller = None
        try:
            caller = gate.caller(request)
            check_access(caller, kommun)
        except Refusal as refusal:
            if caller is not None:
                record_audit(
                    engine, caller, "denied", f"lagesbild-api:{kommun}", gate.address(request)
                )
            return refusal.status, refusal.message, refusal.retry_after
        assert caller is not None
        record_audit(engine, caller, "view", f"lagesbild-api:{kommun}", gate.address(request))
        return None

    week_api.add_week_api(app, root, may_read_week)
    app.add_middleware(
        RequestGuard, body_timeout_s=settings.http_body_timeout_s, respond=_guard_refusal
    )
    app.add_middleware(SecurityHeadersMiddleware, img_sources=tile_sources(settings.map_tiles))

    @app.get("/favicon.ico", response_model=None)
    @app.get("/favicon.svg", response_model=None)
    def favicon() -> Response:
        return Response(
            FAVICON_SVG,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    def listing(path: str) -> Response | None:
        """A folder's index when it has no index.html; a folder URL without its slash is
        sent to the one with it (so the listing's relative links work)."""
        folder = (root / path).resolve()
        if not folder.is_dir() or (folder / "index.html").is_file():
            return None
        if path and not path.endswith("/"):
            return RedirectResponse(f"/{path}/", 307, headers=NO_STORE)
        return HTMLResponse(with_csp(folder_index(root, folder)), headers=NO_STORE)

    # Sync endpoint: FastAPI runs it in a thread, so the DB lookups do not block the loop.
    @app.get("/{path:path}", response_model=None)
    def serve(request: Request, path: str = "") -> Response:
        located = _locate(root, path)
        if located is None:
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        parts, found = located
        restricted = len(parts) < 2 or parts[0] not in OPEN_TOP_DIRS
        if not restricted:
            if found is None:
                folder = listing(path)
                if folder is not None:
                    return folder
                return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
            return FileResponse(found, headers={"Cache-Control": "public, max-age=60"})
        remote = gate.address(request)
        caller = None
        kommun = _page_kommun(parts)
        try:
            caller = gate.caller(request)
            check_access(caller, kommun)
        except Refusal as refusal:
            if caller is not None:
                record_audit(engine, caller, "denied", f"lagesbild:/{path}", remote)
            return _refusal_page(refusal, request)
        assert caller is not None
        if kommun is None:  # outside every kommun's folder: only the index, filtered
            if parts[0] in INDEX_FILES and len(parts) == 1:
                record_audit(engine, caller, "view", f"lagesbild:/{path}", remote)
                return _index(root, caller, parts[0])
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        if found is None:
            folder = listing(path)
            if folder is not None:
                record_audit(engine, caller, "view", f"lagesbild:/{path}", remote)
                return folder
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        if found.suffix == ".html" or found.name.startswith("export"):
            action = "export" if found.name.startswith("export") else "view"
            record_audit(engine, caller, action, f"lagesbild:/{path}", remote)
        return FileResponse(found, headers=NO_STORE)

    return app


def _add_photo_route(app: FastAPI, store: PhotoStore, engine: Engine, gate: Gate) -> None:
    """`GET /{kommun}/foto/{photo id}.jpg`: a report's photo (shared/photos.py), only for
    a caller who may see the kommun's restricted lägesbild; every view is audited. Never
    cached by the browser beyond the page; gone once the retention purge removed it."""

    @app.get(f"/{{kommun}}/{PHOTO_FOLDER}/{{name}}", response_model=None)
    def photo(request: Request, kommun: str, name: str) -> Response:
        remote = gate.address(request)
        caller = None
        try:
            caller = gate.caller(request)
            check_access(caller, kommun)
        except Refusal as refusal:
            if caller is not None:
                record_audit(engine, caller, "denied", f"photo:/{kommun}/{name}", remote)
            return _refusal_page(refusal, request)
        assert caller is not None
        found = store.find(kommun, name.removesuffix(".jpg")) if name.endswith(".jpg") else None
        if found is None:
            return HTMLResponse(
                "<h1>Fotot finns inte</h1><p>Det kan ha gallrats med rapporten.</p>",
                status_code=404,
                headers=NO_STORE,
            )
        record_audit(engine, caller, "view", f"photo:/{kommun}/{name}", remote)
        return FileResponse(found, media_type="image/jpeg", headers=NO_STORE)


def _add_login_routes(app: FastAPI, gate: Gate) -> None:
    """`GET /logga-in` (the form), `POST /logga-in` (the token in the body; the cookie only
    once it is verified), `POST /logga-ut`. Before the archive's catch-all route."""

    @app.get(LOGIN_PATH, response_model=None)
    def login_form(next: str | None = None) -> Response:
        target = safe_next(next, "/")
        message = "Logga in med din organisations nyckel."
        return login_page(TITLE, message, target, extra_html=PUBLIC_LINK)

    @app.post(LOGIN_PATH, response_model=None)
    def login(request: Request, token: FormText = "", next: FormText = "/") -> Response:
        target = safe_next(next, "/")
        token = token.strip()
        refusal = None
        if not same_origin(request):
            refusal = Refusal(403, "Inloggningen skickades inte från den här sidan.")
        elif not token:
            refusal = Refusal(401, "Ange nyckeln.")
        else:
            try:
                caller = gate.caller(request, token)
                if caller is None:
                    raise Refusal(401, "Nyckeln är okänd eller återkallad.")
                if not (caller.can(PERMISSION) or caller.can(RECORD_DECISIONS)):
                    role = ROLE_LABELS.get(caller.role, caller.role)
                    raise Refusal(403, f"Rollen {role} får inte se den begränsade lägesbilden.")
            except Refusal as refused:
                refusal = refused
        if refusal is not None:
            headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else {}
            return login_page(
                TITLE, refusal.message, target, status=refusal.status, extra_html=PUBLIC_LINK,
                headers=headers,
            )  # fmt: skip
        return logged_in(request, COOKIE, token, target)

    @app.post(LOGOUT_PATH, response_model=None)
    def logout() -> Response:
        return logged_out(COOKIE)


def _add_decision_routes(app: FastAPI, settings: MapsSettings, engine: Engine, gate: Gate) -> None:
    """`/{kommun}/beslut`: the form and the open decisions; POST creates, `…/{id}/stang`
    closes. Registered before the archive's catch-all route. Sync endpoints: FastAPI runs
    them in a thread, where `decision_events.send_decision` runs its own event loop."""
    kommuner = live_kommuner(settings, engine)  # the enabled ones, kept current
    known = kommuner
    catalog = category_catalog(settings.extra_categories)
    output_dir = settings.resolved_output_dir.resolve()

    def areas_of(kommun: str) -> list[str]:
        return target_names(kommuner[kommun]) if kommun in kommuner else []

    def authorise(request: Request, kommun: str, *, post: bool) -> Caller | Response:
        if not KOMMUN_RE.match(kommun) or kommun not in known:
            return HTMLResponse("<h1>Sidan finns inte</h1>", status_code=404)
        caller = None
        try:
            caller = gate.caller(request)
            check_decision_access(caller, kommun)
            if post and not same_origin(request):
                raise Refusal(
                    403,
                    "Formuläret skickades inte från lägesbildens egen sida; öppna sidan "
                    "Beslut och skicka det därifrån.",
                )
        except Refusal as refusal:
            if caller is not None:
                remote = gate.address(request)
                record_audit(engine, caller, "denied", f"beslut:{request.url.path}", remote)
            return _refusal_page(refusal, request)
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
            activities=decision_store.plan_activities(engine, kommun),
            area_names=areas_of(kommun),
            decisions=decision_store.open_decisions(engine, kommun),
            built=page.decisions_in_newest_build(output_dir / kommun),
            errors=errors,
            problem=problem,
            receipt=receipt,
        )
        return HTMLResponse(body, status_code=status, headers=FORM_HEADERS)

    def send(kommun: str, values: page.FormValues, event: decisions.DecisionV1) -> Response | None:
        """None when the event is on the stream; else the form again, with a 503."""
        try:
            decision_events.send_decision(settings.resolved_redis_url, event)
        except (RedisError, OSError):
            problem = (
                "Beslutet kunde inte skickas: beslutsströmmen (Redis) svarar inte. "
                "Inget är registrerat; försök igen om en stund."
            )
            return show(kommun, values, status=503, problem=problem)
        # On the stream: into the page's own projection at once (the handler's copy of the
        # same event changes nothing), so the list shows it as soon as it is recorded.
        decision_store.save_decision(engine, event)
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
        caller = authorise(request, kommun, post=False)
        if isinstance(caller, Response):
            return caller
        query = {k: v for k, v in request.query_params.items() if k != "token"}
        values = page.prefilled(
            kommun, query, decision_store.plan_activities(engine, kommun), datetime.now(UTC)
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
        kept = request.url.remove_query_params("token").query  # a token never travels on
        query = f"?{kept}" if kept else ""
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
        owner: FormText = "",
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
            owner=owner,
        )
        stored = decision_store.stored_decision(engine, values.decision_id)
        if stored is not None and stored.kommun == kommun and values.same_as(stored):
            return done(request, kommun, page.created_receipt(stored))  # sent twice
        if stored is not None:  # an old form's id: a new decision gets a new id
            values.decision_id = decisions.new_decision_id(kommun)
        activities = decision_store.plan_activities(engine, kommun)
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
        failed = send(kommun, values, event)
        if failed is not None:
            return failed
        remote = gate.address(request)
        record_audit(engine, caller, "decision_add", f"beslut:{event.decision_id}", remote)
        return done(request, kommun, page.created_receipt(event))

    def stored_or_404(
        kommun: str, decision_id: str, values: page.FormValues
    ) -> decisions.DecisionV1 | Response:
        """The stored decision the form acts on, or the page with a 404 and why."""
        current = decision_store.stored_decision(engine, decision_id)
        if current is None or current.kommun != kommun:
            problem = (
                f"Det finns inget beslut {decision_id!r} i kommun {kommun} "
                "(eller så har sidan inte fått det från beslutsströmmen än)."
            )
            return show(kommun, values, status=404, problem=problem)
        return current

    def send_recorded(
        request: Request,
        caller: Caller,
        action: str,
        kommun: str,
        values: page.FormValues,
        event: decisions.DecisionV1,
    ) -> Response | None:
        """Send the decision event and audit who did it; the error page if it was not sent."""
        failed = send(kommun, values, event)
        if failed is None:
            remote = gate.address(request)
            record_audit(engine, caller, action, f"beslut:{event.decision_id}", remote)
        return failed

    @app.post("/{kommun}/beslut/{decision_id}/stang", response_model=None)
    def decision_close(
        request: Request, kommun: str, decision_id: str, note: FormText = ""
    ) -> Response:
        caller = authorise(request, kommun, post=True)
        if isinstance(caller, Response):
            return caller
        values = page.prefilled(kommun, {}, [], datetime.now(UTC))
        current = stored_or_404(kommun, decision_id, values)
        if isinstance(current, Response):
            return current
        if current.status == "closed":
            return show(kommun, values, status=409, problem="Beslutet är redan stängt.")
        try:
            closing = decisions.closing_event(current, note, datetime.now(UTC))
        except decisions.DecisionError as exc:
            return show(kommun, values, status=422, problem=f"Beslutet kan inte stängas: {exc}")
        failed = send_recorded(request, caller, "decision_close", kommun, values, closing)
        return failed or done(request, kommun, page.closed_receipt(current))

    @app.post("/{kommun}/beslut/{decision_id}/aterrapport", response_model=None)
    def decision_report(
        request: Request,
        kommun: str,
        decision_id: str,
        text: FormText = "",
        by: FormText = "",
        progress: FormText = "",
    ) -> Response:
        """A report-back (återrapport): what was done, by whom, the decision's status."""
        caller = authorise(request, kommun, post=True)
        if isinstance(caller, Response):
            return caller
        values = page.prefilled(kommun, {}, [], datetime.now(UTC))
        current = stored_or_404(kommun, decision_id, values)
        if isinstance(current, Response):
            return current
        try:
            event = decisions.report_event(current, text, by, progress, datetime.now(UTC))
        except decisions.DecisionError as exc:
            status = 409 if current.status == "closed" else 422
            message = exc.message[:1].upper() + exc.message[1:]
            return show(
                kommun, values, status=status, problem=f"Återrapporten sparades inte: {message}."
            )
        failed = send_recorded(request, caller, "decision_report", kommun, values, event)
        if failed is not None:
            return failed
        stored = decision_store.stored_decision(engine, decision_id) or event
        return done(request, kommun, page.report_receipt(stored))


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
    full = decisions.apply_defaults(draft, activity, datetime.now(UTC), area_names)
    return problems + decisions.decision_problems(full, catalog, area_names)


def serve_command() -> None:
    """Servera lägesbildsarkivet över HTTP (offentligt under /offentlig/, resten med nyckel)."""
    import logging

    from shared.http_server import serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = MapsSettings()
    print(
        f"Lägesbildsarkivet på http://{settings.maps_host}:{settings.maps_port}/ "
        f"(offentligt: /offentlig/; begränsat: logga in på /logga-in)"
    )
    serve(create_server_app(settings), settings.maps_host, settings.maps_port, settings)
