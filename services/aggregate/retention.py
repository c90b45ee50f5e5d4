"""The aggregate's part of the retention purge: its projection's points and free text, the
frozen weeks' incident lists (their counts stay) and the guards' patrol events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col, select

from services.aggregate.models import PatrolEventRow, WeekIncident, WeekSnapshotRow
from shared.contracts import WeekSnapshotV1
from shared.retention import Purge, purge, rows_before
from shared.weeks import iso_week_of


def _purge_snapshots(conn: Connection, cutoff: datetime, dry_run: bool) -> int:
    """Frozen weeks that ended before the cut-off keep their counts, not their points."""
    last_purgeable = iso_week_of(cutoff)
    rows = conn.execute(
        select(WeekSnapshotRow.id, WeekSnapshotRow.snapshot_json).where(
            col(WeekSnapshotRow.iso_week) < last_purgeable
        )
    ).all()
    changed = 0
    for row_id, text in rows:
        snapshot = WeekSnapshotV1.model_validate_json(text)
        if snapshot.incidents_purged:
            continue
        changed += 1
        if not dry_run:
            stripped = snapshot.model_copy(update={"incidents": [], "incidents_purged": True})
            conn.execute(
                update(WeekSnapshotRow)
                .where(col(WeekSnapshotRow.id) == row_id)
                .values(snapshot_json=stripped.model_dump_json())
            )
    return changed


PURGES: dict[str, Purge] = {
    "aggregate_points": lambda c, t, d: rows_before(
        c, WeekIncident, WeekIncident.occurred_at, t, d
    ),
    "snapshot_points": _purge_snapshots,
    "patrol_events": lambda c, t, d: rows_before(c, PatrolEventRow, PatrolEventRow.at, t, d),
}


def purge_own_tables(
    engine: Engine, *, now: datetime, retention_days: int, dry_run: bool, run_by: str
) -> dict[str, int]:
    """This service's purges in one transaction, with their audit entry (its daily job)."""
    return purge(
        engine, PURGES, now=now, retention_days=retention_days, dry_run=dry_run, run_by=run_by
    )
