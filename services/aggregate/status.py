"""The aggregate's numbers for `lagesbild status` (the one definition of each): reported
by the running service (shared/service_status.py) and counted by the command itself when
no aggregate has reported."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.aggregate.models import WeekIncident, WeekSnapshotRow


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            "aggregated_reports": _count(s, WeekIncident),
            # händelser, the counting rule (shared/counting.py): all but likely duplicates
            "counted_reports": _count(s, WeekIncident, col(WeekIncident.duplicate_of).is_(None)),
            "week_snapshots": _count(s, WeekSnapshotRow),
        }
