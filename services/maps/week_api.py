"""The week, machine-readable (issue #17): the archive server's stable URLs for a kommun's
published week summary (`sammanfattning.json`, schema docs/schemas/sammanfattning.schema.json).

- `GET /api/v1/lagesbild/{kommun}/{week}.json`: the restricted summary, for a caller who
  may see the kommun's lägesbild (bearer token); every read is audited by the server.
- `GET /offentlig/api/v1/lagesbild/{kommun}/{week}.json`: the public version's summary,
  without a token.

Both answer with a strong `ETag` (the file's SHA-256) and `304 Not Modified` for a matching
`If-None-Match`, so a client polls cheaply; errors are `{"errors": [{code, message_sv,
message_en}]}` like every `/api/v1`. The paths are registered before the server's
catch-all file route.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

SUMMARY = "sammanfattning.json"
PUBLIC_DIR = "offentlig"
WEEK_PATH = "/api/v1/lagesbild/{kommun}/{week}.json"
PUBLIC_WEEK_PATH = f"/{PUBLIC_DIR}{WEEK_PATH}"
_KOMMUN = re.compile(r"\d{4}", re.ASCII)
_WEEK = re.compile(r"\d{4}-W\d{2}", re.ASCII)

# (status, message_sv, Retry-After) when the caller may not read the kommun; None if it may.
Authorize = Callable[[Request, str], "tuple[int, str, int | None] | None"]

_SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The week's summary as published (docs/schemas/sammanfattning.schema.json).",
    "additionalProperties": True,
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Veckans sammanfattning / the week's summary",
        "headers": {"ETag": {"schema": {"type": "string"}, "description": "strong validator"}},
        "content": {"application/json": {"schema": _SUMMARY_SCHEMA}},
    },
    304: {"description": "Oförändrad sedan If-None-Match / not modified"},
}


def _error(status: int, code: str, sv: str, en: str, retry: int | None = None) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if retry is not None:
        headers["Retry-After"] = str(retry)
    body = {"errors": [{"code": code, "message_sv": sv, "message_en": en, "field": None}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _not_found() -> JSONResponse:
    return _error(
        404,
        "not_found",
        "Ingen publicerad lägesbild för den kommunen och veckan.",
        "No published lägesbild for that kommun and week.",
    )


def guard_refusal(scope: Any, status: int, item: dict[str, Any]) -> Response | None:
    """The request guard's refusal (bad path, slow body) for the JSON API: its error
    shape; None for the HTML pages (the caller falls back to its page)."""
    path = str(scope.get("path", ""))
    if not (path.startswith("/api/") or path.startswith(f"/{PUBLIC_DIR}/api/")):
        return None
    body = {"errors": [{"field": None} | item]}
    return JSONResponse(body, status_code=status, headers={"Connection": "close"})


def etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest() + '"'


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def summary_response(request: Request, file: Path, cache_control: str) -> Response:
    """The file with its ETag, or 304 when the client has this version."""
    try:
        data = file.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return _not_found()
    etag = etag_of(data)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/json", headers=headers)


def add_week_api(app: FastAPI, root: Path, authorize: Authorize) -> None:
    """Register the two routes on the archive server (before its catch-all)."""

    def located(base: Path, kommun: str, week: str) -> Path | None:
        if not (_KOMMUN.fullmatch(kommun) and _WEEK.fullmatch(week)):
            return None
        return base / kommun / week / SUMMARY

    @app.get(
        WEEK_PATH,
        response_model=None,
        responses=_RESPONSES,
        summary="Veckans sammanfattning (begränsad)",
        tags=["Lägesbild"],
    )
    def restricted_week(request: Request, kommun: str, week: str) -> Response:
        file = located(root, kommun, week)
        if file is None:
            return _not_found()
        refused = authorize(request, kommun)
        if refused is not None:
            status, message, retry = refused
            code = {401: "unauthorized", 429: "rate_limited"}.get(status, "forbidden")
            return _error(status, code, message, "Not allowed for this token.", retry)
        return summary_response(request, file, "private, no-cache")

    @app.get(
        PUBLIC_WEEK_PATH,
        response_model=None,
        responses=_RESPONSES,
        summary="Veckans sammanfattning (offentlig version)",
        tags=["Lägesbild"],
    )
    def public_week(request: Request, kommun: str, week: str) -> Response:
        file = located(root / PUBLIC_DIR, kommun, week)
        if file is None:
            return _not_found()
        return summary_response(request, file, "public, max-age=60, must-revalidate")
