"""The TiB's tables: writes from its stream consumers and the order endpoints, reads for
the page, the API and the patrol plan. Synchronous; the async callers run them in a thread."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.tib.models import TibDecision, TibLiveReport, TibOrderEvent, TibSnapshot
from shared.contracts import AcceptedReportV1, DecisionV1, PatrolOrderEventV1, WeekSnapshotV1
from shared.db import insert_ignoring_conflicts
from shared.patrols.planning import Seen


def report_row(r: AcceptedReportV1) -> dict[str, Any]:
    # The page never learns who reported: the key is kept only as a hash, for idempotency.
    key = hashlib.sha256(f"{r.organisation}/{r.report_id}".encode()).hexdigest()[:32]
    return {
        "key_hash": key,
        "kommun": r.kommun,
        "category": r.category,
        "source": r.source.value,
        "area": r.area,
        "lat": r.lat,
        "lon": r.lon,
        "location_precision": r.location_precision,
        "description": r.description,
        "duplicate": r.duplicate_of is not None,
        "occurred_at": r.occurred_at,
        "accepted_at": r.accepted_at,
    }


def public(row: dict[str, Any] | TibLiveReport) -> dict[str, Any]:
    """What the page and the JSON endpoint show of a stored report."""
    data = row if isinstance(row, dict) else row.model_dump()
    out = {k: v for k, v in data.items() if k != "key_hash"}
    out["id"] = data["key_hash"]
    for k in ("occurred_at", "accepted_at"):
        out[k] = out[k].isoformat() if isinstance(out[k], datetime) else out[k]
    return out


def save_reports(engine: Engine, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store new reports; returns the rows that were new (a redelivery stores nothing)."""
    if not rows:
        return []
    keys = [row["key_hash"] for row in rows]
    with Session(engine) as s:
        # One query for what is already stored and one multi-row insert for the rest, not a
        # statement per row: the TiB's live push waits for this commit
        # (bench/bench_live.py). One TiB process writes this table (services/tib/consumer.py).
        known = set(
            s.exec(select(TibLiveReport.key_hash).where(col(TibLiveReport.key_hash).in_(keys)))
        )
        new = list({row["key_hash"]: row for row in rows if row["key_hash"] not in known}.values())
        if new:
            s.connection().execute(insert_ignoring_conflicts(engine, TibLiveReport), new)
        s.commit()
    return new


def prune(engine: Engine, before: datetime) -> int:
    with Session(engine) as s:
        result = s.exec(delete(TibLiveReport).where(col(TibLiveReport.occurred_at) < before))
        s.commit()
    return int(result.rowcount or 0)


def reports_since(engine: Engine, kommun: str, since: datetime) -> list[TibLiveReport]:
    query = (
        select(TibLiveReport)
        .where(TibLiveReport.kommun == kommun, col(TibLiveReport.occurred_at) >= since)
        .order_by(col(TibLiveReport.occurred_at))
    )
    with Session(engine) as s:
        return list(s.exec(query).all())


def seen_since(engine: Engine, kommun: str, since: datetime) -> list[Seen]:
    return [
        Seen(r.occurred_at, r.category, r.lat, r.lon, r.area)
        for r in reports_since(engine, kommun, since)
        if not r.duplicate
    ]


def save_snapshot(engine: Engine, snap: WeekSnapshotV1) -> bool:
    """Keep the snapshot if it is the kommun's newest (week, then revision)."""
    with Session(engine) as s:
        row = s.get(TibSnapshot, snap.kommun)
        if row and (row.iso_week, row.revision) >= (snap.iso_week, snap.revision):
            return False
        s.merge(
            TibSnapshot(
                kommun=snap.kommun,
                iso_week=snap.iso_week,
                revision=snap.revision,
                built_at=snap.built_at,
                snapshot_json=snap.model_dump_json(),
            )
        )
        s.commit()
    return True


def latest_snapshot(engine: Engine, kommun: str) -> WeekSnapshotV1 | None:
    with Session(engine) as s:
        row = s.get(TibSnapshot, kommun)
    return WeekSnapshotV1.model_validate_json(row.snapshot_json) if row else None


def save_decision(engine: Engine, d: DecisionV1) -> None:
    with Session(engine) as s:
        row = s.get(TibDecision, d.decision_id)
        if row and row.decided_at > d.decided_at:
            return  # an older event redelivered after a newer one
        s.merge(
            TibDecision(
                decision_id=d.decision_id,
                kommun=d.kommun,
                status=d.status,
                target=d.target,
                decided_at=d.decided_at,
                decision_json=d.model_dump_json(),
            )
        )
        s.commit()


def open_decisions(engine: Engine, kommun: str) -> list[DecisionV1]:
    query = select(TibDecision).where(TibDecision.kommun == kommun, TibDecision.status == "open")
    with Session(engine) as s:
        return [DecisionV1.model_validate_json(r.decision_json) for r in s.exec(query).all()]


def append_event(engine: Engine, event: PatrolOrderEventV1) -> None:
    with Session(engine) as s:
        s.add(
            TibOrderEvent(
                message_id=event.message_id,
                order_id=event.order_id,
                kommun=event.kommun,
                kind=event.kind,
                at=event.at,
                by_organisation=event.by,
                event_json=event.model_dump_json(),
            )
        )
        s.commit()


def order_events(
    engine: Engine, kommun: str, order_id: str | None = None
) -> list[PatrolOrderEventV1]:
    query = select(TibOrderEvent).where(TibOrderEvent.kommun == kommun)
    if order_id is not None:
        query = query.where(TibOrderEvent.order_id == order_id)
    with Session(engine) as s:
        rows = s.exec(query.order_by(col(TibOrderEvent.id))).all()
    return [PatrolOrderEventV1.model_validate_json(r.event_json) for r in rows]


def remove_event(engine: Engine, message_id: str) -> None:
    """Undo `append_event` when the event could not be put on the stream."""
    with Session(engine) as s:
        s.exec(delete(TibOrderEvent).where(col(TibOrderEvent.message_id) == message_id))
        s.commit()
