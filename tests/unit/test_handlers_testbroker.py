"""The pipeline's handlers (ingest, aggregate, maps) on FastStream's `TestRedisBroker`, with
the real stores (a SQLite file): each service's app is built by its own `create_app` (the
stream table registers its subscribers, `shared/streams.py: register`), a contract message
is published through the in-memory broker, and the store's result is checked. What needs
stream semantics (groups, acks, reclaiming, trimming) stays on a real redis-server
(`tests/integration/test_reclaimer.py`, `test_streams.py` …).

Why two small shims (the `in_memory_broker` fixture) are needed, found in FastStream
0.7.8's `faststream/redis/testing.py`:

1. Entry ids. `StreamVisitor.get_message` builds a batch stream message with
   `message_ids=[]`: the in-memory broker has no stream, hence no entry ids. Our
   subscribers read raw entries (`shared.streams.raw_entries`: id and fields, zipped
   strictly), because each entry's id is what is acknowledged, dead-lettered and stored
   with a rejection; without ids every batch fails ("zip() argument 2 is longer than
   argument 1") and stays "pending". The shim numbers the entries `1-0`, `2-0` … as
   XREADGROUP would.
2. The pending-entries list. `FakeProducer` records each delivery in its PEL under the
   published command's correlation id and removes it under the correlation id the
   subscriber's parsed message reports. Our parser (`keep_raw_entries`) hides each entry
   from FastStream's decoder behind a placeholder (a hostile payload must reach our
   validation, not crash the parser), so the parsed message has a fresh correlation id
   and the removal raises KeyError after the handler has run. The shim's PEL forgets a
   key it does not hold.

Both are the test broker's own bookkeeping: the handlers, their parser, the stores and
what the handlers send are the real ones. The ingest writes its outcomes with its own
Redis client in one pipeline with the XACK (store, announce, ack in one round trip), not
through the broker, so its test gives that client a real redis-server; the aggregate and
the maps service need none (what the maps service sends goes through the broker's
connection, recorded here).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from faststream import FastStream
from faststream.redis import RedisBroker, TestRedisBroker
from faststream.redis import testing as faststream_testing
from faststream.redis.testing import PEL
from redis import Redis
from sqlmodel import Session, select

from services.aggregate.main import create_app as create_aggregate
from services.aggregate.models import WeekIncident
from services.ingest.main import create_app as create_ingest
from services.ingest.models import RejectedSubmission, StoredReport
from services.maps.main import create_app as create_maps
from shared.config import Settings
from shared.contracts import (
    ACCEPTED_STREAM,
    LAGESBILD_READY_STREAM,
    PUBLISHED_STREAM,
    REJECTED_STREAM,
    REPORTS_STREAM,
    AcceptedReportV1,
    LagesbildPublishedV1,
    LagesbildReadyV1,
    ReportV1,
)
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.weeks import iso_week_of
from tests.support.redis_entries import stream_entries
from tests.support.snapshots import small_snapshot

NOW = datetime.now(UTC).replace(microsecond=0)
INNERSTADEN = (58.4108, 15.6214)  # Linköping, inside the kommun's areas
NO_REDIS = "redis://127.0.0.1:9/0"  # nothing listens there: no handler may need Redis


class ForgivingPEL(PEL):
    """FastStream's in-memory pending-entries list, forgetting a key it does not hold (see
    the module docstring, point 2)."""

    def _remove(self, correlation_id: Any) -> None:
        self.entries.pop(correlation_id, None)


@pytest.fixture
def in_memory_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entry ids on the in-memory broker's stream messages (module docstring, point 1)."""
    ids = itertools.count(1)
    original = faststream_testing.StreamVisitor.get_message

    def with_ids(self: Any, channel: str, body: Any, sub: Any) -> Any:
        message = original(self, channel, body, sub)
        entries = message["data"] if isinstance(message["data"], list) else [message["data"]]
        message["message_ids"] = [f"{next(ids)}-0".encode() for _ in entries]
        return message

    monkeypatch.setattr(faststream_testing.StreamVisitor, "get_message", with_ids)
    yield


def _broker(app: FastStream) -> RedisBroker:
    """The app's broker, as `create_app` built it."""
    assert isinstance(app.broker, RedisBroker)
    return app.broker


def _settings(tmp_path: Path, redis_url: str = NO_REDIS) -> Settings:
    """A fresh SQLite file, migrated (the app migrates at start-up, which is not run here)."""
    url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    init_db(make_engine(url))
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        redis_url=redis_url,
        output_dir=tmp_path / "out",
    )


def _report(report_id: str, **changes: Any) -> ReportV1:
    lat, lon = INNERSTADEN
    fields: dict[str, Any] = {
        "report_id": report_id,
        "kommun": "0580",
        "source": "vaktare",
        "organisation": "Väktarbolaget",
        "category": "klotter",
        "occurred_at": NOW - timedelta(hours=3),
        "lat": lat,
        "lon": lon,
        "description": "Klotter på busskuren",
    }
    return ReportV1(**(fields | changes))


@pytest.mark.usefixtures("in_memory_broker")
async def test_ingest_stores_a_report_and_rejects_a_bad_one(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    settings = _settings(tmp_path, redis_server.url)
    app = create_ingest(settings)
    good = _report("r-1")
    outside = _report("r-2", lat=59.33, lon=18.06)  # Stockholm: not in kommun 0580
    async with TestRedisBroker(_broker(app), pel=ForgivingPEL()) as broker:
        await broker.publish(good.model_dump_json().encode(), stream=REPORTS_STREAM)
        await broker.publish(outside.model_dump_json().encode(), stream=REPORTS_STREAM)
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as s:
        stored = s.exec(select(StoredReport)).all()
        rejected = s.exec(select(RejectedSubmission)).all()
    assert [(r.report_id, r.kommun, r.category) for r in stored] == [("r-1", "0580", "klotter")]
    assert [(r.entry_id, json.loads(r.payload)["report_id"]) for r in rejected] == [("2-0", "r-2")]
    # What it announced, on the real Redis its own client writes to.
    client = Redis.from_url(redis_server.url)
    try:
        accepted = [json.loads(f[b"payload"]) for _, f in stream_entries(client, ACCEPTED_STREAM)]
        refused = [json.loads(f[b"payload"]) for _, f in stream_entries(client, REJECTED_STREAM)]
    finally:
        client.close()
    assert [a["report_id"] for a in accepted] == ["r-1"]
    assert [(r["entry_id"], r["code"]) for r in refused] == [("2-0", rejected[0].code)]


@pytest.mark.usefixtures("in_memory_broker")
async def test_aggregate_counts_an_accepted_report(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_aggregate(settings)
    lat, lon = INNERSTADEN
    occurred = NOW - timedelta(days=1)
    event = AcceptedReportV1(
        report_id="r-1",
        organisation="Väktarbolaget",
        kommun="0580",
        source="vaktare",
        category="klotter",
        occurred_at=occurred,
        iso_week=iso_week_of(occurred),
        area="Innerstaden",
        lat=lat,
        lon=lon,
        description="Klotter på busskuren",
        accepted_at=NOW,
    )
    async with TestRedisBroker(_broker(app), pel=ForgivingPEL()) as broker:
        await broker.publish(event.model_dump_json().encode(), stream=ACCEPTED_STREAM)
        await broker.publish(event.model_dump_json().encode(), stream=ACCEPTED_STREAM)
    with Session(make_engine(settings.resolved_database_url)) as s:
        rows = s.exec(select(WeekIncident)).all()
    # Once, although delivered twice (the key is organisation/report_id).
    assert [(r.key, r.iso_week, r.category) for r in rows] == [
        ("Väktarbolaget/r-1", iso_week_of(occurred), "klotter")
    ]


@pytest.mark.usefixtures("in_memory_broker")
async def test_maps_publishes_a_ready_week_and_announces_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_maps(settings)
    snapshot = small_snapshot()
    ready = LagesbildReadyV1(snapshot=snapshot)
    async with TestRedisBroker(_broker(app), pel=ForgivingPEL()) as broker:
        # what it sends goes through the broker's connection: record it
        xadd = AsyncMock(return_value=b"1-0")
        with patch.object(broker.config.broker_config.connection.client, "xadd", xadd):
            await broker.publish(ready.model_dump_json().encode(), stream=LAGESBILD_READY_STREAM)
    [call] = xadd.await_args_list
    stream, fields = call.args
    published = LagesbildPublishedV1.model_validate_json(fields[b"payload"])
    assert stream == PUBLISHED_STREAM
    assert (published.kommun, published.iso_week) == (snapshot.kommun, snapshot.iso_week)
    assert Path(published.map_path).is_file() and Path(published.summary_path).is_file()
    summary = json.loads(Path(published.summary_path).read_text("utf-8"))
    assert summary["iso_week"] == snapshot.iso_week
