"""The TiB's part of the retention purge: its copy of the patrol orders' events, which holds
the guards' notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from services.tib.models import TibOrderEvent
from shared.retention import Purge, purge, rows_before

PURGES: dict[str, Purge] = {
    "tib_order_events": lambda c, t, d: rows_before(c, TibOrderEvent, TibOrderEvent.at, t, d),
}


def purge_own_tables(
    engine: Engine, *, now: datetime, retention_days: int, dry_run: bool, run_by: str
) -> dict[str, int]:
    """This service's purges in one transaction, with their audit entry (its daily job)."""
    return purge(
        engine, PURGES, now=now, retention_days=retention_days, dry_run=dry_run, run_by=run_by
    )
