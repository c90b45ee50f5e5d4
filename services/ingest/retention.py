"""The ingest's part of the retention purge: raw reports (with their original free text and
points), rejected submissions and conflicts older than the retention period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from services.ingest.models import RejectedSubmission, ReportConflict, StoredReport
from shared.retention import Purge, purge, rows_before

PURGES: dict[str, Purge] = {
    "reports": lambda c, t, d: rows_before(c, StoredReport, StoredReport.occurred_at, t, d),
    "rejected_submissions": lambda c, t, d: rows_before(
        c, RejectedSubmission, RejectedSubmission.rejected_at, t, d
    ),
    "conflicts": lambda c, t, d: rows_before(c, ReportConflict, ReportConflict.received_at, t, d),
}


def purge_own_tables(
    engine: Engine, *, now: datetime, retention_days: int, dry_run: bool, run_by: str
) -> dict[str, int]:
    """This service's purges in one transaction, with their audit entry (its daily job)."""
    return purge(
        engine, PURGES, now=now, retention_days=retention_days, dry_run=dry_run, run_by=run_by
    )
