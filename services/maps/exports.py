"""The week's restricted exports: the reports (scrubbed text, no reporter identity) and the
händelser per area × category, for people and for programs.

For people, Swedish Excel opens them as they are (`EXCEL`): UTF-8 with a byte order mark,
`;` between cells, CRLF, Swedish headers, decimal commas, times in Stockholm time with
their offset ("2026-11-20 22:15 +01:00").

- ``export.csv``: one row per report, likely duplicates included and flagged ("Trolig
  dubblett": ja/nej, and "Dubblett av": the id of the report it repeats), so the rows that
  count are those with "nej" (the week's händelser);
- ``export-omraden.csv``: händelser per area × category (the summary's numbers), with the
  likely duplicates that were left out;

for programs, ``export-rfc4180.csv`` (RFC 4180: `,`, CRLF, UTF-8 without BOM, ASCII
headers, ISO 8601 times with offset, decimal points, true/false) and ``export.geojson``
(the same fields as properties, and the areas with their händelser).

Ids are opaque (a hash of the report's key), so a duplicate can name its original without
naming the reporter. Every text cell passes `shared.csv_safety.safe_cell`. Centroid-only
events (the police's) have no point: GeoJSON geometry null, empty lat/lon. Pure.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping

from services.maps.layers import label_of
from shared.areas import KommunAreas
from shared.categories import SOURCE_LABELS
from shared.contracts import IncidentPoint, WeekSnapshotV1
from shared.counting import DUBBLETT, HANDELSE, has_point, is_duplicate, week_numbers
from shared.csv_safety import safe_cell
from shared.formats import iso_local, time_sv
from shared.scrub import scrub

BOM = "\ufeff"


@dataclass(frozen=True)
class Dialect:
    """How a CSV is written: for Swedish Excel or for programs (RFC 4180)."""

    delimiter: str
    bom: bool
    time: Callable[[Any], str]
    decimal: Callable[[float], str]
    yes: str
    no: str


def _point(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _comma(x: float) -> str:
    # a plain "-" (not the typographic minus): Excel reads "-15,5" as a number
    return _point(x).replace(".", ",")


EXCEL = Dialect(";", True, time_sv, _comma, "ja", "nej")
MACHINE = Dialect(",", False, iso_local, _point, "true", "false")

# (machine column, Swedish header) in the order written
# Not "Id" first: Excel takes a file that starts with "ID" for a SYLK file.
INCIDENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("vecka", "Vecka"),
    ("tid", "Tid"),
    ("omrade", "Område"),
    ("kategori", "Kategorikod"),
    ("kategorinamn", "Kategori"),
    ("kalla", "Källa"),
    ("lat", "Latitud"),
    ("lon", "Longitud"),
    ("precision", "Plats"),
    ("id", "Id"),
    ("trolig_dubblett", "Trolig dubblett"),
    ("dubblett_av", "Dubblett av (id)"),
    ("beskrivning", "Beskrivning"),
)
COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("vecka", "Vecka"),
    ("omrade", "Område"),
    ("kategori", "Kategorikod"),
    ("kategorinamn", "Kategori"),
    ("handelser", "Händelser"),
    ("forra_veckan", "Förra veckan"),
    ("troliga_dubbletter", "Troliga dubbletter (räknas inte)"),
)
PRECISION_SV = {"exact": "exakt", "centroid": "områdets mittpunkt"}


def report_id(key: str) -> str:
    """An opaque, stable id for a report: the export's rows can point at each other (a
    duplicate at its original) without the reporter's name, which the key holds."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _sorted_incidents(snapshot: WeekSnapshotV1) -> list[IncidentPoint]:
    return sorted(snapshot.incidents, key=lambda i: (i.occurred_at, i.category, i.area, i.key))


def _incident_row(snapshot: WeekSnapshotV1, i: IncidentPoint, d: Dialect) -> dict[str, Any]:
    exact = has_point(i)
    return {
        "id": report_id(i.key),
        "vecka": snapshot.iso_week,
        "tid": d.time(i.occurred_at),
        "omrade": i.area,
        "kategori": i.category,
        "kategorinamn": label_of(snapshot, i.category),
        "kalla": SOURCE_LABELS.get(i.source, str(i.source)),
        "lat": d.decimal(round(i.lat, 6)) if exact else "",
        "lon": d.decimal(round(i.lon, 6)) if exact else "",
        "precision": PRECISION_SV.get(i.location_precision, i.location_precision)
        if d is EXCEL
        else i.location_precision,
        "trolig_dubblett": d.yes if is_duplicate(i) else d.no,
        "dubblett_av": report_id(i.duplicate_of) if i.duplicate_of else "",
        # Scrubbed at ingest already; again here because an export leaves our hands.
        "beskrivning": scrub(i.description),
    }


def _csv(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]], d: Dialect) -> str:
    buffer = io.StringIO()
    # CRLF, so that a cell holding a bare CR or LF is quoted as well: unquoted, it would
    # split the row and could start a new one with a formula.
    writer = csv.writer(buffer, delimiter=d.delimiter, lineterminator="\r\n")
    writer.writerow([header if d is EXCEL else name for name, header in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(name, "")) for name, _ in columns])
    return (BOM if d.bom else "") + buffer.getvalue()


def export_incidents_csv(snapshot: WeekSnapshotV1, dialect: Dialect = EXCEL) -> str:
    """Every report of the week (``export.csv``; `MACHINE`: ``export-rfc4180.csv``)."""
    rows = [_incident_row(snapshot, i, dialect) for i in _sorted_incidents(snapshot)]
    return _csv(INCIDENT_COLUMNS, rows, dialect)


def export_incidents_machine_csv(snapshot: WeekSnapshotV1) -> str:
    return export_incidents_csv(snapshot, MACHINE)


def export_counts_csv(snapshot: WeekSnapshotV1, dialect: Dialect = EXCEL) -> str:
    """Händelser per area × category (``export-omraden.csv``), the summary's numbers."""
    numbers = week_numbers(snapshot)
    rows = [
        {
            "vecka": snapshot.iso_week,
            "omrade": area,
            "kategori": code,
            "kategorinamn": label_of(snapshot, code),
            "handelser": pair.count,
            "forra_veckan": "" if pair.previous is None else pair.previous,
            "troliga_dubbletter": numbers.duplicates_by_cell.get((area, code), 0),
        }
        for (area, code), pair in sorted(numbers.cells.items())
        if pair.count or pair.previous or numbers.duplicates_by_cell.get((area, code))
    ]
    return _csv(COUNT_COLUMNS, rows, dialect)


def export_geojson(snapshot: WeekSnapshotV1, kommun_areas: KommunAreas) -> str:
    features: list[dict[str, Any]] = []
    for i in _sorted_incidents(snapshot):
        geometry = {"type": "Point", "coordinates": [round(i.lon, 6), round(i.lat, 6)]}
        props = _incident_row(snapshot, i, MACHINE)
        props = {k: v for k, v in props.items() if k not in ("lat", "lon")}
        props["trolig_dubblett"] = is_duplicate(i)
        props["dubblett_av"] = props["dubblett_av"] or None
        features.append(
            {
                "type": "Feature",
                "geometry": geometry if has_point(i) else None,
                # "händelse": counted; "trolig dubblett": shown, not counted
                "properties": {
                    "typ": DUBBLETT.singular if is_duplicate(i) else HANDELSE.singular,
                    **props,
                },
            }
        )
    numbers = week_numbers(snapshot)
    for area in kommun_areas.areas:
        cells = {code: p.count for (a, code), p in sorted(numbers.cells.items()) if a == area.name}
        pair = numbers.areas.get(area.name)
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(area.geometry),
                "properties": {
                    "typ": "område",
                    "vecka": snapshot.iso_week,
                    "omrade": area.name,
                    "antal": pair.count if pair else 0,
                    "kategorier": {code: n for code, n in cells.items() if n},
                    "troliga_dubbletter": sum(
                        n for (a, _), n in numbers.duplicates_by_cell.items() if a == area.name
                    ),
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
