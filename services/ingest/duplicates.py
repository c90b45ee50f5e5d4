"""Likely duplicate observations: two reporters, one incident. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.geo import distance_m


@dataclass(frozen=True)
class Observation:
    key: str  # "organisation/report_id"
    kommun: str
    category: str
    occurred_at: datetime
    lat: float
    lon: float
    duplicate_of: str | None = None


def find_original(
    new: Observation, earlier: Iterable[Observation], *, max_distance_m: float, window: timedelta
) -> str | None:
    """The key of the earliest observation `new` likely repeats, or None.

    Links always point at an original (never at another duplicate), so a cluster of
    five reports of one graffiti counts once however they arrived.
    """
    matches = [
        o
        for o in earlier
        if o.key != new.key
        and o.kommun == new.kommun
        and o.category == new.category
        and abs(o.occurred_at - new.occurred_at) <= window
        and distance_m(o.lat, o.lon, new.lat, new.lon) <= max_distance_m
    ]
    if not matches:
        return None
    first = min(matches, key=lambda o: (o.occurred_at, o.key))
    return first.duplicate_of or first.key
