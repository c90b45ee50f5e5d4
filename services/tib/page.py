"""The TiB's page `/tib`: the live map, the recommendation and the order form (Swedish);
the guards' page `/uppdrag` (a guard company's orders, installable, works offline: see
static/uppdrag.js); and logging in to them.

A token never travels in the address (`/tib?token=…` is ignored). Without a valid cookie
`/tib` answers with the login form; `POST /logga-in` checks the token (role with "live")
and only then sets it as an HttpOnly, SameSite=Strict cookie (Secure over https) and
redirects, relatively, to `/tib` (or a validated `next` path; a guard company, which
has no "live", to `/uppdrag`). `POST /logga-ut` removes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.tib.context import COOKIE, LIVE, Ctx, TibError, caller_of, token_of
from shared.access import GUARD_ORDERS
from shared.accessibility import STATEMENT_PATH, render_statement
from shared.login import (
    LOGIN_PATH,
    LOGOUT_PATH,
    logged_in,
    logged_out,
    login_page,
    safe_next,
    same_origin,
)

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
PAGE_PATH = "/tib"
GUARD_PATH = "/uppdrag"
MANIFEST_PATH = "/uppdrag.webmanifest"
WORKER_PATH = "/uppdrag-sw.js"  # at the root, so its scope may be /uppdrag
TITLE = "Lägesbild för TiB"
GUARD_TITLE = "Uppdrag för väktare"


def _login(message: str, status: int, next_path: str = PAGE_PATH) -> HTMLResponse:
    return login_page(TITLE, message, next_path, status=status)


@router.get(PAGE_PATH)
async def tib_page(request: Request, ctx: Ctx) -> Response:
    try:
        caller = await caller_of(ctx, request, token_of(request), LIVE)
    except TibError as exc:
        message = exc.item["message_sv"]
        if exc.status_code == 401:
            message = f"{message} Logga in med din organisations nyckel."
        return _login(message, exc.status_code)
    config = {
        "kommun": caller.kommun,
        "organisation": caller.organisation,
        "tasking": caller.can("tasking"),
        "tileUrl": ctx.settings.tib_tile_url,
    }
    return _page("tib.html", config)


def _page(name: str, config: Mapping[str, object]) -> HTMLResponse:
    html = (STATIC_DIR / name).read_text(encoding="utf-8")
    # JSON in a non-executed <script type="application/json">: "<" escaped, so no text
    # can close the element.
    html = html.replace(
        "{{CONFIG}}", json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(GUARD_PATH)
async def guard_page(request: Request, ctx: Ctx) -> Response:
    """The guard company's orders (phone first). Only a guard company's token."""
    try:
        caller = await caller_of(ctx, request, token_of(request), GUARD_ORDERS)
    except TibError as exc:
        message = exc.item["message_sv"]
        if exc.status_code == 401:
            message = f"{message} Logga in med väktarbolagets nyckel."
        elif exc.status_code == 403:
            message = "Sidan är bara för väktarbolag som tar emot TiB:s uppdrag."
        return login_page(GUARD_TITLE, message, GUARD_PATH, status=exc.status_code)
    config = {
        "kommun": caller.kommun,
        "organisation": caller.organisation,
        "tileUrl": ctx.settings.tib_tile_url,
        "reportUrl": (ctx.settings.tib_intake_url.rstrip("/") + "/rapport"),
        "categories": dict(ctx.categories),
    }
    return _page("uppdrag.html", config)


@router.get(MANIFEST_PATH)
async def guard_manifest() -> Response:
    """The web app manifest: /uppdrag installs as an app on the phone's home screen."""
    manifest = {
        "name": GUARD_TITLE,
        "short_name": "Uppdrag",
        "lang": "sv",
        "start_url": GUARD_PATH,
        "scope": GUARD_PATH,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d3557",
        "icons": [{"src": "/tib/static/uppdrag-ikon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    return Response(
        json.dumps(manifest, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get(WORKER_PATH)
async def guard_worker() -> Response:
    """The service worker (static/uppdrag-sw.js), served at the root so that its scope
    can be /uppdrag (the page, its script and styles work without network)."""
    body = (STATIC_DIR / "uppdrag-sw.js").read_text(encoding="utf-8")
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": GUARD_PATH},
    )


@router.get(LOGIN_PATH)
async def login_form(next: str | None = None) -> HTMLResponse:
    return _login("Logga in med din organisations nyckel.", 200, safe_next(next, PAGE_PATH))


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    ctx: Ctx,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = PAGE_PATH,
) -> Response:
    """The token in the body; the cookie only after it was verified."""
    target = safe_next(next, PAGE_PATH)
    if not same_origin(request):
        return _login("Inloggningen skickades inte från den här sidan.", 403, target)
    try:
        caller = await caller_of(ctx, request, token.strip() or None, (LIVE, GUARD_ORDERS))
    except TibError as exc:
        headers = dict(exc.headers or {})
        page = _login(exc.item["message_sv"], exc.status_code, target)
        page.headers.update(headers)
        return page
    if not caller.can(LIVE):  # a guard company: its orders page
        target = GUARD_PATH if target == PAGE_PATH else target
    return logged_in(request, COOKIE, token.strip(), target)


@router.post(LOGOUT_PATH)
async def logout() -> Response:
    return logged_out(COOKIE)


@router.get(STATEMENT_PATH)
async def statement() -> HTMLResponse:
    """The accessibility statement (tillgänglighetsredogörelse)."""
    return HTMLResponse(render_statement(), headers={"Cache-Control": "no-cache"})
