"""Pure week logic: counts per area × category and the frozen snapshot. No I/O, no now()."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.categories import Source
from shared.contracts import AreaCount, IncidentPoint
from shared.counting import cell_counts


@dataclass(frozen=True)
class Incident:
    key: str
    area: str
    category: str
    source: str
    occurred_at: datetime
    lat: float
    lon: float
    location_precision: str
    description: str
    duplicate_of: str | None = None


def count_cells(incidents: Iterable[Incident]) -> Counter[tuple[str, str]]:
    """(area, category) -> händelser: a linked duplicate counts once, as its original
    (the counting rule, `shared.counting`)."""
    return cell_counts(incidents)


def area_cells(
    current: Mapping[tuple[str, str], int], previous: Mapping[tuple[str, str], int]
) -> list[AreaCount]:
    keys = sorted(set(current) | set(previous))
    return [
        AreaCount(
            area=a, category=c, count=current.get((a, c), 0), previous=previous.get((a, c), 0)
        )
        for a, c in keys
    ]


def incident_points(incidents: Iterable[Incident]) -> list[IncidentPoint]:
    ordered = sorted(incidents, key=lambda i: (i.occurred_at, i.key))
    return [
        IncidentPoint(
            key=i.key,
            category=i.category,
            source=Source(i.source),
            occurred_at=i.occurred_at,
            area=i.area,
            lat=round(i.lat, 6),
            lon=round(i.lon, 6),
            location_precision=i.location_precision,
            description=i.description,
            duplicate_of=i.duplicate_of,
        )
        for i in ordered
    ]
