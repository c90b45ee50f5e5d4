"""The aggregate's copy of the TiB patrol orders' events, and the guards' visits from them.

Only what the lägesbild needs is kept: the guards' free-text notes stay with the TiB
(they may name people); an outcome keeps only whether an incident report was filed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.aggregate.models import PatrolEventRow
from shared.contracts import PatrolOrderEventV1
from shared.db import insert_ignoring_conflicts
from shared.patrol_orders import Visit, fold, visits

# A guard shift is hours; a "visit" checked in for longer is a forgotten check-out, and
# is not looked for further back than this.
LONGEST_VISIT = timedelta(hours=24)


def add_events(engine: Engine, events: Sequence[PatrolOrderEventV1]) -> list[PatrolOrderEventV1]:
    """Store each event once (a redelivery stores nothing); returns the new ones."""
    new = []
    with Session(engine) as session:
        for event in events:
            kept = event.model_copy(update={"note": ""})
            row = {
                "message_id": event.message_id,
                "order_id": event.order_id,
                "kommun": event.kommun,
                "kind": event.kind,
                "at": event.at,
                "event_json": kept.model_dump_json(),
            }
            # RETURNING, not rowcount: PostgreSQL reports -1 for an insert with an id default.
            insert = insert_ignoring_conflicts(engine, PatrolEventRow).values(**row)
            if session.exec(insert.returning(col(PatrolEventRow.id))).first() is not None:
                new.append(event)
        session.commit()
    return new


def order_visits(engine: Engine, order_ids: set[str]) -> list[Visit]:
    """The completed visits of these orders, folded from all their events."""
    if not order_ids:
        return []
    with Session(engine) as session:
        rows = session.exec(
            select(PatrolEventRow.event_json)
            .where(col(PatrolEventRow.order_id).in_(sorted(order_ids)))
            .order_by(col(PatrolEventRow.at), col(PatrolEventRow.id))
        ).all()
    return visits(fold(PatrolOrderEventV1.model_validate_json(text) for text in rows).values())


def visits_between(engine: Engine, kommun: str, start: datetime, end: datetime) -> list[Visit]:
    """Visits that overlap [start, end): checked in before the end, checked out after the
    start. Read through the (kommun, kind, at) index within the period widened by the
    longest visit, so the cost is bounded by the period, not by history."""

    def orders(kind: str, *where: ColumnElement[bool]) -> set[str]:
        query = select(PatrolEventRow.order_id).where(
            PatrolEventRow.kommun == kommun, PatrolEventRow.kind == kind, *where
        )
        with Session(engine) as session:
            return set(session.exec(query).all())

    at = col(PatrolEventRow.at)
    ids = orders("checked_in", at >= start - LONGEST_VISIT, at < end) & orders(
        "checked_out", at > start, at <= end + LONGEST_VISIT
    )
    return [v for v in order_visits(engine, ids) if v.start < end and v.end > start]
