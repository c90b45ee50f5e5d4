"""The aggregate service's repository: its projection of accepted reports and its snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.aggregate.logic import Incident
from services.aggregate.models import (
    NollrapportRow,
    WeekCount,
    WeekGridCellCount,
    WeekIncident,
    WeekSnapshotRow,
)
from shared.contracts import AcceptedReportV1, NollrapportV1, WeekSnapshotV1
from shared.db import insert_ignoring_conflicts
from shared.weeks import STOCKHOLM, parse_week

GridCellOf = Callable[
    [str, float, float], tuple[int, int] | None
]  # (kommun, lat, lon) -> 250 m grid cell


def add_incidents(
    engine: Engine, events: list[AcceptedReportV1], grid_cell_of: GridCellOf | None = None
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
        if grid_cell_of is not None:
            _count_grid_cells(engine, conn, inserted, grid_cell_of)
        session.commit()
    return len(inserted)


def _count_grid_cells(
    engine: Engine, conn: Any, inserted: Sequence[Any], grid_cell_of: GridCellOf
) -> None:
    cells: Counter[tuple[str, str, int, int]] = Counter()
    for kommun, week, _area, _cat, dup, lat, lon, precision in inserted:
        cell = grid_cell_of(kommun, lat, lon) if dup is None and precision == "exact" else None
        if cell is not None:
            cells[(kommun, week, *cell)] += 1
    if cells:
        conn.execute(
            _increment(engine, WeekGridCellCount, ["kommun", "iso_week", "cell_x", "cell_y"]),
            [
                {"kommun": k, "iso_week": w, "cell_x": x, "cell_y": y, "count": n}
                for (k, w, x, y), n in cells.items()
            ],
        )


def grid_cell_counts(
    engine: Engine, kommun: str, weeks: list[str], cells: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Reports per grid cell summed over `weeks`, for the given cells only."""
    wanted = set(cells)
    if not wanted or not weeks:
        return {}
    c = WeekGridCellCount
    xs = {x for x, _ in wanted}
    with Session(engine) as session:
        rows = session.connection().execute(
            select(c.cell_x, c.cell_y, func.sum(c.count))
            .where(c.kommun == kommun, col(c.iso_week).in_(weeks), col(c.cell_x).in_(xs))
            .group_by(col(c.cell_x), col(c.cell_y))
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
    col(WeekIncident.key),
    col(WeekIncident.area),
    col(WeekIncident.category),
    col(WeekIncident.source),
    col(WeekIncident.occurred_at),
    col(WeekIncident.lat),
    col(WeekIncident.lon),
    col(WeekIncident.location_precision),
    col(WeekIncident.description),
    col(WeekIncident.duplicate_of),
)


def week_incidents(engine: Engine, kommun: str, iso_week: str) -> list[Incident]:
    """The week's projected reports, read through the (kommun, iso_week) index: the cost
    follows the week's size, not the history's."""
    w = WeekIncident
    with Session(engine) as session:
        rows = session.connection().execute(
            sa_select(*_INCIDENT_COLUMNS).where(
                col(w.kommun) == kommun, col(w.iso_week) == iso_week
            )
        )
        return [Incident(**row._mapping) for row in rows]


def first_report_day(engine: Engine, kommun: str) -> date | None:
    """The kommun's first day with a stored report (Stockholm), for `shared.counting`: the
    earliest kept report, or the Monday of the earliest counted week when the retention
    purge has removed the reports before it (the counts stay)."""
    with Session(engine) as session:
        first = (
            session.connection()
            .execute(
                sa_select(col(WeekIncident.occurred_at))
                .where(col(WeekIncident.kommun) == kommun)
                .order_by(col(WeekIncident.occurred_at))
                .limit(1)
            )
            .scalar()
        )
        first_week = session.exec(
            select(func.min(WeekCount.iso_week)).where(WeekCount.kommun == kommun)
        ).one()
    day = None
    if first is not None:
        moment = first if first.tzinfo else first.replace(tzinfo=UTC)
        day = moment.astimezone(STOCKHOLM).date()
    if first_week and (day is None or first_week < iso_week_of_day(day)):
        year, week = parse_week(first_week)
        day = date.fromisocalendar(year, week, 1)
    return day


def iso_week_of_day(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


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
