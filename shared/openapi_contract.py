"""What every HTTP API's OpenAPI document promises an integrator (issue #17).

`document(app, apis)` replaces FastAPI's generated document with one where every operation
under an API's prefix documents every error status the platform can answer (the request
guard's 400/408, the token checks' 401/403, 404, 405, the body limits' 413/415, the
rate limit's 429, validation's 422, an unavailable Redis or database 503) with the API's
one error body, and names the security scheme(s) the operation takes. FastAPI's own
`HTTPValidationError` (`{"detail": …}`) is never documented because it is never sent:
each app installs handlers that answer in its API's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_STATUSES: dict[int, str] = {
    400: "Ogiltig förfrågan / bad request",
    401: "Nyckel saknas eller är ogiltig / missing or invalid token",
    403: "Inte tillåtet för nyckeln / not allowed",
    404: "Finns inte / not found",
    405: "Metoden finns inte för adressen / method not allowed",
    408: "Förfrågan kom för långsamt / request timeout",
    413: "För stor förfrågan / body too large",
    415: "Fel innehållstyp / unsupported media type",
    422: "Avvisad: fälten förklaras i felen / rejected, the errors say why",
    429: "För många anrop; se Retry-After / rate limited",
    503: "Tillfälligt otillgänglig; se Retry-After / temporarily unavailable",
}

API_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message_sv", "message_en"],
    "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message_sv": {"type": "string"},
        "message_en": {"type": "string"},
        "field": {"type": ["string", "null"]},
    },
}
ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/ApiError"}}},
    "description": "Every refusal of the API: one or more errors.",
}
OPEN311_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "GeoReport v2 errors: a list of {code, description} (code: the HTTP status).",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
SCHEMAS = {
    "ApiError": API_ERROR_SCHEMA,
    "Errors": ERRORS_SCHEMA,
    "Open311Errors": OPEN311_ERRORS_SCHEMA,
}

BEARER = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The organisation's key (`lagesbild org add`): "
        "`Authorization: Bearer <key>`",
    }
}
OPEN311_KEY = {
    "api_key": {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "GeoReport v2 `api_key` (the organisation's key); also taken as a form "
        "field of the POST body. Never logged.",
    }
}


@dataclass(frozen=True)
class Api:
    """One API of an app: its path prefix, its error body and its security."""

    prefix: str
    errors: str = "Errors"  # a key of SCHEMAS
    # Security requirements of each operation (OpenAPI's list: any one of them suffices);
    # `optional_for` lists methods whose operations also work without (an empty object).
    security: Sequence[dict[str, list[str]]] = ()
    optional_for: Sequence[str] = ()
    content_types: Sequence[str] = ("application/json",)
    extra: Callable[[str, str, dict[str, Any]], None] | None = field(default=None)


def _plain_tuples(node: Any) -> None:
    """A fixed-length tuple of one type (a `(lat, lon)` pair) as an array of that type with
    its length: Pydantic writes `prefixItems` (or, in some versions, `items: [..]`), which
    not every OpenAPI tool reads."""
    if isinstance(node, dict):
        items = node.get("prefixItems", node.get("items"))
        if isinstance(items, list) and items and all(i == items[0] for i in items):
            node.pop("prefixItems", None)
            node["items"] = items[0]
            node.setdefault("minItems", len(items))
            node.setdefault("maxItems", len(items))
        for value in node.values():
            _plain_tuples(value)
    elif isinstance(node, list):
        for value in node:
            _plain_tuples(value)


def complete(
    schema: dict[str, Any], apis: Sequence[Api], *, only_apis: bool = False
) -> dict[str, Any]:
    """Add the error responses, security and schemas to a generated document; with
    `only_apis`, drop every path outside the APIs (an app's HTML pages)."""
    if only_apis:
        schema["paths"] = {
            p: ops for p, ops in schema.get("paths", {}).items()
            if any(p.startswith(a.prefix) for a in apis)
        }  # fmt: skip
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemes = components.setdefault("securitySchemes", {})
    used: set[str] = set()
    for path, operations in schema.get("paths", {}).items():
        api = next((a for a in apis if path.startswith(a.prefix)), None)
        if api is None:
            continue
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            used.add(api.errors)
            ref = {"$ref": f"#/components/schemas/{api.errors}"}
            responses = op["responses"]
            for status, description in ERROR_STATUSES.items():
                entry = responses.setdefault(str(status), {"description": description})
                entry.pop(status, None)
                entry["content"] = {t: {"schema": ref} for t in api.content_types}
            if api.security:
                requirement = [dict(r) for r in api.security]
                if method.upper() in api.optional_for:
                    requirement = [{}, *requirement]
                op["security"] = requirement
                for r in api.security:
                    for name in r:
                        schemes.update(
                            {k: v for k, v in (BEARER | OPEN311_KEY).items() if k == name}
                        )
            if api.extra is not None:
                api.extra(path, method, op)
    for name in used:
        schemas[name] = SCHEMAS[name]
    if "Errors" in used:
        schemas["ApiError"] = API_ERROR_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if not schemes:
        components.pop("securitySchemes")
    _plain_tuples(schema)
    return schema


def document(app: FastAPI, apis: Sequence[Api], *, only_apis: bool = False) -> None:
    """Make `app.openapi()` return the completed document (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = complete(generated, apis, only_apis=only_apis)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
