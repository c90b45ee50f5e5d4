"""What became of the reports the intake published: stored, or rejected with which reason.

The intake's own projection of the ingest's outcome streams (`intake_stored_report` from
lagesbild.reports.accepted.v1, `intake_rejection` from lagesbild.reports.rejected.v1),
filled by its stream handlers (`Outcomes`, run in the app's lifespan) and read by the
status endpoints. Nothing of the ingest's tables is read. A status is "queued" until the
outcome has arrived on the stream (normally well within a second of the ingest's commit).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.intake.models import IntakeRejection, IntakeStoredReport
from shared.contracts import (
    ACCEPTED_STREAM,
    INTAKE_GROUP,
    REJECTED_STREAM,
    AcceptedReportV1,
    RejectedReportV1,
)
from shared.db import insert_ignoring_conflicts
from shared.streams import Handler, RawEntry, valid_messages


def stored_report_ids(engine: Engine, organisation: str, report_ids: Sequence[str]) -> set[str]:
    """Which of the organisation's report ids the ingest has stored."""
    query = select(IntakeStoredReport.report_id).where(
        IntakeStoredReport.organisation == organisation,
        col(IntakeStoredReport.report_id).in_(list(report_ids)),
    )
    with Session(engine) as s:
        return set(s.exec(query).all())


def rejections(
    engine: Engine, entry_ids: Sequence[str]
) -> dict[str, tuple[str, str, str, str | None]]:
    """entry id -> outcome, of the entries the ingest rejected."""
    query = select(IntakeRejection).where(col(IntakeRejection.entry_id).in_(list(entry_ids)))
    with Session(engine) as s:
        return {
            r.entry_id: (r.code, r.message_sv, r.message_en, r.field_name)
            for r in s.exec(query).all()
        }


def save_stored(engine: Engine, events: Sequence[AcceptedReportV1]) -> None:
    """Note accepted reports (a redelivered event changes nothing)."""
    rows = [
        {"organisation": e.organisation, "report_id": e.report_id, "accepted_at": e.accepted_at}
        for e in events
    ]
    if rows:
        with Session(engine) as s:
            s.exec(insert_ignoring_conflicts(engine, IntakeStoredReport), params=rows)
            s.commit()


def save_rejections(engine: Engine, events: Sequence[RejectedReportV1]) -> None:
    """Note rejections by entry id (no payload: the ingest keeps that, restricted)."""
    rows = [
        {
            "entry_id": e.entry_id,
            "code": e.code,
            "field_name": e.field,
            "message_sv": e.message_sv,
            "message_en": e.message_en,
            "rejected_at": e.rejected_at,
        }
        for e in events
    ]
    if rows:
        with Session(engine) as s:
            s.exec(insert_ignoring_conflicts(engine, IntakeRejection), params=rows)
            s.commit()


class Outcomes:
    """The intake's stream handlers (their names are the stream table's)."""

    def __init__(self, engine: Engine, redis: Redis) -> None:
        self.engine, self.redis = engine, redis

    def handlers(self) -> dict[str, Handler]:
        return {
            "when_reports_are_accepted_mark_them_stored": self.settle_accepted,
            "when_reports_are_rejected_note_why": self.settle_rejected,
        }

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        events = await valid_messages(
            self.redis, ACCEPTED_STREAM, INTAKE_GROUP, entries, AcceptedReportV1
        )
        await anyio.to_thread.run_sync(save_stored, self.engine, events)

    async def settle_rejected(self, entries: list[RawEntry]) -> None:
        events = await valid_messages(
            self.redis, REJECTED_STREAM, INTAKE_GROUP, entries, RejectedReportV1
        )
        await anyio.to_thread.run_sync(save_rejections, self.engine, events)
