"""One error shape for every refusal: `{"errors": [{code, message_sv, message_en, field}]}`
(Open311 clients get their own list shape with the same details)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import Scope

from services.intake.open311_format import format_of, render_errors
from shared.validation import Rejection


def error_item(
    code: str, message_sv: str, message_en: str, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "message_sv": message_sv,
        "message_en": message_en,
        "field": field,
    } | extra


def rejection_item(rejection: Rejection, **extra: Any) -> dict[str, Any]:
    return error_item(
        rejection.code, rejection.message_sv, rejection.message_en, rejection.field, **extra
    )


class IntakeError(HTTPException):
    """A refusal with reasons. An HTTPException, so FastAPI's body parsing lets it through."""

    def __init__(
        self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, errors[0]["message_en"] if errors else "", headers)
        self.errors = errors

    @classmethod
    def one(
        cls,
        status: int,
        code: str,
        message_sv: str,
        message_en: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> IntakeError:
        return cls(status, [error_item(code, message_sv, message_en, field)], headers)


def too_large(limit: int) -> IntakeError:
    return IntakeError.one(
        413,
        "payload_too_large",
        f"Förfrågan är för stor (högst {limit} byte). Skicka färre rapporter per anrop.",
        f"The request is too large (at most {limit} bytes). Send fewer reports per call.",
    )


def photo_too_large(limit: int) -> IntakeError:
    mb = limit / 1_048_576
    return IntakeError.one(
        413,
        "photo_too_large",
        f"Fotot är för stort (högst {mb:.0f} MB). Välj ett mindre foto.",
        f"The photo is too large (at most {limit} bytes).",
        "photo",
    )


def error_response(
    request: Request, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    if request.url.path.startswith("/open311"):
        # GeoReport v2 clients expect a list of {code, description}; keep our details too.
        # The spec's statuses: 400 for a missing or invalid parameter, 403 for a missing or
        # invalid api_key.
        status = {422: 400, 401: 403}.get(status, status)
        items = [
            {**e, "code": status, "description": e["message_sv"], "reason": e["code"]}
            for e in errors
        ]
        # As JSON, or as the spec's <errors> for an address ending in .xml.
        return render_errors(format_of(request.url.path), status, items, headers)
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)


def guard_response(scope: Scope, status: int, item: dict[str, Any]) -> Response:
    """A refusal by shared/http_server.RequestGuard (bad address, body too slow) in the
    intake's shapes: `{"errors": […]}`, or Open311's list under /open311."""
    return error_response(Request(scope), status, [item], {"Connection": "close"})


def install(app: FastAPI) -> None:
    async def intake_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IntakeError)
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, exc.errors, headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [_validation_item(e) for e in exc.errors()]
        return error_response(request, 422, errors, None)

    async def redis_down(request: Request, exc: Exception) -> Response:
        item = error_item(
            "unavailable",
            "Rapporterna kan inte tas emot just nu. Försök igen om en stund.",
            "Reports cannot be received right now. Try again in a while.",
        )
        return error_response(request, 503, [item], {"Retry-After": "30"})

    async def database_busy(request: Request, exc: Exception) -> Response:
        """SQLite's write lock held past its busy timeout, or the database away: a refusal
        the client retries, never a 500. A report may already be on the stream; sent again
        it is the same report (the ingest keeps one per organisation and report_id)."""
        item = error_item(
            "database_busy",
            "Databasen är upptagen just nu. Skicka igen om en stund; samma rapport två gånger "
            "blir en rapport.",
            "The database is busy right now. Send again shortly; the same report twice is "
            "one report.",
        )
        return error_response(request, 503, [item], {"Retry-After": "5"})

    async def http_error(request: Request, exc: Exception) -> Response:
        """Unknown routes, wrong methods and the framework's other refusals: in the API's
        shape, never FastAPI's `{"detail": …}`."""
        assert isinstance(exc, HTTPException)
        code, sv, en = _HTTP_ERRORS.get(
            exc.status_code,
            ("bad_request", "Förfrågan kunde inte behandlas.", "The request could not be handled."),
        )
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, [error_item(code, sv, en)], headers)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(IntakeError, intake_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RedisConnectionError, redis_down)
    app.add_exception_handler(RedisTimeoutError, redis_down)
    app.add_exception_handler(OperationalError, database_busy)


_HTTP_ERRORS = {
    404: ("not_found", "Adressen finns inte.", "No such address."),
    405: (
        "method_not_allowed",
        "Metoden finns inte för den här adressen.",
        "This address does not take that method.",
    ),
}


def _validation_item(error: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "form")]
    field = ".".join(loc) or None
    if error.get("type") == "json_invalid":
        return error_item(
            "invalid_json",
            "Förfrågan är inte giltig JSON.",
            "The request is not valid JSON.",
        )
    if error.get("type") == "missing":
        return error_item(
            "missing_field",
            f'Det obligatoriska fältet "{field}" saknas. Lägg till det.',
            f'The required field "{field}" is missing. Add it.',
            field,
        )
    msg = error.get("msg", "")
    return error_item(
        "invalid_field",
        f'Fältet "{field}" har ett ogiltigt värde ({msg}).',
        f'The field "{field}" has an invalid value ({msg}).',
        field,
    )
