"""GeoReport v2's rules for the lägesbild (pure): services and their definitions, the
discovery document, the parameters of a query, where a new request is, and what each
reader sees of a request.

- A service is a category; its definition has the attributes `source` (who saw it, one of
  the token's sources) and `occurred_at` (when it happened), and, for information only,
  `address_id`: the kommun's areas (`omrade:<namn>`) and known places (`plats:<namn>`).
- `jurisdiction_id` is the kommunkod ("0580"). With a key it is the key's kommun; without
  one it may be left out only where one kommun is enabled.
- What a reader without a key sees (the public view) is what the public lägesbild may
  show: category, status and the area, placed at the area's point; no free text, no exact
  point, no reason for a rejection. A key that may view reports sees its requests as the
  restricted pages do (exact point, scrubbed text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.errors import IntakeError
from services.intake.open311_format import FORMATS, SPECIFICATION
from shared.areas import KommunAreas
from shared.categories import SOURCE_LABELS, Source
from shared.places import fold, places_for, resolve_place
from shared.weeks import iso_week_of

STATUSES = ("open", "closed")
WINDOW = timedelta(days=90)  # the spec's default range and its longest
MAX_REQUESTS = 1000  # the spec's default limit
AREA_ID, PLACE_ID = "omrade:", "plats:"
ENDPOINT_PATH = "/open311/v2"

# --- services ------------------------------------------------------------------------


def service_list(categories: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": label,
            "description": label,
            "metadata": True,
            "type": "realtime",
            "keywords": code,
            "group": "EST",
        }
        for code, label in categories.items()
    ]


def service_definition(code: str, kommun: KommunAreas | None) -> dict[str, Any]:
    """The attributes of a service (the same for every category). `address_id`'s values
    are the kommun's areas and places (none when no kommun is named)."""
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "source",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "En av nyckelns källor; utan värde: nyckelns första.",
                "order": 1,
                "description": "Källa: vem som såg det (rapportörens roll).",
                "values": [{"key": s.value, "name": SOURCE_LABELS[s]} for s in Source],
            },
            {
                "variable": True,
                "code": "occurred_at",
                "datatype": "datetime",
                "required": False,
                "datatype_description": "ISO 8601 med tidszon, t.ex. 2026-11-20T22:15:00+01:00; "
                "utan värde: nu.",
                "order": 2,
                "description": "När det hände.",
            },
            {
                "variable": False,
                "code": "address_id",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "omrade:<område> eller plats:<plats>",
                "order": 3,
                "description": "address_id (i stället för lat/long): ett av kommunens områden "
                "eller kända platser. Rapporten placeras på områdets eller platsens punkt.",
                "values": address_ids(kommun) if kommun is not None else [],
            },
        ],
    }


def address_ids(kommun: KommunAreas) -> list[dict[str, str]]:
    return [
        {"key": (AREA_ID if item["kind"] == "område" else PLACE_ID) + item["name"],
         "name": str(item["name"])}
        for item in places_for(kommun)
    ]  # fmt: skip


def discovery(changeset: datetime) -> dict[str, Any]:
    """The Service Discovery document. The endpoint's url is relative to the discovery
    file's (never built from the request's Host header)."""
    stamp = changeset.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "changeset": stamp,
        "contact": "Frågor om lägesbilden: kommunens trygghetssamordnare (EST).",
        "key_service": "En organisation får sin nyckel (api_key) av lägesbildens "
        "administratör (lagesbild org add). Läsning utan nyckel visar den offentliga vyn.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": ENDPOINT_PATH,
                "changeset": stamp,
                "type": "production",
                "formats": list(FORMATS),
            }
        ],
    }


# --- the parameters of a query ---------------------------------------------------------


def _invalid(field: str, sv: str, en: str, status: int = 400) -> IntakeError:
    return IntakeError.one(status, "invalid_field", sv, en, field)


def jurisdiction(
    kommuner: Mapping[str, KommunAreas], asked: str | None, own: str | None
) -> KommunAreas:
    """The kommun a call is about: the key's (`own`), else the one asked for, else the
    only one enabled."""
    asked = (asked or "").strip() or None
    if own is not None:
        if asked is not None and asked != own:
            raise IntakeError.one(
                403,
                "kommun_not_allowed",
                f"Nyckeln gäller kommun {own}, inte {asked!r}.",
                f"The key is for kommun {own}, not {asked!r}.",
                "jurisdiction_id",
            )
        asked = own
    if asked is None:
        if len(kommuner) == 1:
            return next(iter(kommuner.values()))
        codes = ", ".join(sorted(kommuner))
        raise _invalid(
            "jurisdiction_id",
            f"Ange jurisdiction_id (kommunkoden): här tas rapporter emot för {codes}.",
            f"Give jurisdiction_id (the kommunkod): this endpoint serves {codes}.",
        )
    if asked not in kommuner:
        raise _invalid(
            "jurisdiction_id",
            f"Kommunen {asked!r} finns inte här; jurisdiction_id är kommunkoden, t.ex. 0580.",
            f"No kommun {asked!r} here; jurisdiction_id is the kommunkod, e.g. 0580.",
            404,
        )
    return kommuner[asked]


def comma_list(text: str | None) -> list[str] | None:
    """A comma-separated parameter; None when absent or empty (the spec: the same)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    return parts or None


def statuses(text: str | None) -> list[str] | None:
    wanted = comma_list(text)
    bad = [s for s in wanted or [] if s not in STATUSES]
    if bad:
        raise _invalid(
            "status",
            f"Okänd status {bad[0]!r}: ange open eller closed (flera med komma).",
            f"Unknown status {bad[0]!r}: give open or closed (several comma-separated).",
        )
    return wanted


# A service_request_id is the receipt's row id: ASCII digits only (not "١٢٣" or full-width
# digits, which Python's int() would also read), within the database's integer range.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
MAX_ID = 2**31 - 1


def request_ids(text: str | None) -> list[int] | None:
    """The ids asked for (comma-separated); 400 for one that is not a number at all. An
    id past the integer range cannot exist, so it is left out (alone: nothing found)."""
    parts = comma_list(text)
    if parts is None:
        return None
    bad = [part for part in parts if not _DIGITS.fullmatch(part)]
    if bad:
        raise _invalid(
            "service_request_id",
            f"Ogiltigt service_request_id {bad[0]!r}: ange ett nummer med siffrorna 0–9.",
            f"Invalid service_request_id {bad[0]!r}: give a number written with digits 0-9.",
        )
    numbers = [part.lstrip("0") or "0" for part in parts]
    # Length first: int() of thousands of digits is refused (and slow) in Python.
    return [int(n) for n in numbers if len(n) <= len(str(MAX_ID)) and int(n) <= MAX_ID]


def moment(field: str, text: str | None) -> datetime | None:
    """A w3 date/time parameter (without an offset: UTC); None when absent or empty."""
    if not (text or "").strip():
        return None
    try:
        value = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise _invalid(
            field,
            f"Ogiltig tid i {field}: skriv den som 2026-11-20T00:00:00Z.",
            f"Invalid date/time in {field}: write it as 2026-11-20T00:00:00Z.",
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The range of requested_datetime to list: the spec's most recent 90 days when
    neither end is given, 90 days from the one given, and never more than 90 days."""
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise _invalid(
            "end_date",
            "end_date ligger före start_date.",
            "end_date is before start_date.",
        )
    if end - start > WINDOW:
        raise _invalid(
            "end_date",
            "Sökningen får spänna över högst 90 dagar (start_date till end_date).",
            "A query may span at most 90 days (start_date to end_date).",
        )
    return start, end


# --- where a new request is ------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    lat: str | float
    lon: str | float
    precision: str  # exact, or centroid: an area's or a place's point


def location(
    kommun: KommunAreas,
    lat: str | None,
    long: str | None,
    address_string: str | None,
    address_id: str | None,
) -> Location:
    """lat and long as given (validation checks them), else the area or place that
    `address_string` names, else the area or place `address_id` is; else 400."""
    lat, long = (lat or "").strip() or None, (long or "").strip() or None
    address_string = (address_string or "").strip() or None
    address_id = (address_id or "").strip() or None
    if (lat is None) != (long is None):
        raise _invalid(
            "lat" if lat is None else "long",
            "Ange både lat och long (eller address_string eller address_id i stället).",
            "Give both lat and long (or address_string or address_id instead).",
        )
    if lat is not None and long is not None:
        return Location(lat, long, "exact")
    if address_string is not None:
        point = resolve_place(kommun, address_string)
        if point is None:
            raise _invalid(
                "address_string",
                f"Adressen {address_string!r} finns inte bland {_genitive(kommun.kommun_name)} "
                "områden och platser. Ange ett område eller en känd plats, eller lat och long.",
                f"The address {address_string!r} is not one of {kommun.kommun_name}'s areas "
                "and places. Give an area or a known place, or lat and long.",
            )
        return Location(point[0], point[1], "centroid")
    if address_id is not None:
        return _by_address_id(kommun, address_id)
    raise _invalid(
        "lat",
        "Platsen saknas: ange lat och long, address_string eller address_id.",
        "No location: give lat and long, address_string or address_id.",
    )


def _genitive(name: str) -> str:
    """Swedish genitive: Linköpings, but Kramfors (a name ending in s, x or z)."""
    return name if name[-1:].lower() in "sxz" else f"{name}s"


def _by_address_id(kommun: KommunAreas, address_id: str) -> Location:
    kind, _, name = address_id.partition(":")
    wanted = {"omrade": "område", "plats": "plats"}.get(fold(kind))
    for item in places_for(kommun):
        if wanted == item["kind"] and fold(str(item["name"])) == fold(name):
            return Location(float(item["lat"]), float(item["lon"]), "centroid")
    raise _invalid(
        "address_id",
        f"address_id {address_id!r} är inget av {_genitive(kommun.kommun_name)} områden eller "
        "platser (omrade:<namn> eller plats:<namn>; listan finns i tjänstens definition).",
        f"address_id {address_id!r} is none of {kommun.kommun_name}'s areas or places "
        "(omrade:<name> or plats:<name>; the service definition lists them).",
    )


# --- what a reader sees of a request ---------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the views are made from (a receipt and its outcome)."""

    request_id: int
    category: str
    lat: float
    lon: float
    description: str  # scrubbed
    requested: datetime
    state: str  # queued, stored, rejected
    updated: datetime  # the outcome's time when closed, else `requested`
    reason_sv: str = ""  # why it was rejected


_NOTES = {"queued": "Mottagen, i kö.", "stored": "Registrerad i lägesbilden."}


def _common(r: Request, categories: Mapping[str, str]) -> dict[str, Any]:
    return {
        "service_request_id": str(r.request_id),
        "status": "open" if r.state == "queued" else "closed",
        "status_notes": _NOTES.get(r.state, "Avvisad."),
        "service_code": r.category,
        "service_name": categories.get(r.category, r.category),
    }


def restricted_view(r: Request, categories: Mapping[str, str]) -> dict[str, Any]:
    """For a key that may view reports: the exact point and the scrubbed text; never the
    organisation or the reporter."""
    view = _common(r, categories)
    if r.state == "rejected":
        view["status_notes"] = f"Avvisad: {r.reason_sv}"
    return view | {
        "description": r.description,
        "requested_datetime": _w3(r.requested),
        "updated_datetime": _w3(r.updated),
        "lat": r.lat,
        "long": r.lon,
    }


def area_points(kommun: KommunAreas) -> dict[str, tuple[float, float]]:
    """Each named area's point (inside it), as the form and `address_id` place it."""
    return {
        str(i["name"]): (float(i["lat"]), float(i["lon"]))
        for i in places_for(kommun)
        if i["kind"] == "område"
    }


# The public lägesbild never shows an area × category × week below 3 (shared/disclosure
# rules); a list of single requests would count them, so below that the area is left out.
PUBLIC_MIN_GROUP = 3


def public_group(r: Request, kommun: KommunAreas) -> tuple[str, str, str]:
    """The area × category × ISO week a request counts in, for PUBLIC_MIN_GROUP."""
    return kommun.area_of(r.lat, r.lon), r.category, iso_week_of(r.requested)


def public_view(
    r: Request,
    categories: Mapping[str, str],
    kommun: KommunAreas,
    points: Mapping[str, tuple[float, float]],
    group_size: int,
) -> dict[str, Any]:
    """Without a key: category, status and the area at the area's point (none for a spot
    outside every named area); no text, no exact point, no reason. `points`: area_points.
    `group_size`: the requests (not rejected) in its public_group; below PUBLIC_MIN_GROUP
    only the kommun is named, as the public lägesbild shows such a count as "<3"."""
    area = kommun.area_of(r.lat, r.lon)
    view = _common(r, categories) | {
        "requested_datetime": _w3(r.requested),
        "updated_datetime": _w3(r.updated),
        "address": f"{area}, {kommun.kommun_name}",
    }
    if group_size < PUBLIC_MIN_GROUP:
        return view | {"address": kommun.kommun_name}
    if area in points:
        lat, lon = points[area]
        view |= {"address_id": AREA_ID + area, "lat": lat, "long": lon}
    return view


def _w3(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
