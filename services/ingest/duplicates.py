"""Likely duplicate observations: two reporters, one incident. Pure functions."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.geo import METRES_PER_DEGREE, distance_m


@dataclass(frozen=True)
class Observation:
    key: str  # "organisation/report_id"
    kommun: str
    category: str
    occurred_at: datetime
    lat: float
    lon: float
    duplicate_of: str | None = None


class DuplicateFinder:
    """Finds the original an observation likely repeats: same kommun and category,
    within `max_distance_m` and `window`. Observations are bucketed in a grid of cells
    at least `max_distance_m` wide, so a lookup checks the 3 × 3 cells around a point
    instead of every earlier report (a batch × history scan was the ingest bottleneck).
    """

    def __init__(self, *, max_distance_m: float, window: timedelta) -> None:
        self.max_distance_m, self.window = max_distance_m, window
        self._cell_deg = max(max_distance_m, 1.0) / METRES_PER_DEGREE
        self._cells: dict[tuple[str, str, int, int], list[Observation]] = defaultdict(list)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        # Longitude cells are widened by 1/cos(lat) so they are never narrower than the
        # distance threshold.
        lon_deg = self._cell_deg / max(math.cos(math.radians(lat)), 0.1)
        return math.floor(lat / self._cell_deg), math.floor(lon / lon_deg)

    def add(self, obs: Observation) -> None:
        row, col = self._cell(obs.lat, obs.lon)
        self._cells[(obs.kommun, obs.category, row, col)].append(obs)

    def add_all(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            self.add(obs)

    def original_of(self, new: Observation) -> str | None:
        """The key of the earliest matching observation (always an original), or None."""
        row, col = self._cell(new.lat, new.lon)
        matches = [
            o
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            for o in self._cells.get((new.kommun, new.category, row + dr, col + dc), ())
            if o.key != new.key
            and abs(o.occurred_at - new.occurred_at) <= self.window
            and distance_m(o.lat, o.lon, new.lat, new.lon) <= self.max_distance_m
        ]
        if not matches:
            return None
        # Links always point at an original, never at another duplicate, so a cluster of
        # five reports of one graffiti counts once however they arrived.
        first = min(matches, key=lambda o: (o.occurred_at, o.key))
        return first.duplicate_of or first.key


def find_original(
    new: Observation, earlier: Iterable[Observation], *, max_distance_m: float, window: timedelta
) -> str | None:
    """One-off lookup of `new` against `earlier` (see DuplicateFinder)."""
    finder = DuplicateFinder(max_distance_m=max_distance_m, window=window)
    finder.add_all(earlier)
    return finder.original_of(new)
