"""The Swedish Police open events API ("händelsenotiser") as v1 reports. Pure code, no I/O.

One event looks like::

    {"id": 650297, "datetime": "2026-08-22 19:51:41 +02:00",
     "name": "22 augusti 17.59, Brand, Kävlinge", "summary": "…",
     "url": "/aktuellt/handelser/…/", "type": "Brand",
     "location": {"name": "Skåne län", "gps": "55.990257,13.595769"}}

Quirks handled here (see ../shared/README.md):

* ``datetime`` is not strict ISO 8601 (``2026-08-22 9:48:12 +02:00``, single-digit hour);
  it is the publication time. The incident time is in ``name`` ("22 augusti 17.59"),
  without a year; it is used when it can be read, else the publication time.
* Since 2026-01-20 ``location.name`` is the county and the municipality is only the last
  comma part of ``name``; older events have the municipality in ``location.name``.
* ``gps`` is an administrative centroid (since 2026 the county's), never the spot. Every
  report is marked ``location_precision="centroid"``; when the caller passes a point for
  the municipality (``kommun_points``) that point is used, because the county's centroid
  usually lies in another municipality and would be rejected by ingest.
* Some types are summaries or notices, not incidents (``EXCLUDED``); one type has a
  trailing space.

Every one of the 97 types seen 2022-09..2026-08 is in ``TYPE_MAP``; a type seen for the
first time becomes ``ovrigt`` and is counted in ``Summary.unknown_types``, never a crash.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import MAX_DESCRIPTION_CHARS

ORGANISATION: Final = "Polismyndigheten"
SOURCE: Final = "polis"
REPORT_ID_PREFIX: Final = "polisen-"
POLICE_BASE_URL: Final = "https://polisen.se"
LOCATION_PRECISION: Final = "centroid"
UNKNOWN_TYPE_CATEGORY: Final = "ovrigt"
EXCLUDED: Final = None  # the TYPE_MAP value of a type that is not an incident
NO_TYPE: Final = "(typ saknas)"  # the summary's name for events without a type
_STOCKHOLM = ZoneInfo("Europe/Stockholm")

# --- exclusion reasons (code -> Swedish text shown to the operator) ---------------------
SUMMARY = "sammanfattning"
NOTICE = "meddelande"
TRAFFIC = "trafik"
POLICE_WORK = "polisens_verksamhet"
ACCIDENT = "olycka_raddning"
PERSON = "personarende"
NO_PLACE = "brott_utan_plats"
FOUND = "upphittat"
OTHER_AUTHORITY = "annan_myndighet"

EXCLUSION_REASONS: dict[str, str] = {
    SUMMARY: "sammanfattning av ett pass, inte en händelse (händelserna publiceras var för sig)",
    NOTICE: "meddelande från polisen (information, uppdatering), inte en händelse",
    TRAFFIC: "trafik (olyckor, trafikbrott): trafiksäkerhet, inte trygghet i området",
    POLICE_WORK: "polisens egen verksamhet (kontroller, insatser): mäter polisens arbete",
    ACCIDENT: "olycka, sjukdom, larm eller räddningsinsats, inte brott eller ordning",
    PERSON: "personärende (försvunnen, efterlyst, avliden): känsligt och ingen platshändelse",
    NO_PLACE: "brott utan plats i kommunen (bedrägeri, urkunder, ekobrott)",
    FOUND: "upphittat eller återfunnet: brottet räknas redan när det anmäls",
    OTHER_AUTHORITY: "djur, sjö, luftfart, miljö eller skyddsobjekt: andra myndigheters område",
}

# --- skip reasons (an incident type, but no report can be made) --------------------------
SKIP_INVALID = "ogiltig händelse"
SKIP_COUNTY = "länshändelse (ingen kommun angiven)"
SKIP_KOMMUN = "kommun ej konfigurerad"
SKIP_NO_COORDINATES = "koordinater saknas"
SKIP_DUPLICATE = "samma id två gånger i indata"

# Where a report's coordinates came from (Summary.coordinates)
COORD_KOMMUN_POINT = "kommunens punkt"
COORD_POLICE = "polisens gps (administrativ mittpunkt)"

# --- the mapping: written per EST category from the police type names ------------------
# Rationale per group in docs/police-import.md.
_CATEGORY_TYPES: dict[str, tuple[str, ...]] = {
    "brand": ("Brand", "Mordbrand"),
    "skadegorelse": ("Skadegörelse",),
    "vald": (
        "Misshandel",
        "Misshandel, grov",
        "Mord/dråp",
        "Mord/dråp, försök",
        "Rån",
        "Rån, försök",
        "Rån väpnat",
        "Rån övrigt",
        "Skottlossning",
        "Skottlossning, misstänkt",
        "Explosion",
        "Detonation",
        "Våldtäkt",
        "Våldtäkt, försök",
        "Sexualbrott",
        "Sedlighetsbrott",
        "Olaga frihetsberövande/människorov",
    ),
    "hot": ("Olaga hot", "Ofredande/förargelse", "Bombhot", "Hets mot folkgrupp"),
    "hot_vald_personal": (
        "Våld/hot mot tjänsteman",
        "Sabotage mot blåljusverksamhet",
        "Larm Överfall",
    ),
    "inbrott": (
        "Inbrott",
        "Inbrott, försök",
        "Stöld/inbrott",
        "Larm Inbrott",
        "Hemfridsbrott",
        "Olaga intrång",
    ),
    "stold": ("Stöld", "Stöld, försök", "Motorfordon, stöld", "Häleri", "Åldringsbrott"),
    "narkotika": ("Narkotikabrott",),
    "ordningsstorning": (
        "Bråk",
        "Fylleri",
        "Fylleri/LOB",
        "Ordningslagen",
        "Alkohollagen",
        "Smällar",
        "Knivlagen",
    ),
    "ovrigt": ("Övrigt", "Vapenlagen", "Farligt föremål, misstänkt"),
}

_EXCLUDED_TYPES: dict[str, tuple[str, ...]] = {
    SUMMARY: (
        "Sammanfattning natt",
        "Sammanfattning kväll och natt",
        "Sammanfattning kväll",
        "Sammanfattning dag",
        "Sammanfattning eftermiddag",
        "Sammanfattning helg",
        "Sammanfattning vecka",
        "Sammanfattning dygn",
    ),
    NOTICE: ("Information", "Uppdatering"),
    TRAFFIC: (
        "Trafikolycka",
        "Trafikolycka, personskada",
        "Trafikolycka, vilt",
        "Trafikolycka, singel",
        "Trafikolycka, smitning från",
        "Trafikhinder",
        "Trafikbrott",
        "Rattfylleri",
        "Olovlig körning",
    ),
    POLICE_WORK: (
        "Trafikkontroll",
        "Kontroll person/fordon",
        "Kontroll",
        "Polisinsats/kommendering",
        "Utlänningslagen",
    ),
    ACCIDENT: (
        "Arbetsplatsolycka",
        "Fjällräddning",
        "Räddningsinsats",
        "Sjukdom/olycksfall",
        "Vållande till kroppsskada",
        "Brand automatlarm",
        "Varningslarm/haveri",
        "Spridning smitta/kemikalier",
    ),
    PERSON: ("Försvunnen person", "Efterlyst person", "Anträffad död"),
    NO_PLACE: ("Bedrägeri", "Ekobrott", "Förfalskningsbrott", "Missbruk av urkund"),
    FOUND: ("Anträffat gods", "Upphittat föremål", "Motorfordon, anträffat stulet"),
    OTHER_AUTHORITY: (
        "Djur",
        "Lagen om hundar och katter",
        "Sjölagen",
        "Luftfartslagen",
        "Miljöbrott",
        "Skyddslagen",
    ),
}


def _build_maps() -> tuple[dict[str, str | None], dict[str, str]]:
    type_map: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    for category, types in _CATEGORY_TYPES.items():
        assert category in DEFAULT_CATEGORIES, category
        for name in types:
            assert name not in type_map, f"{name!r} mapped twice"
            type_map[name] = category
    for reason, types in _EXCLUDED_TYPES.items():
        assert reason in EXCLUSION_REASONS, reason
        for name in types:
            assert name not in type_map, f"{name!r} mapped twice"
            type_map[name] = EXCLUDED
            reasons[name] = reason
    return type_map, reasons


TYPE_MAP: dict[str, str | None]
EXCLUDED_REASON: dict[str, str]  # type -> exclusion reason code, for every EXCLUDED type
TYPE_MAP, EXCLUDED_REASON = _build_maps()
_TYPE_BY_FOLDED = {name.casefold(): name for name in TYPE_MAP}


# --- small parsers ---------------------------------------------------------------------


def normalise_type(raw: object) -> str:
    """The type as a TYPE_MAP key: NFC, single spaces, no surrounding blanks."""
    if not isinstance(raw, str):
        return ""
    return " ".join(unicodedata.normalize("NFC", raw).split())


@dataclass(frozen=True)
class Classification:
    type: str  # normalised
    category: str | None  # None = excluded
    exclusion: str | None = None  # reason code when excluded
    unknown: bool = False  # not in TYPE_MAP: mapped to UNKNOWN_TYPE_CATEGORY


def classify(raw_type: object) -> Classification:
    """The category of a police type, or why it is excluded; never raises."""
    name = normalise_type(raw_type)
    if not name:
        return Classification(NO_TYPE, UNKNOWN_TYPE_CATEGORY, unknown=True)
    known = name if name in TYPE_MAP else _TYPE_BY_FOLDED.get(name.casefold())
    if known is not None:
        category = TYPE_MAP[known]
        return Classification(name, category, EXCLUDED_REASON.get(known))
    if name.casefold().startswith("sammanfattning"):  # a new kind of summary
        return Classification(name, EXCLUDED, SUMMARY)
    return Classification(name, UNKNOWN_TYPE_CATEGORY, unknown=True)


_POLICE_DATETIME = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?"
    r"\s*(Z|[+-]\d{1,2}(?::?\d{2})?)\s*$",
    re.ASCII,
)


def parse_police_datetime(value: object) -> datetime:
    """``2026-08-22 9:48:12 +02:00`` (hour without a leading zero) -> an aware datetime.

    Raises ValueError for anything else, including a missing offset.
    """
    if not isinstance(value, str):
        raise ValueError(f"datetime must be a string, not {type(value).__name__}")
    m = _POLICE_DATETIME.match(value)
    if not m:
        raise ValueError(f"unreadable datetime {value[:40]!r}")
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    return datetime(year, month, day, hour, minute, second, tzinfo=_offset(m.group(7)))


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours > 23 or minutes > 59:
        raise ValueError(f"invalid UTC offset {text!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_MONTHS = {
    name: i
    for i, name in enumerate(
        (
            "januari",
            "februari",
            "mars",
            "april",
            "maj",
            "juni",
            "juli",
            "augusti",
            "september",
            "oktober",
            "november",
            "december",
        ),
        start=1,
    )
}
_NAME_TIME = re.compile(r"^\s*(\d{1,2})\s+([a-zåäö]+)\s+(\d{1,2})[.:](\d{2})\b", re.IGNORECASE)
# An incident time later than its publication by more than this is a misreading.
_MAX_NAME_AFTER_PUBLISHED = timedelta(hours=1)


def incident_time(name: object, published: datetime) -> datetime:
    """The incident time from ``name`` ("22 augusti 17.59, …"), in Swedish local time.

    ``name`` has no year: the year of publication, or the one before when that would put
    the incident after its publication (a December event published in January). Falls back
    to ``published`` when ``name`` has no readable time.
    """
    m = _NAME_TIME.match(name) if isinstance(name, str) else None
    month = _MONTHS.get(m.group(2).casefold()) if m else None
    if m is None or month is None:
        return published
    day, hour, minute = int(m.group(1)), int(m.group(3)), int(m.group(4))
    local_published = published.astimezone(_STOCKHOLM)
    for year in (local_published.year, local_published.year - 1):
        try:
            candidate = datetime(year, month, day, hour, minute, tzinfo=_STOCKHOLM)
        except ValueError:  # 30 februari, 25.61 …
            return published
        if candidate <= published + _MAX_NAME_AFTER_PUBLISHED:
            # Swedish local time as a fixed offset: the payload must say +01:00/+02:00.
            offset = candidate.utcoffset() or timedelta(0)
            return candidate.replace(tzinfo=timezone(offset))
    return published


def parse_gps(value: object) -> tuple[float, float] | None:
    """``"58.41,15.62"`` -> (lat, lon); None when missing or not two finite numbers in range."""
    if not isinstance(value, str):
        return None
    parts = value.split(",")
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


# --- municipality ----------------------------------------------------------------------

_DASHES = dict.fromkeys(map(ord, "-‐‑‒–—"), " ")


def normalise_kommun_name(name: str) -> str:
    """A comparison key: case, dashes and whitespace ignored.

    "Malung-Sälen" == "malung sälen", "Upplands Väsby" == "Upplands-Väsby",
    "Lilla edet" == "Lilla Edet".
    """
    return " ".join(unicodedata.normalize("NFC", name).translate(_DASHES).casefold().split())


def _name_keys(name: str) -> list[str]:
    """Keys to try for a name: as is, and without a "kommun"/"stad" suffix
    ("Linköpings kommun" -> "linköpings", "linköping"; "Göteborgs stad" -> "göteborg")."""
    key = normalise_kommun_name(name)
    keys = [key]
    for suffix in (" kommun", " stad"):
        if key.endswith(suffix) and len(key) > len(suffix):
            base = key.removesuffix(suffix)
            keys.append(base)
            if base.endswith("s"):
                keys.append(base[:-1])
    return keys


class KommunLookup(dict[str, str]):
    """name -> kommunkod with normalised keys (see `normalise_kommun_name`)."""

    @classmethod
    def of(cls, names: Mapping[str, str] | Iterable[tuple[str, str]]) -> KommunLookup:
        if isinstance(names, KommunLookup):
            return names
        pairs = names.items() if isinstance(names, Mapping) else names
        lookup = cls()
        for name, code in pairs:
            for key in _name_keys(name):
                lookup.setdefault(key, code)
        return lookup

    def find(self, name: object) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return None
        return next((self[k] for k in _name_keys(name) if k in self), None)


def is_county(name: object) -> bool:
    return isinstance(name, str) and name.strip().casefold().endswith(" län")


@dataclass(frozen=True)
class Place:
    kommun: str | None  # kommunkod, None when not found
    name: str  # the municipality name as the event wrote it ("" when none)
    county_only: bool = False  # the event names only a county


def find_kommun(event: Mapping[str, Any], lookup: KommunLookup) -> Place:
    """The event's municipality: last comma part of ``name``, else ``location.name``."""
    name = event.get("name")
    last = name.rsplit(",", 1)[-1].strip() if isinstance(name, str) and "," in name else ""
    location = event.get("location")
    loc_name = location.get("name") if isinstance(location, Mapping) else None
    loc_name = loc_name.strip() if isinstance(loc_name, str) else ""
    for candidate in (last, loc_name):
        code = lookup.find(candidate)
        if code is not None:
            return Place(code, candidate)
    municipality = next((c for c in (last, loc_name) if c and not is_county(c)), "")
    if not municipality:
        return Place(None, last or loc_name, county_only=True)
    return Place(None, municipality)


# --- one event -> one report -----------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    reason: str  # a SKIP_* constant, or "exkluderad: <code>" for excluded types
    detail: str = ""
    excluded: str | None = None  # exclusion reason code when the type is not an incident


def report_id_of(event: Mapping[str, Any]) -> str | None:
    event_id = event.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, int | str):
        return None
    text = str(event_id).strip()
    return f"{REPORT_ID_PREFIX}{text}" if text else None


def description_of(event: Mapping[str, Any]) -> str:
    """Summary plus attribution with a link; cut so it fits the contract's limit."""
    url = event.get("url")
    if isinstance(url, str) and url.strip():
        url = url.strip()
        link = url if url.startswith(("http://", "https://")) else POLICE_BASE_URL + url
        suffix = f" (Källa: {ORGANISATION}, {link})"
    else:
        suffix = f" (Källa: {ORGANISATION})"
    summary = event.get("summary")
    text = _clean_text(summary) if isinstance(summary, str) else ""
    room = MAX_DESCRIPTION_CHARS - len(suffix)
    if room < 1:  # an absurd url: keep what fits
        return (text + suffix)[:MAX_DESCRIPTION_CHARS]
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + suffix


def _clean_text(text: str) -> str:
    # Control characters (except newline and tab) are rejected by ingest.
    return "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs")
    ).strip()


def to_report(
    event: Mapping[str, Any],
    kommun_lookup: Mapping[str, str],
    kommun_points: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any] | Skip:
    """One police event as a ReportV1 payload (JSON-ready dict), or why there is none.

    `kommun_lookup` maps municipality names to kommunkod (any case/dash spelling);
    `kommun_points` maps kommunkod to a (lat, lon) inside that municipality, used instead
    of the police's centroid (which since 2026 is the county's). Never raises.
    """
    try:
        return _to_report(event, KommunLookup.of(kommun_lookup), kommun_points or {})
    except Exception as exc:  # the last line of defence: one odd event must not stop a run
        return Skip(SKIP_INVALID, f"{type(exc).__name__}: {exc}"[:200])


def _to_report(
    event: Mapping[str, Any],
    lookup: KommunLookup,
    points: Mapping[str, tuple[float, float]],
) -> dict[str, Any] | Skip:
    if not isinstance(event, Mapping):
        return Skip(SKIP_INVALID, f"inte ett objekt: {type(event).__name__}")
    kind = classify(event.get("type"))
    if kind.category is EXCLUDED:
        reason = kind.exclusion or SUMMARY
        return Skip(f"exkluderad: {reason}", kind.type, excluded=reason)
    report_id = report_id_of(event)
    if report_id is None or len(report_id) > 128:
        return Skip(SKIP_INVALID, "id saknas eller är ogiltigt")
    try:
        published = parse_police_datetime(event.get("datetime"))
    except ValueError as exc:
        return Skip(SKIP_INVALID, str(exc))
    place = find_kommun(event, lookup)
    if place.kommun is None:
        if place.county_only:
            return Skip(SKIP_COUNTY, place.name)
        return Skip(SKIP_KOMMUN, place.name)
    location = event.get("location")
    gps = parse_gps(location.get("gps") if isinstance(location, Mapping) else None)
    coords = points.get(place.kommun) or gps
    if coords is None:
        return Skip(SKIP_NO_COORDINATES, place.name)
    occurred = incident_time(event.get("name"), published)
    return {
        "version": 1,
        "report_id": report_id,
        "kommun": place.kommun,
        "source": SOURCE,
        "organisation": ORGANISATION,
        "category": kind.category,
        "occurred_at": occurred.isoformat(),
        "lat": coords[0],
        "lon": coords[1],
        "location_precision": LOCATION_PRECISION,
        "description": description_of(event),
    }


# --- a whole response -------------------------------------------------------------------


@dataclass
class TypeCount:
    category: str | None  # None = excluded
    exclusion: str | None = None
    unknown: bool = False
    events: int = 0
    converted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        if self.category is None:
            return f"exkluderad: {self.exclusion}"
        return self.category + (" (okänd typ)" if self.unknown else "")


@dataclass
class Summary:
    total: int = 0
    converted: int = 0
    by_type: dict[str, TypeCount] = field(default_factory=dict)
    by_category: Counter[str] = field(default_factory=Counter)  # converted only
    excluded: Counter[str] = field(default_factory=Counter)  # reason code -> events
    skipped: Counter[str] = field(default_factory=Counter)  # skip reason -> events
    unknown_types: Counter[str] = field(default_factory=Counter)  # -> ovrigt, with a warning
    unconfigured_kommuner: Counter[str] = field(default_factory=Counter)
    coordinates: Counter[str] = field(default_factory=Counter)  # converted, by origin

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "converted": self.converted,
            "excluded": self.excluded_total,
            "skipped": self.skipped_total,
            "by_category": dict(self.by_category.most_common()),
            "excluded_by_reason": dict(self.excluded.most_common()),
            "skipped_by_reason": dict(self.skipped.most_common()),
            "unknown_types": dict(self.unknown_types.most_common()),
            "unconfigured_kommuner": dict(self.unconfigured_kommuner.most_common()),
            "coordinates": dict(self.coordinates.most_common()),
            "by_type": {
                name: {
                    "events": t.events,
                    "category": t.category,
                    "exclusion": t.exclusion,
                    "unknown": t.unknown,
                    "converted": t.converted,
                    "skipped": dict(t.skipped),
                }
                for name, t in sorted(self.by_type.items(), key=lambda kv: (-kv[1].events, kv[0]))
            },
        }


def import_summary(
    events: Iterable[Any],
    kommun_lookup: Mapping[str, str],
    kommun_points: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[list[dict[str, Any]], Summary]:
    """Convert a list of events; every event ends up converted, excluded or skipped.

    An id seen twice in the input is converted once (the first), the rest are skipped.
    """
    lookup = KommunLookup.of(kommun_lookup)
    points = kommun_points or {}
    payloads: list[dict[str, Any]] = []
    summary = Summary()
    seen: set[str] = set()
    for event in events:
        summary.total += 1
        kind = classify(event.get("type") if isinstance(event, Mapping) else None)
        type_count = summary.by_type.setdefault(
            kind.type, TypeCount(kind.category, kind.exclusion, kind.unknown)
        )
        type_count.events += 1
        result = to_report(event, lookup, points)
        if isinstance(result, dict) and result["report_id"] in seen:
            result = Skip(SKIP_DUPLICATE, result["report_id"])
        if isinstance(result, Skip):
            if result.excluded is not None:
                summary.excluded[result.excluded] += 1
            else:
                summary.skipped[result.reason] += 1
                type_count.skipped[result.reason] += 1
                if result.reason == SKIP_KOMMUN and result.detail:
                    summary.unconfigured_kommuner[result.detail] += 1
            continue
        seen.add(result["report_id"])
        if kind.unknown:
            summary.unknown_types[kind.type] += 1
        payloads.append(result)
        summary.converted += 1
        type_count.converted += 1
        summary.by_category[result["category"]] += 1
        summary.coordinates[COORD_KOMMUN_POINT if result["kommun"] in points else COORD_POLICE] += 1
    return payloads, summary
