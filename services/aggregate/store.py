"""The aggregate service's repository: its projection of accepted reports and its snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.aggregate.logic import Incident
from shared.contracts import AcceptedReportV1, NollrapportV1, WeekSnapshotV1
from shared.db import insert_ignoring_conflicts
from shared.models import (
    NollrapportRow,
    WeekCellCount,
    WeekCount,
    WeekIncident,
    WeekSnapshotRow,
)

CellOf = Callable[[str, float, float], tuple[int, int] | None]  # (kommun, lat, lon) -> cell


def add_incidents(
    engine: Engine, events: list[AcceptedReportV1], cell_of: CellOf | None = None
) -> int:
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
                WeekIncident.lat,
                WeekIncident.lon,
                WeekIncident.location_precision,
            ),
            rows,
        ).all()
        counted = Counter((k, w, a, c) for k, w, a, c, dup, *_ in inserted if dup is None)
        if counted:
            conn.execute(
                _increment(engine, WeekCount, ["kommun", "iso_week", "area", "category"]),
                [
                    {"kommun": k, "iso_week": w, "area": a, "category": c, "count": n}
                    for (k, w, a, c), n in counted.items()
                ],
            )
        if cell_of is not None:
            _count_cells(engine, conn, inserted, cell_of)
        session.commit()
    return len(inserted)


def _count_cells(engine: Engine, conn: Any, inserted: Sequence[Any], cell_of: CellOf) -> None:
    cells: Counter[tuple[str, str, int, int]] = Counter()
    for kommun, week, _area, _cat, dup, lat, lon, precision in inserted:
        cell = cell_of(kommun, lat, lon) if dup is None and precision == "exact" else None
        if cell is not None:
            cells[(kommun, week, *cell)] += 1
    if cells:
        conn.execute(
            _increment(engine, WeekCellCount, ["kommun", "iso_week", "cell_x", "cell_y"]),
            [
                {"kommun": k, "iso_week": w, "cell_x": x, "cell_y": y, "count": n}
                for (k, w, x, y), n in cells.items()
            ],
        )


def cell_counts(
    engine: Engine, kommun: str, weeks: list[str], cells: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Reports per grid cell summed over `weeks`, for the given cells only."""
    wanted = set(cells)
    if not wanted or not weeks:
        return {}
    c = WeekCellCount
    xs = {x for x, _ in wanted}
    with Session(engine) as session:
        rows = session.connection().execute(
            select(c.cell_x, c.cell_y, func.sum(c.count))
            .where(c.kommun == kommun, col(c.iso_week).in_(weeks), col(c.cell_x).in_(xs))
            .group_by(c.cell_x, c.cell_y)
        )
        return {(x, y): int(n) for x, y, n in rows if (x, y) in wanted}


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


def _increment(engine: Engine, table: Any, key: list[str]) -> Any:
    """Upsert that adds to `count`: increments commute, so batches may arrive in any order."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=key, set_={"count": table.count + stmt.excluded.count}
    )


def week_counts(
    engine: Engine, kommun: str, weeks: list[str]
) -> dict[str, Counter[tuple[str, str]]]:
    """iso_week -> (area, category) -> count, for the given weeks that have any data."""
    c = WeekCount
    with Session(engine) as session:
        rows = session.connection().execute(
            select(c.iso_week, c.area, c.category, c.count).where(
                c.kommun == kommun, col(c.iso_week).in_(weeks)
            )
        )
        result: dict[str, Counter[tuple[str, str]]] = {}
        for week, area, category, count in rows:
            result.setdefault(week, Counter())[(area, category)] += count
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


_INCIDENT_COLUMNS = (
    WeekIncident.key,
    WeekIncident.area,
    WeekIncident.category,
    WeekIncident.source,
    WeekIncident.occurred_at,
    WeekIncident.lat,
    WeekIncident.lon,
    WeekIncident.location_precision,
    WeekIncident.description,
    WeekIncident.duplicate_of,
)


def week_incidents(engine: Engine, kommun: str, iso_week: str) -> list[Incident]:
    """The week's projected reports, read through the (kommun, iso_week) index: the cost
    follows the week's size, not the history's."""
    w = WeekIncident
    with Session(engine) as session:
        rows = session.connection().execute(
            select(*_INCIDENT_COLUMNS).where(w.kommun == kommun, w.iso_week == iso_week)
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


def last_built(engine: Engine, kommun: str, weeks: set[str]) -> dict[str, datetime]:
    """When each of `weeks` that has a snapshot got its newest revision."""
    if not weeks:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(WeekSnapshotRow.iso_week, func.max(WeekSnapshotRow.built_at))
            .where(WeekSnapshotRow.kommun == kommun, col(WeekSnapshotRow.iso_week).in_(weeks))
            .group_by(WeekSnapshotRow.iso_week)
        ).all()
    return {week: built_at for week, built_at in rows}


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
