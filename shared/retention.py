"""Retention (GDPR), the shared part: the purge audit table and the one transaction a purge
runs in. What is purged is each service's own business: `services/ingest/retention.py`,
`services/aggregate/retention.py` and `services/tib/retention.py` each name their tables'
purges (raw reports, free text and points older than the retention period go; week counts
and frozen weeks' aggregates stay). A service's daily job purges its own tables;
`lagesbild purge [--dry-run]` (the CLI, a composition root) runs every service's purges in
one transaction. Every run leaves an audit entry (`purge_run`) with what it removed, or
would have removed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, select

# (connection, cut-off, dry run) -> rows removed (or that would be)
Purge = Callable[[Connection, datetime, bool], int]


class PurgeRun(SQLModel, table=True):
    """The audit entry of one retention purge: what it removed (or would have)."""

    __tablename__ = "purge_run"
    id: int | None = Field(default=None, primary_key=True)
    ran_at: datetime
    cutoff: datetime
    dry_run: bool
    run_by: str
    counts_json: str


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)


def rows_before(conn: Connection, model: Any, column: Any, cutoff: datetime, dry_run: bool) -> int:
    """Delete (or, dry, count) the rows of `model` whose `column` is before the cut-off."""
    if dry_run:
        return int(
            conn.execute(
                select(func.count()).select_from(model).where(column < cutoff)
            ).scalar_one()
        )
    return int(conn.execute(delete(model).where(column < cutoff)).rowcount)


def purge(
    engine: Engine,
    purges: Mapping[str, Purge],
    *,
    now: datetime,
    retention_days: int,
    dry_run: bool,
    run_by: str,
) -> dict[str, int]:
    """Run `purges` on what is older than the retention period in one transaction, with
    its audit entry; returns the count per purge."""
    cutoff = cutoff_for(now, retention_days)
    with Session(engine) as session:
        conn = session.connection()
        counts = {name: run(conn, cutoff, dry_run) for name, run in purges.items()}
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


def purge_job(
    engine: Engine, purges: Mapping[str, Purge], *, retention_days: int, run_by: str
) -> Callable[[], Awaitable[dict[str, int]]]:
    """A service's daily purge of its own tables as a scheduler job (run in a thread)."""

    async def run() -> dict[str, int]:
        return await asyncio.to_thread(
            purge,
            engine,
            purges,
            now=datetime.now(UTC),
            retention_days=retention_days,
            dry_run=False,
            run_by=run_by,
        )

    return run
