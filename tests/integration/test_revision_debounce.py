"""Late reports cannot flood revisions, and the public version waits for the weekly build.

The aggregate's own handler class against a real redis-server and a real database file:
a late report for a built week makes at most one revision per
`LAGESBILD_REVISION_MIN_INTERVAL_S`; that revision is announced as not public; the
scheduled weekly build then lets the public version catch up (issue #13)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.aggregate import store
from services.aggregate.builder import WeekBuilder
from services.aggregate.handlers import PUBLIC_PENDING, REVISIONS_DUE, Aggregate
from services.aggregate.jobs import revision_due_at
from services.maps.publish import publish_week
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import LAGESBILD_READY_STREAM, AcceptedReportV1, LagesbildReadyV1
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from tests.support.redis_entries import stream_entries_async
from tests.support.snapshots import make_areas, small_snapshot

pytestmark = pytest.mark.redis

WEEK = "2026-W47"
MONDAY = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
INTERVAL_S = 2.0


def _event(n: int) -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=f"r{n}",
        organisation="Väktarbolaget",
        kommun="0580",
        source="vaktare",
        category="klotter",
        occurred_at=MONDAY + timedelta(hours=n),
        iso_week=WEEK,
        area="Innerstaden",
        lat=58.4108,
        lon=15.6214,
        description=f"händelse {n}",
        accepted_at=MONDAY + timedelta(days=1),
    )


async def _ready_messages(redis: Redis) -> list[LagesbildReadyV1]:
    found = await stream_entries_async(redis, LAGESBILD_READY_STREAM)
    return [LagesbildReadyV1.model_validate_json(entry_payload(f)) for _, f in found]


def test_a_revision_is_due_one_interval_after_the_last() -> None:
    built = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert revision_due_at(built, built + timedelta(seconds=10), 300) == built + timedelta(
        seconds=300
    )
    late = built + timedelta(hours=1)
    assert revision_due_at(built, late, 300) == late  # long enough ago: at once


async def test_late_reports_make_one_revision_per_interval_and_public_waits(
    redis_server: EmbeddedRedis, db_url: str
) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    builder = WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)
    redis = Redis.from_url(redis_server.url)
    broker = RedisBroker(redis_server.url)
    await broker.connect()
    aggregate = Aggregate(broker, redis, builder, revision_min_interval_s=INTERVAL_S)
    try:
        store.add_incidents(engine, [_event(1)], builder.grid_cell_of)
        assert await aggregate.build_and_announce("0580", WEEK, requested_by="schedule")

        # Two late reports right after the build: none is revised at once, one is due.
        for n in (2, 3):
            store.add_incidents(engine, [_event(n)], builder.grid_cell_of)
            await aggregate.rebuild_frozen_weeks([_event(n)])
        assert store.latest_snapshot(engine, "0580", WEEK).revision == 1  # type: ignore[union-attr]
        due = cast(
            list[tuple[bytes, float]], await redis.zrange(REVISIONS_DUE, 0, -1, withscores=True)
        )
        assert [m for m, _ in due] == [b"0580|" + WEEK.encode()]
        first_due = due[0][1]
        assert await aggregate.build_due_revisions() == []  # not yet

        # NX: a later report does not push the revision further away.
        store.add_incidents(engine, [_event(4)], builder.grid_cell_of)
        await aggregate.rebuild_frozen_weeks([_event(4)])
        assert (await redis.zscore(REVISIONS_DUE, "0580|" + WEEK)) == first_due

        await asyncio.sleep(max(0.0, first_due - time.time()) + 0.1)
        assert await aggregate.build_due_revisions() == [("0580", WEEK)]
        latest = store.latest_snapshot(engine, "0580", WEEK)
        assert latest is not None and latest.revision == 2
        assert sum(c.count for c in latest.cells) == 4  # all three late reports in one
        assert await redis.zcard(REVISIONS_DUE) == 0

        ready = await _ready_messages(redis)
        assert [(r.snapshot.revision, r.public) for r in ready] == [(1, True), (2, False)]
        assert await redis.smembers(PUBLIC_PENDING) == {b"0580|" + WEEK.encode()}

        # The scheduled weekly build lets the public version catch up, once.
        await aggregate.announce_public_revisions()
        await aggregate.announce_public_revisions()
        ready = await _ready_messages(redis)
        assert [(r.snapshot.revision, r.public) for r in ready][2:] == [(2, True)]
        assert await redis.scard(PUBLIC_PENDING) == 0
    finally:
        await broker.stop()
        await redis.aclose()
        engine.dispose()


def test_a_revision_without_public_leaves_the_public_tree_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = small_snapshot()
    publish_week(out, first, make_areas(), tiles=None)
    public_week = out / "offentlig" / "0580" / first.iso_week
    before = {
        p.relative_to(out): p.read_bytes() for p in (out / "offentlig").rglob("*") if p.is_file()
    }

    revised = first.model_copy(update={"revision": first.revision + 1, "content_hash": "new"})
    publish_week(out, revised, make_areas(), tiles=None, public=False)

    after = {
        p.relative_to(out): p.read_bytes() for p in (out / "offentlig").rglob("*") if p.is_file()
    }
    assert after == before  # not a byte of the public tree changed
    assert not (public_week / f"r{revised.revision}").exists()
    assert (out / "0580" / first.iso_week / f"r{revised.revision}" / "karta.html").exists()

    publish_week(out, revised, make_areas(), tiles=None, public=True)
    assert (public_week / f"r{revised.revision}" / "karta.html").exists()
