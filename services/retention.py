"""Retention (GDPR): raw reports, free text and incident points older than the retention
period are deleted; week counts and frozen weeks' aggregates are kept.

Each service's tables are purged by the same rules; `lagesbild purge [--dry-run]` runs
it for an operator, and the aggregate service runs it daily. Every run leaves an audit
entry (`purge_run`) with what it removed, or would have removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from shared.contracts import WeekSnapshotV1
from shared.models import (
    PatrolEventRow,
    PurgeRun,
    RejectedSubmission,
    ReportConflict,
    StoredReport,
    WeekIncident,
    WeekSnapshotRow,
)
from shared.models_tib import TibOrderEvent
from shared.weeks import iso_week_of


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)


def _rows_before(conn: Connection, model: Any, column: Any, cutoff: datetime, dry_run: bool) -> int:
    if dry_run:
        return int(
            conn.execute(
                select(func.count()).select_from(model).where(column < cutoff)
            ).scalar_one()
        )
    return int(conn.execute(delete(model).where(column < cutoff)).rowcount)


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


PURGES: dict[str, Callable[[Connection, datetime, bool], int]] = {
    "reports": lambda c, t, d: _rows_before(c, StoredReport, StoredReport.occurred_at, t, d),
    "rejected_submissions": lambda c, t, d: _rows_before(
        c, RejectedSubmission, RejectedSubmission.rejected_at, t, d
    ),
    "conflicts": lambda c, t, d: _rows_before(c, ReportConflict, ReportConflict.received_at, t, d),
    "aggregate_points": lambda c, t, d: _rows_before(
        c, WeekIncident, WeekIncident.occurred_at, t, d
    ),
    "snapshot_points": _purge_snapshots,
    "patrol_events": lambda c, t, d: _rows_before(c, PatrolEventRow, PatrolEventRow.at, t, d),
    # The TiB's own copy holds the guards' notes; the operator's purge removes it too.
    "tib_order_events": lambda c, t, d: _rows_before(c, TibOrderEvent, TibOrderEvent.at, t, d),
}


# Each service purges only the tables it owns; the operator command purges all.
INGEST_PARTS = ("reports", "rejected_submissions", "conflicts")
AGGREGATE_PARTS = ("aggregate_points", "snapshot_points", "patrol_events")


def purge(
    engine: Engine,
    *,
    now: datetime,
    retention_days: int,
    dry_run: bool,
    run_by: str,
    parts: tuple[str, ...] = tuple(PURGES),
) -> dict[str, int]:
    """Purge what is older than the retention period in one transaction; returns counts."""
    cutoff = cutoff_for(now, retention_days)
    with Session(engine) as session:
        conn = session.connection()
        counts = {name: PURGES[name](conn, cutoff, dry_run) for name in parts}
        session.add(
            PurgeRun(
                ran_at=now,
                cutoff=cutoff,
                dry_run=dry_run,
                run_by=run_by,
                counts_json=json.dumps(counts),
            )
        )
        session.commit()
    return counts
