"""The week's restricted exports: GeoJSON and CSV of the incidents (scrubbed text, no
reporter identity) and of the counts per area × category.

Centroid-only events (the police's) have no point: GeoJSON geometry null, empty lat/lon.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from shapely.geometry import mapping

from services.maps.layers import label_of
from shared.areas import KommunAreas
from shared.categories import SOURCE_LABELS
from shared.contracts import IncidentPoint, WeekSnapshotV1
from shared.csv_safety import safe_cell
from shared.scrub import scrub

INCIDENT_COLUMNS = (
    "vecka", "tid", "omrade", "kategori", "kategorinamn", "kalla", "lat", "lon",
    "precision", "beskrivning",
)  # fmt: skip
COUNT_COLUMNS = ("vecka", "omrade", "kategori", "kategorinamn", "antal", "forra_veckan")


def _incident_props(snapshot: WeekSnapshotV1, i: IncidentPoint) -> dict[str, Any]:
    return {
        "vecka": snapshot.iso_week,
        "tid": i.occurred_at.isoformat(),
        "omrade": i.area,
        "kategori": i.category,
        "kategorinamn": label_of(snapshot, i.category),
        "kalla": SOURCE_LABELS.get(i.source, str(i.source)),
        "precision": i.location_precision,
        # Scrubbed at ingest already; again here because an export leaves our hands.
        "beskrivning": scrub(i.description),
    }


def _sorted_incidents(snapshot: WeekSnapshotV1) -> list[IncidentPoint]:
    return sorted(snapshot.incidents, key=lambda i: (i.occurred_at, i.category, i.area))


def export_geojson(snapshot: WeekSnapshotV1, kommun_areas: KommunAreas) -> str:
    features: list[dict[str, Any]] = []
    for i in _sorted_incidents(snapshot):
        exact = i.location_precision == "exact"
        geometry = {"type": "Point", "coordinates": [round(i.lon, 6), round(i.lat, 6)]}
        features.append(
            {
                "type": "Feature",
                "geometry": geometry if exact else None,
                "properties": {"typ": "händelse", **_incident_props(snapshot, i)},
            }
        )
    counts = _area_counts(snapshot)
    for area in kommun_areas.areas:
        per_category = counts.get(area.name, {})
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(area.geometry),
                "properties": {
                    "typ": "område",
                    "vecka": snapshot.iso_week,
                    "omrade": area.name,
                    "antal": sum(n for n, _ in per_category.values()),
                    "kategorier": {code: n for code, (n, _) in sorted(per_category.items())},
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))


def _area_counts(snapshot: WeekSnapshotV1) -> dict[str, dict[str, tuple[int, int]]]:
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for c in snapshot.cells:
        n, prev = out.setdefault(c.area, {}).get(c.category, (0, 0))
        out[c.area][c.category] = (n + c.count, prev + c.previous)
    return out


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    # CRLF, so that a cell holding a bare CR or LF is quoted as well: unquoted, it would
    # split the row and could start a new one with a formula.
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(row.get(k, "")) for k in columns})
    return buffer.getvalue()


def export_incidents_csv(snapshot: WeekSnapshotV1) -> str:
    rows = []
    for i in _sorted_incidents(snapshot):
        row = _incident_props(snapshot, i)
        if i.location_precision == "exact":
            row |= {"lat": round(i.lat, 6), "lon": round(i.lon, 6)}
        rows.append(row)
    return _csv(INCIDENT_COLUMNS, rows)


def export_counts_csv(snapshot: WeekSnapshotV1) -> str:
    rows = [
        {
            "vecka": snapshot.iso_week,
            "omrade": area,
            "kategori": code,
            "kategorinamn": label_of(snapshot, code),
            "antal": n,
            "forra_veckan": prev,
        }
        for area, per_category in sorted(_area_counts(snapshot).items())
        for code, (n, prev) in sorted(per_category.items())
    ]
    return _csv(COUNT_COLUMNS, rows)
