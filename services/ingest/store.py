"""The ingest service's repository: one transaction per batch, idempotent by design.

A batch is written in bulk. Redelivered entries find their rows already there and only
re-announce them; a reused report_id with other content becomes a conflict row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import tuple_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.ingest.duplicates import Observation, find_original
from services.ingest.logic import Rejection, ValidReport
from shared.contracts import AcceptedReportV1, RejectedReportV1
from shared.db import insert_ignoring_conflicts
from shared.models import RejectedSubmission, ReportConflict, StoredReport
from shared.scrub import scrub


@dataclass(frozen=True)
class Submission:
    entry_id: str
    payload: str
    result: ValidReport | Rejection
    deliveries: int = 1


@dataclass
class BatchOutcome:
    accepted: list[AcceptedReportV1] = field(default_factory=list)
    rejected: list[RejectedReportV1] = field(default_factory=list)
    new: int = 0
    redelivered: int = 0
    conflicts: int = 0


def report_key(organisation: str, report_id: str) -> str:
    return f"{organisation}/{report_id}"


def content_hash(valid: ValidReport) -> str:
    body = valid.report.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class DuplicatePolicy:
    max_distance_m: float = 75.0
    window: timedelta = timedelta(minutes=60)


def store_batch(
    engine: Engine, submissions: list[Submission], *, now: datetime, policy: DuplicatePolicy
) -> BatchOutcome:
    outcome = BatchOutcome()
    valid = [s for s in submissions if isinstance(s.result, ValidReport)]
    with Session(engine) as session:
        _store_rejections(session, engine, submissions, now, outcome)
        if valid:
            _store_reports(session, engine, valid, now, policy, outcome)
        session.commit()
    return outcome


def _store_rejections(
    session: Session, engine: Engine, subs: list[Submission], now: datetime, out: BatchOutcome
) -> None:
    rows = []
    for sub in subs:
        if not isinstance(sub.result, Rejection):
            continue
        r = sub.result
        event = RejectedReportV1(
            entry_id=sub.entry_id, code=r.code, message_sv=r.message_sv, message_en=r.message_en,
            payload=sub.payload, deliveries=sub.deliveries, rejected_at=now,
        )  # fmt: skip
        out.rejected.append(event)
        rows.append({
            "entry_id": sub.entry_id, "code": r.code, "field_name": r.field,
            "message_sv": r.message_sv, "message_en": r.message_en, "payload": sub.payload,
            "deliveries": sub.deliveries, "rejected_at": now,
        })  # fmt: skip
    if rows:
        session.exec(insert_ignoring_conflicts(engine, RejectedSubmission), params=rows)  # type: ignore[call-overload]


def _store_reports(
    session: Session,
    engine: Engine,
    valid: list[Submission],
    now: datetime,
    policy: DuplicatePolicy,
    out: BatchOutcome,
) -> None:
    keys = {(_v(s).report.organisation, _v(s).report.report_id) for s in valid}
    existing = {
        (row.organisation, row.report_id): row
        for row in session.exec(
            select(StoredReport).where(
                tuple_(StoredReport.organisation, StoredReport.report_id).in_(keys)
            )
        )
    }
    earlier = _nearby_observations(session, valid, policy)
    new_rows: list[dict] = []
    conflicts: list[dict] = []
    for sub in valid:
        v = _v(sub)
        key = (v.report.organisation, v.report.report_id)
        digest = content_hash(v)
        if key in existing:
            row = existing[key]
            if row.content_hash == digest:
                out.redelivered += 1
                out.accepted.append(_accepted_event(row, now))
            else:
                conflicts.append(_conflict_row(sub, now))
            continue
        row = _new_row(sub, digest, now, earlier, policy)
        existing[key] = row
        earlier.append(_observation(row))
        new_rows.append(row.model_dump(exclude={"id"}))
        out.accepted.append(_accepted_event(row, now))
    if new_rows:
        session.exec(insert_ignoring_conflicts(engine, StoredReport), params=new_rows)  # type: ignore[call-overload]
    if conflicts:
        session.exec(insert_ignoring_conflicts(engine, ReportConflict), params=conflicts)  # type: ignore[call-overload]
    out.new += len(new_rows)
    out.conflicts += len(conflicts)


def _v(sub: Submission) -> ValidReport:
    assert isinstance(sub.result, ValidReport)
    return sub.result


def _nearby_observations(
    session: Session, valid: list[Submission], policy: DuplicatePolicy
) -> list[Observation]:
    """Stored reports that could be duplicates of anything in the batch (one query)."""
    times = [_v(s).report.occurred_at for s in valid]
    categories = {_v(s).report.category for s in valid}
    kommuner = {_v(s).report.kommun for s in valid}
    rows = session.exec(
        select(StoredReport).where(
            StoredReport.kommun.in_(kommuner),  # type: ignore[attr-defined]
            StoredReport.category.in_(categories),  # type: ignore[attr-defined]
            StoredReport.occurred_at >= min(times) - policy.window,
            StoredReport.occurred_at <= max(times) + policy.window,
        )
    )
    return [_observation(r) for r in rows]


def _observation(row: StoredReport) -> Observation:
    return Observation(
        key=report_key(row.organisation, row.report_id), kommun=row.kommun,
        category=row.category, occurred_at=row.occurred_at, lat=row.lat, lon=row.lon,
        duplicate_of=row.duplicate_of,
    )  # fmt: skip


def _new_row(
    sub: Submission,
    digest: str,
    now: datetime,
    earlier: list[Observation],
    policy: DuplicatePolicy,
) -> StoredReport:
    v = _v(sub)
    r = v.report
    row = StoredReport(
        organisation=r.organisation, report_id=r.report_id, kommun=r.kommun,
        source=r.source.value, category=r.category, occurred_at=r.occurred_at,
        iso_week=v.iso_week, area=v.area, lat=r.lat, lon=r.lon,
        location_precision=r.location_precision, description=r.description,
        description_scrubbed=scrub(r.description), content_hash=digest,
        entry_id=sub.entry_id, received_at=now,
    )  # fmt: skip
    row.duplicate_of = find_original(
        _observation(row), earlier, max_distance_m=policy.max_distance_m, window=policy.window
    )
    return row


def _conflict_row(sub: Submission, now: datetime) -> dict:
    r = _v(sub).report
    return {
        "organisation": r.organisation, "report_id": r.report_id, "entry_id": sub.entry_id,
        "payload": sub.payload, "received_at": now,
    }  # fmt: skip


def _accepted_event(row: StoredReport, now: datetime) -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=row.report_id, organisation=row.organisation, kommun=row.kommun,
        source=row.source, category=row.category, occurred_at=row.occurred_at,  # type: ignore[arg-type]
        iso_week=row.iso_week, area=row.area, lat=row.lat, lon=row.lon,
        location_precision=row.location_precision,  # type: ignore[arg-type]
        description=row.description_scrubbed, duplicate_of=row.duplicate_of, accepted_at=now,
    )  # fmt: skip
