"""The aggregate service's repository: its projection of accepted reports and its snapshots."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.aggregate.logic import Incident
from shared.contracts import AcceptedReportV1, NollrapportV1, WeekSnapshotV1
from shared.db import insert_ignoring_conflicts
from shared.models import NollrapportRow, WeekCount, WeekIncident, WeekSnapshotRow


def add_incidents(engine: Engine, events: list[AcceptedReportV1]) -> int:
    """Project accepted reports and count them; returns how many were new.

    Idempotent: a redelivered event finds its row, is not RETURNed, and so is not counted
    again. Projection and counts change in one transaction.
    """
    rows = [_incident_row(e) for e in events]
    if not rows:
        return 0
    with Session(engine) as session:
        conn = session.connection()
        inserted = conn.execute(
            insert_ignoring_conflicts(engine, WeekIncident).returning(
                WeekIncident.kommun,
                WeekIncident.iso_week,
                WeekIncident.area,
                WeekIncident.category,
                WeekIncident.duplicate_of,
            ),
            rows,
        ).all()
        counted = Counter(
            (k, w, a, c) for k, w, a, c, duplicate_of in inserted if duplicate_of is None
        )
        if counted:
            conn.execute(
                _increment_counts(engine),
                [
                    {"kommun": k, "iso_week": w, "area": a, "category": c, "count": n}
                    for (k, w, a, c), n in counted.items()
                ],
            )
        session.commit()
    return len(inserted)


def _incident_row(e: AcceptedReportV1) -> dict[str, object]:
    return {
        "key": f"{e.organisation}/{e.report_id}",
        "kommun": e.kommun,
        "iso_week": e.iso_week,
        "area": e.area,
        "category": e.category,
        "source": e.source.value,
        "occurred_at": e.occurred_at,
        "lat": e.lat,
        "lon": e.lon,
        "location_precision": e.location_precision,
        "description": e.description,
        "duplicate_of": e.duplicate_of,
    }


def _increment_counts(engine: Engine) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(WeekCount)
    return stmt.on_conflict_do_update(
        index_elements=["kommun", "iso_week", "area", "category"],
        set_={"count": WeekCount.count + stmt.excluded.count},
    )


def week_counts(
    engine: Engine, kommun: str, weeks: list[str]
) -> dict[str, Counter[tuple[str, str]]]:
    """iso_week -> (area, category) -> count, for the given weeks that have any data."""
    with Session(engine) as session:
        rows = session.exec(
            select(WeekCount).where(WeekCount.kommun == kommun, col(WeekCount.iso_week).in_(weeks))
        ).all()
    result: dict[str, Counter[tuple[str, str]]] = {}
    for r in rows:
        result.setdefault(r.iso_week, Counter())[(r.area, r.category)] += r.count
    return result


def add_nollrapporter(engine: Engine, events: list[NollrapportV1]) -> None:
    rows = [
        {
            "message_id": e.message_id,
            "kommun": e.kommun,
            "iso_week": e.iso_week,
            "organisation": e.organisation,
            "source": e.source.value,
            "area": e.area,
            "submitted_at": e.submitted_at,
        }
        for e in events
    ]
    if rows:
        with Session(engine) as session:
            session.connection().execute(insert_ignoring_conflicts(engine, NollrapportRow), rows)
            session.commit()


def week_nollrapporter(engine: Engine, kommun: str, iso_week: str) -> list[tuple[str, str | None]]:
    """(organisation, area or None for the whole kommun) that reported "nothing" this week."""
    n = NollrapportRow
    with Session(engine) as session:
        rows = session.connection().execute(
            select(n.organisation, n.area).where(n.kommun == kommun, n.iso_week == iso_week)
        )
        return sorted({(org, area) for org, area in rows}, key=lambda r: (r[0], r[1] or ""))


def week_incidents(engine: Engine, kommun: str, iso_week: str) -> list[Incident]:
    """The week's projected reports, read through the (kommun, iso_week) index: the cost
    follows the week's size, not the history's."""
    w = WeekIncident
    columns = (
        w.key,
        w.area,
        w.category,
        w.source,
        w.occurred_at,
        w.lat,
        w.lon,
        w.location_precision,
        w.description,
        w.duplicate_of,
    )
    with Session(engine) as session:
        rows = session.connection().execute(
            select(*columns).where(w.kommun == kommun, w.iso_week == iso_week)
        )
        return [Incident(*row) for row in rows]


def weeks_with_data(engine: Engine, kommun: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(WeekIncident.iso_week).where(WeekIncident.kommun == kommun).distinct()
        ).all()
    return sorted(rows)


def latest_snapshot(
    engine: Engine, kommun: str, iso_week: str, revision: int | None = None
) -> WeekSnapshotV1 | None:
    """The week's newest revision, or the given one (earlier revisions stay readable)."""
    query = select(WeekSnapshotRow).where(
        WeekSnapshotRow.kommun == kommun, WeekSnapshotRow.iso_week == iso_week
    )
    if revision is not None:
        query = query.where(WeekSnapshotRow.revision == revision)
    with Session(engine) as session:
        row = session.exec(query.order_by(col(WeekSnapshotRow.revision).desc()).limit(1)).first()
    return WeekSnapshotV1.model_validate_json(row.snapshot_json) if row else None


def frozen_weeks(engine: Engine, kommun: str, weeks: set[str]) -> set[str]:
    """Which of `weeks` already have a snapshot (so a late report means a new revision)."""
    if not weeks:
        return set()
    with Session(engine) as session:
        rows = session.exec(
            select(WeekSnapshotRow.iso_week)
            .where(WeekSnapshotRow.kommun == kommun, col(WeekSnapshotRow.iso_week).in_(weeks))
            .distinct()
        ).all()
    return set(rows)


def save_snapshot(engine: Engine, snapshot: WeekSnapshotV1) -> None:
    with Session(engine) as session:
        session.add(
            WeekSnapshotRow(
                kommun=snapshot.kommun,
                iso_week=snapshot.iso_week,
                revision=snapshot.revision,
                content_hash=snapshot.content_hash,
                built_at=snapshot.built_at,
                snapshot_json=snapshot.model_dump_json(),
            )
        )
        session.commit()


def snapshot_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(WeekSnapshotRow)).one())
