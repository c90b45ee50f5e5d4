"""The TiB's page `/tib`: the live map, the recommendation and the order form (Swedish).

Open it once as `/tib?token=…`: the token is checked, kept in an HttpOnly, SameSite=Strict
cookie and removed from the address (so it is not left in the history or a screenshot).
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.tib.web import COOKIE, LIVE, Ctx, TibError, caller_of, token_of

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
_LOGIN = """<!doctype html><html lang="sv"><meta charset="utf-8"><title>TiB – logga in</title>
<body><h1>Lägesbild för TiB</h1><p>{message}</p>
<form method="get" action="/tib"><label>Nyckel <input name="token" type="password"
autocomplete="off" required></label> <button>Öppna</button></form></body></html>"""


@router.get("/tib")
async def tib_page(request: Request, ctx: Ctx, token: str | None = None) -> Response:
    if token:
        try:
            await caller_of(ctx, token, LIVE)
        except TibError as exc:
            return _login(exc.item["message_sv"], exc.status_code)
        response = RedirectResponse("/tib", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600,
                            secure=request.url.scheme == "https")  # fmt: skip
        return response
    try:
        caller = await caller_of(ctx, token_of(request), LIVE)
    except TibError as exc:
        return _login(exc.item["message_sv"], exc.status_code)
    config = {
        "kommun": caller.kommun,
        "organisation": caller.organisation,
        "tasking": caller.can("tasking"),
        "tileUrl": ctx.settings.tib_tile_url,
    }
    html = (STATIC_DIR / "tib.html").read_text(encoding="utf-8")
    html = html.replace("{{CONFIG}}", json.dumps(config, ensure_ascii=False).replace("</", "<\\/"))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _login(message: str, status: int) -> HTMLResponse:
    from html import escape

    return HTMLResponse(_LOGIN.format(message=escape(message)), status_code=status)
