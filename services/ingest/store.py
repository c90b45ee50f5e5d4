"""The ingest service's repository: one transaction per batch, idempotent by design.

A batch is written in bulk. Redelivered entries find their rows already there and only
re-announce them; a reused report_id with other content becomes a conflict row.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.ingest.duplicates import DuplicateFinder, Observation
from services.ingest.models import RejectedSubmission, ReportConflict, StoredReport
from shared.contracts import AcceptedReportV1, RejectedReportV1
from shared.db import insert_ignoring_conflicts
from shared.geo import METRES_PER_DEGREE
from shared.scrub import scrub
from shared.validation import Rejection, ValidReport


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
    # entry id -> the field a rejection names (None: the whole payload), for the log
    rejected_fields: dict[str, str | None] = field(default_factory=dict)
    new: int = 0
    redelivered: int = 0
    conflicts: int = 0


def report_key(organisation: str, report_id: str) -> str:
    return f"{organisation}/{report_id}"


def content_hash(valid: ValidReport) -> str:
    """What a resubmission is compared by (field order is fixed by the contract)."""
    return hashlib.sha256(valid.report.model_dump_json().encode()).hexdigest()


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
            message_id=f"rejected/{sub.entry_id}",
            entry_id=sub.entry_id,
            code=r.code,
            message_sv=r.message_sv,
            message_en=r.message_en,
            payload=sub.payload,
            deliveries=sub.deliveries,
            rejected_at=now,
            field=r.field,
        )
        out.rejected.append(event)
        out.rejected_fields[sub.entry_id] = r.field
        # The stored row is the event, with the field the rejection names as `field_name`.
        rows.append(event.model_dump(exclude={"message_id", "field"}) | {"field_name": r.field})
    if rows:
        session.exec(insert_ignoring_conflicts(engine, RejectedSubmission), params=rows)


def _store_reports(
    session: Session,
    engine: Engine,
    valid: list[Submission],
    now: datetime,
    policy: DuplicatePolicy,
    out: BatchOutcome,
) -> None:
    existing = _existing_rows(session, valid)
    finder = DuplicateFinder(max_distance_m=policy.max_distance_m, window=policy.window)
    finder.add_all(_nearby_observations(session, valid, policy))
    new_rows: list[NewRow] = []
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
        row = _new_row(sub, digest, now)
        # A centroid says which kommun, not where: all of a kommun's police events share
        # one point, so they are never duplicates of each other by place.
        if row.location_precision == "exact":
            observation = _observation(row)
            row.duplicate_of = finder.original_of(observation)
            finder.add(replace(observation, duplicate_of=row.duplicate_of))
        existing[key] = row
        new_rows.append(row)
        out.accepted.append(_accepted_event(row, now))
    if new_rows:
        # Core executemany, not the ORM bulk path: same SQL, a fraction of the Python.
        session.connection().execute(
            insert_ignoring_conflicts(engine, StoredReport), [_as_params(r) for r in new_rows]
        )
    if conflicts:
        session.exec(insert_ignoring_conflicts(engine, ReportConflict), params=conflicts)
    out.new += len(new_rows)
    out.conflicts += len(conflicts)


def _existing_rows(
    session: Session, valid: list[Submission]
) -> dict[tuple[str, str], StoredReport | NewRow]:
    """Stored rows with the batch's idempotency keys: a cheap key-only query first, since
    a batch usually has none; full rows only for redeliveries and conflicts."""
    keys = {(_v(s).report.organisation, _v(s).report.report_id) for s in valid}
    # Both IN lists, organisation first, so the (organisation, report_id) unique index is
    # used: the cost stays with the batch, not with the size of history.
    found = session.connection().execute(
        select(StoredReport.id, StoredReport.organisation, StoredReport.report_id).where(
            col(StoredReport.organisation).in_({k[0] for k in keys}),
            col(StoredReport.report_id).in_({k[1] for k in keys}),
        )
    )
    row_ids = [row_id for row_id, org, rid in found if (org, rid) in keys]
    if not row_ids:
        return {}
    rows = session.exec(select(StoredReport).where(col(StoredReport.id).in_(row_ids)))
    return {(row.organisation, row.report_id): row for row in rows}


def _v(sub: Submission) -> ValidReport:
    assert isinstance(sub.result, ValidReport)
    return sub.result


def _nearby_observations(
    session: Session, valid: list[Submission], policy: DuplicatePolicy
) -> list[Observation]:
    """Stored reports that could be duplicates of anything in the batch (one query): same
    kommun and category, within the window, and within a box around one of the batch's
    points a little wider than `max_distance_m`. Without the boxes every report of the
    kommun in the window was loaded for each batch: at 200 reports/s that grew by 12,000
    rows a minute and was the ingest's main cost (bench/bench_live.py)."""
    times = [_v(s).report.occurred_at for s in valid]
    r = StoredReport
    points = [(_v(s).report.lat, _v(s).report.lon) for s in valid]
    if len(points) > MAX_BOXES:  # one box around them all (a backlog's big batches)
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        near = _box(r, (min(lats), max(lats)), (min(lons), max(lons)), policy)
    else:
        near = or_(*(_box(r, (lat, lat), (lon, lon), policy) for lat, lon in points))
    rows = session.connection().execute(
        sa_select(
            col(r.organisation),
            col(r.report_id),
            col(r.kommun),
            col(r.category),
            col(r.occurred_at),
            col(r.lat),
            col(r.lon),
            col(r.duplicate_of),
        ).where(
            col(r.kommun).in_({_v(s).report.kommun for s in valid}),
            col(r.category).in_({_v(s).report.category for s in valid}),
            col(r.occurred_at) >= min(times) - policy.window,
            col(r.occurred_at) <= max(times) + policy.window,
            col(r.location_precision) == "exact",
            near,
        )
    )
    return [
        Observation(report_key(org, rid), kommun, cat, at, lat, lon, dup)
        for org, rid, kommun, cat, at, lat, lon, dup in rows
    ]


MAX_BOXES = 50  # beyond this many points the OR of boxes costs more than it saves


def _box(
    r: type[StoredReport],
    lats: tuple[float, float],
    lons: tuple[float, float],
    policy: DuplicatePolicy,
) -> Any:
    """Every point within `max_distance_m` of a point in these ranges lies in the box (with
    a margin: the finder measures the great-circle distance; the box only narrows the
    query)."""
    d_lat = 1.5 * max(policy.max_distance_m, 1.0) / METRES_PER_DEGREE
    widest = min(max(abs(lats[0]), abs(lats[1])) + d_lat, 89.0)
    d_lon = d_lat / max(math.cos(math.radians(widest)), 0.01)
    return and_(
        col(r.lat).between(lats[0] - d_lat, lats[1] + d_lat),
        col(r.lon).between(lons[0] - d_lon, lons[1] + d_lon),
    )


def _observation(row: StoredReport | NewRow) -> Observation:
    return Observation(
        key=report_key(row.organisation, row.report_id),
        kommun=row.kommun,
        category=row.category,
        occurred_at=row.occurred_at,
        lat=row.lat,
        lon=row.lon,
        duplicate_of=row.duplicate_of,
    )


@dataclass(slots=True)
class NewRow:
    """A report row about to be inserted (plain data: an ORM object per row cost more
    than the insert itself)."""

    organisation: str
    report_id: str
    kommun: str
    source: str
    category: str
    occurred_at: datetime
    iso_week: str
    area: str
    lat: float
    lon: float
    location_precision: str
    description: str
    description_scrubbed: str
    content_hash: str
    entry_id: str
    received_at: datetime
    duplicate_of: str | None = None


def _new_row(sub: Submission, digest: str, now: datetime) -> NewRow:
    v = _v(sub)
    r = v.report
    return NewRow(
        organisation=r.organisation,
        report_id=r.report_id,
        kommun=r.kommun,
        source=r.source.value,
        category=r.category,
        occurred_at=r.occurred_at,
        iso_week=v.iso_week,
        area=v.area,
        lat=r.lat,
        lon=r.lon,
        location_precision=r.location_precision,
        description=r.description,
        description_scrubbed=scrub(r.description),
        content_hash=digest,
        entry_id=sub.entry_id,
        received_at=now,
    )


def _as_params(row: NewRow) -> dict:
    return {name: getattr(row, name) for name in NewRow.__slots__}


def _conflict_row(sub: Submission, now: datetime) -> dict:
    r = _v(sub).report
    return {
        "organisation": r.organisation,
        "report_id": r.report_id,
        "entry_id": sub.entry_id,
        "payload": sub.payload,
        "received_at": now,
    }


def _accepted_event(row: StoredReport | NewRow, now: datetime) -> AcceptedReportV1:
    # model_validate of a dict: validated, and faster than the keyword constructor.
    return AcceptedReportV1.model_validate(
        {
            # The event id is the report's key: a redelivered event is recognisably the same.
            "message_id": report_key(row.organisation, row.report_id),
            "report_id": row.report_id,
            "organisation": row.organisation,
            "kommun": row.kommun,
            "source": row.source,
            "category": row.category,
            "occurred_at": row.occurred_at,
            "iso_week": row.iso_week,
            "area": row.area,
            "lat": row.lat,
            "lon": row.lon,
            "location_precision": row.location_precision,
            "description": row.description_scrubbed,
            "duplicate_of": row.duplicate_of,
            "accepted_at": now,
        }
    )
