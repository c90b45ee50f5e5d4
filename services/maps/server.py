"""Serve the published lägesbild archive over HTTP, with the intake's role checks.

- ``/offentlig/…`` (the public tree) and ``/assets/…`` (Leaflet): no token.
- Everything else is restricted: a token with the permission "restricted_lagesbild"
  (roles meeting, tib, admin), as ``Authorization: Bearer …`` or once as ``?token=…``,
  which sets an HttpOnly cookie and redirects to the URL without it (so a browser can
  follow the pages' links and the token does not stay in the address bar or history).
  Under ``/{kommun}/…`` the token's kommun must match, unless the role is admin.

Run with `lagesbild maps-serve` (`serve_command`).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.maps.publish import PUBLIC_DIR
from shared.access import Caller, find_caller
from shared.config import Settings
from shared.models_access import AuditEntry

PERMISSION = "restricted_lagesbild"
COOKIE = "lagesbild_token"
OPEN_TOP_DIRS = (PUBLIC_DIR, "assets")
NO_STORE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


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
                response = RedirectResponse(request.url.remove_query_params("token"), 303)
                response.set_cookie(
                    COOKIE,
                    query_token,
                    httponly=True,
                    samesite="lax",
                    path="/",
                    secure=request.url.scheme == "https",
                )
                response.headers.update(NO_STORE)
                return response
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
