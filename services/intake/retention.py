"""The intake's part of the retention purge: the rejection texts of its outcome projection
(a rejection's message may quote what was sent), and the reports' photos (files under
`<data dir>/photos/`, shared/photos.py) by their report's time, as the ingest purges the
reports. Receipts hold no free text but the scrubbed one and stay as long as the reports
they answer for."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from services.intake.models import IntakeRejection
from shared.photos import PhotoStore
from shared.retention import Purge, purge, rows_before

log = logging.getLogger("lagesbild.intake")

PURGES: dict[str, Purge] = {
    "intake_rejections": lambda c, t, d: rows_before(
        c, IntakeRejection, IntakeRejection.rejected_at, t, d
    ),
}


def photo_purges(data_dir: Path) -> dict[str, Purge]:
    """The photos' purge (files: the transaction only carries its count to the audit)."""
    store = PhotoStore.under(data_dir)
    return {"report_photos": lambda c, t, d: store.purge(t, dry_run=d)}


def purge_own_tables(
    engine: Engine,
    *,
    now: datetime,
    retention_days: int,
    dry_run: bool,
    run_by: str,
    data_dir: Path | None = None,
) -> dict[str, int]:
    """This service's purges in one transaction, with their audit entry (the photos too
    when the data directory is given)."""
    purges = {**PURGES, **(photo_purges(data_dir) if data_dir is not None else {})}
    return purge(
        engine, purges, now=now, retention_days=retention_days, dry_run=dry_run, run_by=run_by
    )


async def purge_daily(
    engine: Engine, retention_days: int, interval_s: float = 86_400, data_dir: Path | None = None
) -> None:
    """The intake has no scheduler: it purges once at start and then daily."""
    while True:
        try:
            await asyncio.to_thread(
                purge_own_tables,
                engine,
                now=datetime.now(UTC),
                retention_days=retention_days,
                dry_run=False,
                run_by="intake",
                data_dir=data_dir,
            )
        except Exception:
            log.exception("the intake's purge failed; again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
