"""The week's lägesbild as one frozen snapshot: counts, rises, hotspots, patterns, coverage.

Pure: every input is passed in (the builder reads it from the store), so a week rebuilt
from the same stored reports is identical, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime

from shapely.geometry import Polygon

from services.aggregate.analysis import cell_stats, describe_change
from services.aggregate.hotspot_grid import Grid
from services.aggregate.hotspots import cells_under, find_hotspots
from services.aggregate.logic import Incident, area_cells, count_cells, incident_points
from services.aggregate.patterns import coverage, time_profiles
from shared.areas import KommunAreas
from shared.contracts import (
    AreaCoverageV1,
    CellStatsV1,
    HotspotV1,
    TimeProfileV1,
    WeekSnapshotV1,
)
from shared.weeks import shift_week

BASELINE_WEEKS_FOR_HOTSPOTS = 8
HOTSPOT_CELL_M = 250.0


@dataclass(frozen=True)
class WeekInputs:
    """Everything a week's lägesbild is computed from."""

    iso_week: str
    incidents: list[Incident]
    previous_incidents: list[Incident]
    history: Mapping[str, Counter[tuple[str, str]]]  # earlier weeks' counts (up to 52)
    # Reports per grid cell over the `recent_weeks` before, where this week has hotspots.
    recent_cells: Mapping[tuple[int, int], int] = field(default_factory=dict)
    recent_weeks: int = 0
    nollrapporter: list[tuple[str, str | None]] = field(default_factory=list)


def content_hash(snapshot: WeekSnapshotV1) -> str:
    """Hash of what the week says, not of when it was built: equal content, equal hash."""
    body = snapshot.model_dump(mode="json", exclude={"revision", "built_at", "content_hash"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _stats(inputs: WeekInputs) -> list[CellStatsV1]:
    stats = cell_stats(count_cells(inputs.incidents), inputs.history, inputs.iso_week)
    return [CellStatsV1(**asdict(s), text=describe_change(s)) for s in stats]


def _hotspots(inputs: WeekInputs, kommun: KommunAreas) -> list[HotspotV1]:
    spots = find_hotspots(
        inputs.incidents,
        inputs.previous_incidents,
        kommun,
        cell_m=HOTSPOT_CELL_M,
        baseline_cells=inputs.recent_cells,
        baseline_weeks=inputs.recent_weeks,
    )
    return [HotspotV1.model_validate(asdict(h)) for h in spots]


def hotspot_cells(inputs: WeekInputs, kommun: KommunAreas) -> set[tuple[int, int]]:
    """The grid cells under this week's hotspots: the only places whose earlier weeks the
    snapshot needs."""
    grid = Grid(kommun, HOTSPOT_CELL_M)
    return {
        cell
        for spot in find_hotspots(inputs.incidents, inputs.previous_incidents, kommun)
        for cell in cells_under(Polygon(spot.polygon[0]), grid)
    }


def _profiles(inputs: WeekInputs) -> list[TimeProfileV1]:
    # Area × category profiles only where there is something to see: the snapshot stays small.
    return [
        TimeProfileV1.model_validate(asdict(p))
        for p in time_profiles(inputs.incidents)
        if p.category is None or p.total >= 5
    ]


def build_snapshot(
    *,
    kommun: KommunAreas,
    categories: Mapping[str, str],
    inputs: WeekInputs,
    revision: int,
    built_at: datetime,
) -> WeekSnapshotV1:
    draft = WeekSnapshotV1(
        kommun=kommun.kommun,
        kommun_name=kommun.kommun_name,
        iso_week=inputs.iso_week,
        previous_week=shift_week(inputs.iso_week, -1),
        revision=revision,
        content_hash="",
        built_at=built_at,
        categories=dict(categories),
        areas=kommun.area_names,
        cells=area_cells(count_cells(inputs.incidents), count_cells(inputs.previous_incidents)),
        incidents=incident_points(inputs.incidents),
        duplicates_linked=sum(1 for i in inputs.incidents if i.duplicate_of is not None),
        stats=_stats(inputs),
        hotspots=_hotspots(inputs, kommun),
        time_profiles=_profiles(inputs),
        coverage=[
            AreaCoverageV1.model_validate(asdict(c))
            for c in coverage(inputs.incidents, inputs.nollrapporter, kommun.area_names)
        ],
    )
    return draft.model_copy(update={"content_hash": content_hash(draft)})
