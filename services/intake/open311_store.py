"""The Open311 queries on the intake's own tables: receipts by the spec's filters, and
each receipt's outcome with its time (from the intake's projection of the ingest's
accepted and rejected streams), for `status` and `updated_datetime`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.intake.models import IntakeReceipt, IntakeRejection, IntakeStoredReport
from services.intake.open311_model import MAX_REQUESTS, Request


@dataclass(frozen=True)
class Query:
    kommun: str
    organisation: str | None = None  # only this organisation's receipts
    ids: list[int] | None = None  # overrides every filter below
    codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find(engine: Engine, q: Query) -> list[Request]:
    """The receipts asked for, newest first, with their outcomes; at most MAX_REQUESTS."""
    query = select(IntakeReceipt).where(IntakeReceipt.kommun == q.kommun)
    if q.organisation is not None:
        query = query.where(IntakeReceipt.organisation == q.organisation)
    if q.ids is not None:
        query = query.where(col(IntakeReceipt.id).in_(q.ids))
    else:
        if q.codes:
            query = query.where(col(IntakeReceipt.category).in_(q.codes))
        if q.start is not None:
            query = query.where(col(IntakeReceipt.submitted_at) >= q.start)
        if q.end is not None:
            query = query.where(col(IntakeReceipt.submitted_at) < q.end)
    with Session(engine) as s:
        rows = list(s.exec(query.order_by(col(IntakeReceipt.id).desc())).all())
    found = _with_outcomes(engine, rows)
    if q.ids is None and q.statuses:
        found = [r for r in found if ("open" if r.state == "queued" else "closed") in q.statuses]
    return found[:MAX_REQUESTS]


def _with_outcomes(engine: Engine, rows: list[IntakeReceipt]) -> list[Request]:
    by_org: dict[str, list[str]] = {}
    for r in rows:
        by_org.setdefault(r.organisation, []).append(r.report_id)
    stored: dict[tuple[str, str], datetime] = {}
    with Session(engine) as s:
        for org, report_ids in by_org.items():
            for report_id, at in s.exec(
                select(IntakeStoredReport.report_id, IntakeStoredReport.accepted_at).where(
                    IntakeStoredReport.organisation == org,
                    col(IntakeStoredReport.report_id).in_(report_ids),
                )
            ).all():
                stored[(org, report_id)] = at
        rejected = {
            x.entry_id: x
            for x in s.exec(
                select(IntakeRejection).where(
                    col(IntakeRejection.entry_id).in_([r.entry_id for r in rows])
                )
            ).all()
        }
    found = []
    for r in rows:
        state, updated, reason = "queued", r.submitted_at, ""
        if (r.organisation, r.report_id) in stored:
            state, updated = "stored", stored[(r.organisation, r.report_id)]
        elif r.entry_id in rejected:
            why = rejected[r.entry_id]
            state, updated, reason = "rejected", why.rejected_at, why.message_sv
        found.append(
            Request(
                request_id=r.id or 0,
                category=r.category,
                lat=r.lat,
                lon=r.lon,
                description=r.description_scrubbed,
                requested=_utc(r.submitted_at),
                state=state,
                updated=_utc(updated),
                reason_sv=reason,
            )
        )
    return found


def live_receipts(engine: Engine, kommun: str, start: datetime, end: datetime) -> list[Request]:
    """Every request of the kommun received in [start, end) that was not rejected, for
    counting the public groups (not capped at MAX_REQUESTS: a count must be whole)."""
    query = select(IntakeReceipt).where(
        IntakeReceipt.kommun == kommun,
        col(IntakeReceipt.submitted_at) >= start,
        col(IntakeReceipt.submitted_at) < end,
    )
    with Session(engine) as s:
        rows = list(s.exec(query).all())
    return [r for r in _with_outcomes(engine, rows) if r.state != "rejected"]
