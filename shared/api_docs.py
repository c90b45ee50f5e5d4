"""`/docs`: the API's Swagger UI from vendored files (`shared/api_docs_assets/`, kept apart
from the map assets that every published week copies), with no CDN and no inline script,
so it works offline and under the Content-Security-Policy. Used by the intake and the TiB
(create the app with ``docs_url=None, redoc_url=None``, then `install`)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_DIR = Path(__file__).parent / "api_docs_assets"
DOCS_STATIC = "/docs/static"

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    title = escape(f"{request.app.title} – API")
    openapi_url = escape(request.app.openapi_url or "/openapi.json")
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{DOCS_STATIC}/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS_STATIC}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{DOCS_STATIC}/swagger-ui-bundle.js"></script>
<script src="{DOCS_STATIC}/docs-init.js"></script>
</body>
</html>
""",
        headers={"Cache-Control": "no-cache"},
    )


def install(app: FastAPI) -> None:
    """`/docs` and its files under `/docs/static/`."""
    app.include_router(router)
    app.mount(DOCS_STATIC, StaticFiles(directory=DOCS_DIR), name="docs-static")
