"""The mobile report form: `/rapport` (HTML), its script and the vendored Leaflet.

The page itself holds no data and needs no token; the script reads the organisation's
token from the link (`/rapport#nyckel=…`, a fragment never sent to any server) or asks
for it once, keeps it in the phone's localStorage and calls the JSON API with it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.intake.context import Ctx

STATIC_DIR = Path(__file__).parent / "static"
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/rapport")


@router.get("/rapport", response_class=HTMLResponse)
async def report_form(request: Request, ctx: Ctx) -> HTMLResponse:
    html = _templates.get_template("rapport.html").render(
        categories=ctx.categories, tile_url=ctx.settings.intake_tile_url
    )
    # The page is the same for everyone; the token stays in the browser.
    return HTMLResponse(
        html, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
    )
