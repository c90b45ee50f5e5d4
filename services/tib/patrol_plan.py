"""The TiB's patrol plan (where and when to patrol) with its inputs read from the TiB's
tables, for the API and the command line. Not the handlingsplan (`shared/plan.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from services.tib import store
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1
from shared.patrols.allocation import DEFAULT_CONSTRAINTS, Constraints, Visit
from shared.patrols.planning import candidates, recommend

HISTORY_WEEKS = 4


def history_weeks(oldest: datetime | None, now: datetime) -> int:
    """Whole weeks of stored history, at most HISTORY_WEEKS (0: too little for a pattern)."""
    if oldest is None:
        return 0
    return max(0, min(HISTORY_WEEKS, (now - oldest) // timedelta(weeks=1)))


def patrol_plan(
    engine: Engine,
    snapshot: WeekSnapshotV1,
    start: datetime,
    hours: float,
    patrols: int,
    now: datetime,
    constraints: Constraints = DEFAULT_CONSTRAINTS,
    areas: KommunAreas | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Visit]:
    seen = store.seen_since(engine, snapshot.kommun, now - timedelta(weeks=HISTORY_WEEKS))
    weeks = history_weeks(min((s.occurred_at for s in seen), default=None), now)
    centres = {a.name: _centre(a.geometry) for a in areas.areas} if areas else {}
    cands = candidates(
        snapshot, seen, weeks, store.open_decisions(engine, snapshot.kommun), centres
    )
    labels = labels or snapshot.categories
    return recommend(cands, start, hours, patrols, constraints, weeks, labels, snapshot.iso_week)


def _centre(geometry: Any) -> tuple[float, float]:
    point = geometry.representative_point()  # inside the area, even for a crescent
    return point.y, point.x


def visit_dict(v: Visit) -> dict[str, Any]:
    data = asdict(v)
    data["start"], data["end"] = v.start.isoformat(), v.end.isoformat()
    data["expected"] = round(v.expected, 2)
    return data
