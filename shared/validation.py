"""Validation of raw report submissions: pure functions, no I/O, no settings, no clock.

`validate_submission` turns whatever arrived on the reports stream into either a
`ValidReport` (placed in its area and ISO week) or a `Rejection` with a stable code and
a Swedish and English message that tells the sender what to fix. The checks run in a
fixed order (see `REASON_CODES`), so one payload always gets the same answer.

No exception may escape: senders are other organisations' systems and the stream is
open to anything, so a crash here would stall the consumer group.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.areas import KOMMUN_LEVEL_AREA, KommunAreas
from shared.contracts import MAX_DESCRIPTION_CHARS, ReportV1
from shared.weeks import iso_week_of

SUPPORTED_VERSION = 1
VALUE_PREVIEW_CHARS = 80

# In the order they are checked; `internal_error` only if a check itself crashed.
REASON_CODES = (
    "payload_too_large",
    "invalid_encoding",
    "invalid_json",
    "not_an_object",
    "unsupported_version",
    "missing_field",
    "unknown_kommun",
    "unknown_category",
    "description_too_long",
    "invalid_field",
    "outside_kommun",
    "future_time",
    "too_old",
    "internal_error",
)


@dataclass(frozen=True)
class Rejection:
    code: str  # machine-readable, stable snake_case
    message_sv: str  # Swedish, says what to fix
    message_en: str  # English, says what to fix
    field: str | None = None


@dataclass(frozen=True)
class Limits:
    max_future_skew: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(days=400)
    boundary_tolerance_m: float = 200.0
    max_payload_bytes: int = 64 * 1024


@dataclass(frozen=True)
class ValidReport:
    report: ReportV1
    area: str  # from KommunAreas.area_of
    iso_week: str  # shared.weeks.iso_week_of(report.occurred_at)


# code -> (Swedish, English) templates. Both get the same keyword arguments; a value that
# needs translating is passed twice, as `<name>_sv` and `<name>_en`.
_MESSAGES: dict[str, tuple[str, str]] = {
    "payload_too_large": (
        "Rapporten är för stor ({size} byte, högst {limit} byte är tillåtet). "
        "Korta beskrivningen eller ta bort onödiga fält.",
        "The report is too large ({size} bytes, at most {limit} bytes allowed). "
        "Shorten the description or remove unneeded fields.",
    ),
    "invalid_encoding": (
        "Rapporten är inte giltig UTF-8: {detail_sv}. Skicka texten kodad som UTF-8.",
        "The report is not valid UTF-8: {detail_en}. Send the text encoded as UTF-8.",
    ),
    "invalid_json": (
        "Rapporten är inte giltig JSON: {detail_sv}. Skicka ett JSON-objekt, "
        't.ex. {{"report_id": "…", "kommun": "0580", …}}.',
        "The report is not valid JSON: {detail_en}. Send a JSON object, "
        'e.g. {{"report_id": "…", "kommun": "0580", …}}.',
    ),
    "not_an_object": (
        "Rapporten måste vara ett JSON-objekt med fält ({{…}}), inte {kind_sv}{value}.",
        "The report must be a JSON object with fields ({{…}}), not {kind_en}{value}.",
    ),
    "unsupported_version": (
        'Versionen {value} stöds inte. Ange "version": 1 eller utelämna fältet.',
        'Version {value} is not supported. Send "version": 1 or leave the field out.',
    ),
    "missing_field": (
        'Det obligatoriska fältet "{field}" saknas (eller är null). Lägg till det.',
        'The required field "{field}" is missing (or null). Add it.',
    ),
    "unknown_kommun": (
        "Kommunkoden {value} är okänd här. Ange en av de anslutna kommunerna "
        "som fyrsiffrig kod i text: {known}.",
        "The kommun code {value} is not known here. Send one of the connected kommuner "
        "as a four-digit code in a string: {known}.",
    ),
    "unknown_category": (
        "Kategorin {value} är okänd. Använd en kategorikod, t.ex. {known}.",
        "The category {value} is not known. Use a category code, e.g. {known}.",
    ),
    "description_too_long": (
        "Beskrivningen är {length} tecken lång, högst {limit} tecken är tillåtet. Korta den.",
        "The description is {length} characters long, at most {limit} are allowed. Shorten it.",
    ),
    "invalid_field": (
        'Fältet "{field}" har ett ogiltigt värde {value}: {hint_sv}{detail}.',
        'The field "{field}" has an invalid value {value}: {hint_en}{detail}.',
    ),
    "outside_kommun": (
        "Platsen (lat {lat}, lon {lon}) ligger mer än {tolerance} m utanför {name} "
        "({kommun}). Kontrollera koordinaterna: WGS 84 i decimalgrader, lat och lon "
        "inte omkastade, och rätt kommunkod.",
        "The location (lat {lat}, lon {lon}) is more than {tolerance} m outside {name} "
        "({kommun}). Check the coordinates: WGS 84 decimal degrees, lat and lon not "
        "swapped, and the right kommun code.",
    ),
    "future_time": (
        "Tidpunkten {value} ligger i framtiden (mer än {minutes} minuter efter "
        "mottagandet, {now}). Kontrollera datum, klockslag och tidszon.",
        "The time {value} is in the future (more than {minutes} minutes after receipt, "
        "{now}). Check the date, time of day and time zone.",
    ),
    "too_old": (
        "Tidpunkten {value} är mer än {days} dagar gammal; så gamla händelser tas inte "
        "emot. Kontrollera datumet.",
        "The time {value} is more than {days} days old; older events are not accepted. "
        "Check the date.",
    ),
    "internal_error": (
        "Ett internt fel uppstod när rapporten kontrollerades ({error}). Skicka igen "
        "senare; kvarstår felet, kontakta förvaltaren av lägesbilden.",
        "An internal error occurred while checking the report ({error}). Send it again "
        "later; if it persists, contact the lägesbild administrators.",
    ),
}

# pydantic error type -> (Swedish, English) advice; anything else gets the generic one.
_FIELD_HINTS: dict[str, tuple[str, str]] = {
    "timezone_aware": ("ange tidszon, t.ex. +01:00", "give a time zone, e.g. +01:00"),
    "extra_forbidden": ("okänt fält, ta bort det", "unknown field, remove it"),
    "invalid_key": ("fältnamn måste vara text", "field names must be strings"),
    "enum": ("använd ett av de tillåtna värdena", "use one of the allowed values"),
    "literal_error": ("använd ett av de tillåtna värdena", "use one of the allowed values"),
    "string_type": ("ange text", "send a string"),
    "string_too_short": ("får inte vara tomt", "must not be empty"),
    "string_too_long": ("texten är för lång", "the text is too long"),
    "string_pattern_mismatch": ("fel format", "wrong format"),
    "float_type": ("ange ett tal", "send a number"),
    "float_parsing": ("ange ett tal", "send a number"),
    "greater_than_equal": ("värdet är för litet", "the value is too small"),
    "less_than_equal": ("värdet är för stort", "the value is too large"),
}
_GENERIC_HINT = ("rätta värdet", "correct the value")

_REQUIRED_FIELDS = tuple(name for name, f in ReportV1.model_fields.items() if f.is_required())
_KNOWN_FIELDS = frozenset(ReportV1.model_fields)
_ID_FIELDS = ("report_id", "organisation")
_COORDINATE_FIELDS = ("lat", "lon")
# Date and time of day up front: pydantic would otherwise also take "1700000000" or a bare
# number as a Unix timestamp, or a date alone, which senders almost never mean.
_ISO_DATETIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", re.ASCII)
_ALLOWED_DESCRIPTION_CONTROLS = frozenset("\t\n\r")

_preview = reprlib.Repr()
_preview.maxstring = VALUE_PREVIEW_CHARS
_preview.maxother = VALUE_PREVIEW_CHARS
_preview.maxlevel = 3
_preview.maxlist = _preview.maxtuple = _preview.maxdict = 4


class _Reject(Exception):
    """Raised by a check step; carries the answer back to `validate_submission`."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.code)
        self.rejection = rejection


def validate_submission(
    raw: bytes | str | Mapping[str, Any],
    *,
    categories: Mapping[str, str],
    kommuner: Mapping[str, KommunAreas],
    now: datetime,
    limits: Limits = Limits(),  # frozen, so one shared default is safe
    organisation: str | None = None,
) -> ValidReport | Rejection:
    """Check one raw submission; never raises (see the module docstring)."""
    try:
        return _validate(raw, categories, kommuner, now, limits, organisation)
    except _Reject as rejected:
        return rejected.rejection
    except Exception as exc:  # the last line of defence, see module docstring
        return _rejection("internal_error", error=type(exc).__name__)


def _validate(
    raw: object,
    categories: Mapping[str, str],
    kommuner: Mapping[str, KommunAreas],
    now: datetime,
    limits: Limits,
    organisation: str | None,
) -> ValidReport:
    data = _parse(raw, limits)
    _check_encodable(data)
    data = _drop_nulls(data)
    _check_version(data)
    if organisation is not None:
        data["organisation"] = organisation  # the sender's token decides, not the payload
    _check_required(data)
    areas = _check_kommun(data, kommuner)
    _check_category(data, categories)
    _check_description_length(data)
    report = _build_report(data)
    _check_location(report, areas, limits)
    _check_time(report, now, limits)
    return ValidReport(
        report=report,
        area=area_for(report, areas),
        iso_week=iso_week_of(report.occurred_at),
    )


# --- message helpers -------------------------------------------------------------


def area_for(report: ReportV1, areas: KommunAreas) -> str:
    """The area a report counts in. An administrative centroid (the police's events) says
    which kommun, not which street: it counts for the kommun as a whole."""
    if report.location_precision == "centroid":
        return KOMMUN_LEVEL_AREA
    return areas.area_of(report.lat, report.lon)


def _rejection(code: str, field: str | None = None, **values: object) -> Rejection:
    sv, en = _MESSAGES[code]
    return Rejection(
        code, sv.format(field=field, **values), en.format(field=field, **values), field
    )


def _reject(code: str, field: str | None = None, **values: object) -> _Reject:
    return _Reject(_rejection(code, field, **values))


def _show(value: object) -> str:
    """A short, printable, UTF-8-safe rendering of any value for a message."""
    try:
        # The start of a string identifies it best; reprlib would cut out the middle.
        text = repr(value[:VALUE_PREVIEW_CHARS]) if isinstance(value, str) else _preview.repr(value)
    except Exception:  # e.g. an int too long to print; the type still helps
        text = f"<{type(value).__name__}>"
    if len(text) > VALUE_PREVIEW_CHARS:
        text = text[: VALUE_PREVIEW_CHARS - 1] + "…"
    # repr escapes lone surrogates already; this is for odd __repr__s of Mapping input.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _field_name(loc: tuple[Any, ...]) -> str:
    name = ".".join(part if isinstance(part, str) else _show(part) for part in loc)
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


# --- parsing: payload_too_large, invalid_encoding, invalid_json, not_an_object -------


def _parse(raw: object, limits: Limits) -> dict[Any, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, bytes | bytearray):
        _check_size(len(raw), limits)
        return _as_object(_load_json(_decode(bytes(raw))))
    if isinstance(raw, str):
        # surrogatepass: a lone surrogate must not stop the size check, the next step names it
        _check_size(len(raw.encode("utf-8", "surrogatepass")), limits)
        _check_str_encodable(raw)
        return _as_object(_load_json(raw))
    return _as_object(raw)


def _check_size(size: int, limits: Limits) -> None:
    if size > limits.max_payload_bytes:
        raise _reject("payload_too_large", size=size, limit=limits.max_payload_bytes)


def _decode(raw: bytes) -> str:
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # tolerate a byte order mark (Windows tools)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _reject(
            "invalid_encoding",
            detail_sv=f"ogiltig byte {raw[exc.start]:#04x} på position {exc.start}",
            detail_en=f"invalid byte {raw[exc.start]:#04x} at position {exc.start}",
        ) from None


def _check_str_encodable(text: str, field: str | None = None) -> None:
    """Lone surrogates cannot be stored or forwarded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where_sv = f'i fältet "{field}"' if field else f"på position {exc.start}"
        where_en = f'in the field "{field}"' if field else f"at position {exc.start}"
        char = f"U+{ord(text[exc.start]):04X}"
        raise _reject(
            "invalid_encoding",
            field,
            detail_sv=f"ensamt surrogattecken {char} {where_sv}",
            detail_en=f"lone surrogate {char} {where_en}",
        ) from None


# A report is one flat object; a few levels leave room for what senders add. Deeper
# nesting is refused before parsing, so the answer never depends on the stack depth left
# (json.loads raises RecursionError near 1000 levels, pydantic and logging have their own).
MAX_JSON_DEPTH = 32
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth_exceeds(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:
        return False  # cheap: a plain report has one "{"
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        elif bracket in "]}":
            depth -= 1
    return False


def _load_json(text: str) -> Any:
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise _reject(
            "invalid_json",
            detail_sv=f"för djupt nästlad (högst {MAX_JSON_DEPTH} nivåer)",
            detail_en=f"nested too deeply (at most {MAX_JSON_DEPTH} levels)",
        )
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise _reject(
            "invalid_json",
            detail_sv=f"{exc.msg} (rad {exc.lineno}, kolumn {exc.colno})",
            detail_en=f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None
    except RecursionError:
        raise _reject(
            "invalid_json", detail_sv="för djupt nästlad", detail_en="nested too deeply"
        ) from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        detail = _show(str(exc))
        raise _reject("invalid_json", detail_sv=detail, detail_en=detail) from None


_KINDS = {
    list: ("en lista", "an array"),
    str: ("en sträng", "a string"),
    bool: ("ett sanningsvärde", "a boolean"),
    int: ("ett tal", "a number"),
    float: ("ett tal", "a number"),
    type(None): ("null", "null"),
}


def _as_object(value: object) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    type_name = type(value).__name__
    kind_sv, kind_en = _KINDS.get(
        type(value), (f"ett värde av typen {type_name}", f"a value of type {type_name}")
    )
    shown = "" if value is None else f" {_show(value)}"
    raise _reject("not_an_object", kind_sv=kind_sv, kind_en=kind_en, value=shown)


def _check_encodable(data: dict[Any, Any]) -> None:
    # A JSON "\ud800" escape is valid JSON but yields a string no store or stream accepts.
    for key, value in data.items():
        if isinstance(key, str):
            _check_str_encodable(key, _show(key))
        if isinstance(value, str):
            _check_str_encodable(value, key if isinstance(key, str) else _show(key))


def _drop_nulls(data: dict[Any, Any]) -> dict[Any, Any]:
    """A known field sent as null counts as absent (many JSON encoders emit nulls)."""
    return {k: v for k, v in data.items() if not (v is None and k in _KNOWN_FIELDS)}


# --- unsupported_version, missing_field, unknown_kommun, unknown_category ----------


def _check_version(data: dict[Any, Any]) -> None:
    if "version" not in data:
        return
    version = data["version"]
    # Exactly the integer 1: True or "1" would pass pydantic's lax mode but is a guess.
    if type(version) is not int or version != SUPPORTED_VERSION:
        raise _reject("unsupported_version", "version", value=_show(version))


def _check_required(data: dict[Any, Any]) -> None:
    for name in _REQUIRED_FIELDS:
        if name not in data:
            raise _reject("missing_field", name)


def _check_kommun(data: dict[Any, Any], kommuner: Mapping[str, KommunAreas]) -> KommunAreas:
    code = data["kommun"]
    # isinstance first: an unhashable value (a list) would make `in` raise.
    if isinstance(code, str) and code in kommuner:
        return kommuner[code]
    raise _reject("unknown_kommun", "kommun", value=_show(code), known=_some(sorted(kommuner), 10))


def _check_category(data: dict[Any, Any], categories: Mapping[str, str]) -> None:
    code = data["category"]
    if not (isinstance(code, str) and code in categories):
        known = _some(list(categories), 6)
        raise _reject("unknown_category", "category", value=_show(code), known=known)


def _some(codes: list[str], limit: int) -> str:
    if not codes:
        return "–"
    return ", ".join(codes[:limit]) + (", …" if len(codes) > limit else "")


def _check_description_length(data: dict[Any, Any]) -> None:
    description = data.get("description")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION_CHARS:
        raise _reject(
            "description_too_long",
            "description",
            length=len(description),
            limit=MAX_DESCRIPTION_CHARS,
        )


# --- invalid_field -----------------------------------------------------------------


def _invalid(field: str, value: object, hint: tuple[str, str], detail: str = "") -> _Reject:
    return _reject(
        "invalid_field",
        field,
        value=_show(value),
        hint_sv=hint[0],
        hint_en=hint[1],
        detail=f" ({detail})" if detail else "",
    )


def _build_report(data: dict[Any, Any]) -> ReportV1:
    _check_coordinate_types(data)
    _check_time_format(data)
    try:
        report = ReportV1.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None
    _check_text_content(report)
    return report


def _from_validation_error(exc: ValidationError) -> _Reject:
    first = exc.errors(include_url=False)[0]
    hint = _FIELD_HINTS.get(first["type"], _GENERIC_HINT)
    return _invalid(_field_name(first["loc"]), first.get("input"), hint, first["msg"])


def _check_coordinate_types(data: dict[Any, Any]) -> None:
    for name in _COORDINATE_FIELDS:
        value = data[name]
        if isinstance(value, bool):  # pydantic would read true as 1.0
            raise _invalid(name, value, ("ange ett tal", "send a number"))
        if isinstance(value, float) and not math.isfinite(value):
            hint = ("ange ett ändligt tal, inte NaN/oändligt", "send a finite number, not NaN/inf")
            raise _invalid(name, value, hint)


def _check_time_format(data: dict[Any, Any]) -> None:
    value = data["occurred_at"]
    if isinstance(value, datetime):
        return  # a Mapping from Python code; pydantic checks that it is aware
    if not (isinstance(value, str) and _ISO_DATETIME_START.match(value)):
        hint = (
            "ange datum och klockslag enligt ISO 8601 med tidszon, t.ex. 2026-11-20T21:30:00+01:00",
            "send date and time as ISO 8601 with a time zone, e.g. 2026-11-20T21:30:00+01:00",
        )
        raise _invalid("occurred_at", value, hint)


def _check_text_content(report: ReportV1) -> None:
    for name in _ID_FIELDS:
        value: str = getattr(report, name)
        if not value.strip():
            raise _invalid(name, value, ("får inte vara bara blanksteg", "must not be blank"))
        if _has_control_chars(value):
            raise _invalid(
                name, value, ("kontrolltecken är inte tillåtna", "no control characters")
            )
    if _has_control_chars(report.description, allowed=_ALLOWED_DESCRIPTION_CONTROLS):
        hint = (
            "kontrolltecken är inte tillåtna (utom radbrytning och tabb)",
            "no control characters (except line breaks and tabs)",
        )
        raise _invalid("description", report.description, hint)


def _has_control_chars(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    # Cc only: NUL breaks PostgreSQL text, escape sequences reach operators' terminals.
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


# --- outside_kommun, future_time, too_old ------------------------------------------


def _check_location(report: ReportV1, areas: KommunAreas, limits: Limits) -> None:
    if areas.contains(report.lat, report.lon, limits.boundary_tolerance_m):
        return
    raise _reject(
        "outside_kommun",
        lat=round(report.lat, 6),
        lon=round(report.lon, 6),
        tolerance=f"{limits.boundary_tolerance_m:g}",
        name=areas.kommun_name,
        kommun=areas.kommun,
    )


def _check_time(report: ReportV1, now: datetime, limits: Limits) -> None:
    occurred = report.occurred_at
    if occurred > now + limits.max_future_skew:
        raise _reject(
            "future_time",
            "occurred_at",
            value=occurred.isoformat(),
            now=now.isoformat(timespec="seconds"),
            minutes=f"{limits.max_future_skew.total_seconds() / 60:g}",
        )
    if occurred < now - limits.max_age:
        days = f"{limits.max_age.total_seconds() / 86400:g}"
        raise _reject("too_old", "occurred_at", value=occurred.isoformat(), days=days)
