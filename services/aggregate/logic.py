"""Pure week logic: counts per area × category and the frozen snapshot. No I/O, no now()."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.areas import KommunAreas
from shared.categories import Source
from shared.contracts import AreaCount, IncidentPoint, WeekSnapshotV1
from shared.weeks import shift_week


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
    """(area, category) -> number of incidents; a linked duplicate counts once, as its original."""
    return Counter((i.area, i.category) for i in incidents if i.duplicate_of is None)


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


def _points(incidents: Iterable[Incident]) -> list[IncidentPoint]:
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
            location_precision=i.location_precision,  # type: ignore[arg-type]
            description=i.description,
            duplicate_of=i.duplicate_of,
        )
        for i in ordered
    ]


def content_hash(snapshot: WeekSnapshotV1) -> str:
    """Hash of what the week says, not of when it was built: equal content, equal hash."""
    body = snapshot.model_dump(mode="json", exclude={"revision", "built_at", "content_hash"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def build_snapshot(
    *,
    kommun: KommunAreas,
    categories: Mapping[str, str],
    iso_week: str,
    incidents: list[Incident],
    previous_incidents: list[Incident],
    revision: int,
    built_at: datetime,
) -> WeekSnapshotV1:
    draft = WeekSnapshotV1(
        kommun=kommun.kommun,
        kommun_name=kommun.kommun_name,
        iso_week=iso_week,
        previous_week=shift_week(iso_week, -1),
        revision=revision,
        content_hash="",
        built_at=built_at,
        categories=dict(categories),
        areas=kommun.area_names,
        cells=area_cells(count_cells(incidents), count_cells(previous_incidents)),
        incidents=_points(incidents),
        duplicates_linked=sum(1 for i in incidents if i.duplicate_of is not None),
    )
    return draft.model_copy(update={"content_hash": content_hash(draft)})
