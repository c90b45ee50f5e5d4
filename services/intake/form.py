"""The mobile report form: `/rapport` (HTML), its script and the vendored Leaflet.

The page itself holds no data and needs no token; the script reads the organisation's
token from the link (`/rapport#nyckel=…`, a fragment never sent to any server) or asks
for it once, keeps it in the phone's localStorage and calls the JSON API with it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.intake.context import Ctx
from shared.accessibility import STATEMENT_PATH, render_statement
from shared.place_search import area_places
from shared.places import places_for

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
    settings = ctx.settings
    config = {
        "tileUrl": settings.intake_tile_url,
        "tileAttribution": settings.intake_tile_attribution,
        "wmsUrl": settings.wms_url,
        "wmsLayers": settings.wms_layers,
        "wmsAttribution": settings.wms_attribution,
    }
    html = _templates.get_template("rapport.html").render(categories=ctx.categories, config=config)
    # The page is the same for everyone; the token stays in the browser.
    return HTMLResponse(
        html, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
    )


@router.get("/rapport/platser/{kommun}.json")
async def places(kommun: str, ctx: Ctx) -> JSONResponse:
    """What the form's place search offers: the kommun's known places (shared/places.py),
    its areas and their parts (names that the public map shows anyway, so no token is
    needed)."""
    areas = ctx.kommuner.get(kommun)
    if areas is None:
        return JSONResponse(
            {"errors": [{"code": "unknown_kommun", "message_sv": "Okänd kommun.",
                         "message_en": "Unknown kommun."}]},
            status_code=404,
        )  # fmt: skip
    known = [p for p in places_for(areas) if p["kind"] == "plats"]  # the kommun's own places
    return JSONResponse(
        {"places": known + area_places(areas)}, headers={"Cache-Control": "max-age=3600"}
    )


@router.get(STATEMENT_PATH, response_class=HTMLResponse)
async def statement() -> HTMLResponse:
    """The accessibility statement (tillgänglighetsredogörelse)."""
    return HTMLResponse(render_statement(), headers={"Cache-Control": "no-cache"})
