"""Weeks as frozen, reproducible snapshots: revisions on late reports, bit-for-bit rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, delete

from services.aggregate import store
from services.aggregate.builder import WeekBuilder
from services.aggregate.models import WeekSnapshotRow
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1
from shared.db import init_db, make_engine

WEEK = "2026-W47"
MONDAY = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def _event(
    n: int, *, area: str = "Innerstaden", category: str = "klotter", dup: str | None = None
) -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=f"r{n}",
        organisation="Väktarbolaget",
        kommun="0580",
        source="vaktare",
        category=category,
        occurred_at=MONDAY + timedelta(hours=n),
        iso_week=WEEK,
        area=area,
        lat=58.4108,
        lon=15.6214,
        description=f"händelse {n}",
        duplicate_of=dup,
        accepted_at=MONDAY + timedelta(days=1),
    )


@pytest.fixture
def builder(db_url: str) -> WeekBuilder:
    engine = make_engine(db_url)
    init_db(engine)
    return WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)


def test_a_late_report_makes_a_new_revision_and_the_old_one_stays_readable(
    builder: WeekBuilder,
) -> None:
    store.add_incidents(builder.engine, [_event(1), _event(2)])
    first, is_new = builder.build("0580", WEEK, MONDAY + timedelta(days=8))
    assert (first.revision, is_new, sum(c.count for c in first.cells)) == (1, True, 2)

    same, is_new = builder.build("0580", WEEK, MONDAY + timedelta(days=9))
    assert (same.revision, is_new) == (1, False)  # nothing changed: no new revision

    store.add_incidents(builder.engine, [_event(3)])  # arrives after the week was frozen
    second, is_new = builder.build("0580", WEEK, MONDAY + timedelta(days=10))
    assert (second.revision, is_new, sum(c.count for c in second.cells)) == (2, True, 3)
    old = store.latest_snapshot(builder.engine, "0580", WEEK, revision=1)
    assert old is not None and old.content_hash == first.content_hash


def test_a_redelivered_event_and_a_linked_duplicate_do_not_change_the_counts(
    builder: WeekBuilder,
) -> None:
    assert store.add_incidents(builder.engine, [_event(1), _event(2)]) == 2
    assert store.add_incidents(builder.engine, [_event(1)]) == 0  # redelivery
    store.add_incidents(builder.engine, [_event(4, dup="Väktarbolaget/r1")])
    snapshot, _ = builder.build("0580", WEEK, MONDAY + timedelta(days=8))
    assert sum(c.count for c in snapshot.cells) == 2
    assert snapshot.duplicates_linked == 1
    counts = store.week_counts(builder.engine, "0580", [WEEK])
    assert counts[WEEK][("Innerstaden", "klotter")] == 2


def test_a_week_rebuilt_from_the_stored_reports_is_identical(builder: WeekBuilder) -> None:
    store.add_incidents(
        builder.engine, [_event(n, category=("klotter", "brand")[n % 2]) for n in range(20)]
    )
    original, _ = builder.build("0580", WEEK, MONDAY + timedelta(days=8))
    with Session(builder.engine) as session:
        session.exec(delete(WeekSnapshotRow))
        session.commit()
    rebuilt, _ = builder.build("0580", WEEK, MONDAY + timedelta(days=30))
    assert rebuilt.content_hash == original.content_hash
    assert rebuilt.model_dump(exclude={"built_at"}) == original.model_dump(exclude={"built_at"})
