"""The TiB's page `/tib`: the live map, the recommendation and the order form (Swedish),
and logging in to it.

A token never travels in the address (`/tib?token=…` is ignored). Without a valid cookie
`/tib` answers with the login form; `POST /logga-in` checks the token (role with "live")
and only then sets it as an HttpOnly, SameSite=Strict cookie (Secure over https) and
redirects, relatively, to `/tib` (or a validated `next` path). `POST /logga-ut` removes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.tib.web import COOKIE, LIVE, Ctx, TibError, caller_of, token_of
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
TITLE = "Lägesbild för TiB"


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
    html = (STATIC_DIR / "tib.html").read_text(encoding="utf-8")
    html = html.replace(
        "{{CONFIG}}", json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


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
        await caller_of(ctx, request, token.strip() or None, LIVE)
    except TibError as exc:
        headers = dict(exc.headers or {})
        page = _login(exc.item["message_sv"], exc.status_code, target)
        page.headers.update(headers)
        return page
    return logged_in(request, COOKIE, token.strip(), target)


@router.post(LOGOUT_PATH)
async def logout() -> Response:
    return logged_out(COOKIE)
