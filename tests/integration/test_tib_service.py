"""The TiB service against a real redis-server and a real database: its stream consumers,
the live picture, the recommendation, the order life cycle and the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from services.aggregate.models import WeekSnapshotRow
from services.tib.cli import tib_app
from services.tib.config import TibSettings
from services.tib.consumer import TIB_GROUP
from services.tib.main import create_app
from shared.access import create_organisation
from shared.categories import Source
from shared.contracts import (
    ACCEPTED_STREAM,
    DEAD_LETTER_STREAM,
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    REPORTS_STREAM,
    TIB_ORDER_STREAM,
    AcceptedReportV1,
    LagesbildReadyV1,
)
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload, envelope
from shared.weeks import STOCKHOLM, iso_week_of
from tests.conftest import wait_for
from tests.unit.test_tib_planning import SNAP, decision

pytestmark = pytest.mark.redis

FRIDAY_21 = datetime(2026, 11, 27, 21, 0, tzinfo=STOCKHOLM)


def accepted(report_id: str, hours_ago: float = 1, **changes: Any) -> AcceptedReportV1:
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    base: dict[str, Any] = dict(
        report_id=report_id, organisation="Vaktbolaget Öst AB", kommun="0580",
        source=Source.VAKTARE, category="ordningsstorning", occurred_at=at,
        iso_week=iso_week_of(at), area="Skäggetorp", lat=58.4270, lon=15.5890,
        description="Grupp ungdomar, oro vid entrén", accepted_at=datetime.now(UTC),
    )  # fmt: skip
    return AcceptedReportV1(**(base | changes))


def xadd(redis: Redis, stream: str, message: Any) -> None:
    import asyncio

    redis.xadd(stream, asyncio.run(envelope(message, message.message_id)))  # type: ignore[arg-type]


@dataclass
class Tib:
    client: TestClient
    engine: Engine
    redis: Redis
    tib_token: str
    guard_token: str

    def get(self, path: str, token: Any = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.tib_token}"}
        return self.client.get(path, params=params, headers=headers)

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token or self.tib_token}"}
        return self.client.post(path, json=body, headers=headers)

    def stream(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(entry_payload(f)) for _, f in self.redis.xrange(name)]  # type: ignore[arg-type, union-attr]


@pytest.fixture
def tib(tmp_path: Path, redis_server: EmbeddedRedis, db_url: str) -> Iterator[Tib]:
    settings = TibSettings(
        redis_url=redis_server.url, data_dir=tmp_path / "data", database_url=db_url,
        tib_tile_url="", claim_idle_ms=1000, claim_interval_ms=300,
    )  # fmt: skip
    engine = make_engine(db_url)
    init_db(engine)
    tib_token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1]
    guard_token = create_organisation(
        engine, "Vaktbolaget Öst AB", "0580", "reporter", ["vaktare"], guard_company=True
    )[1]
    redis = Redis.from_url(redis_server.url)
    with TestClient(create_app(settings)) as client:
        yield Tib(client, engine, redis, tib_token, guard_token)
    redis.close()


def test_accepted_reports_fill_the_live_window_without_naming_the_reporter(tib: Tib) -> None:
    xadd(tib.redis, ACCEPTED_STREAM, accepted("r-1", hours_ago=2))
    xadd(tib.redis, ACCEPTED_STREAM, accepted("r-2", hours_ago=50, category="klotter"))
    xadd(tib.redis, ACCEPTED_STREAM, accepted("r-old", hours_ago=24 * 40))  # beyond the history
    tib.redis.xadd(ACCEPTED_STREAM, {"payload": "{not json"})
    xadd(tib.redis, ACCEPTED_STREAM, accepted("r-1", hours_ago=2))  # a redelivery: stored once

    def live(hours: int) -> list[dict[str, Any]]:
        return tib.get("/api/v1/tib/live", hours=hours).json()["reports"]

    wait_for(lambda: len(live(168)) == 2, timeout=10)
    assert [r["category"] for r in live(24)] == ["ordningsstorning"]
    body = tib.get("/api/v1/tib/live", hours=72).text
    assert "Vaktbolaget" not in body and "r-1" not in body
    [letter] = tib.stream(DEAD_LETTER_STREAM)
    assert letter["stream"] == ACCEPTED_STREAM and "{not json" in letter["payload"]
    wait_for(lambda: tib.redis.xpending(ACCEPTED_STREAM, TIB_GROUP)["pending"] == 0, timeout=5)


def test_the_live_picture_needs_a_live_token_of_the_same_kommun(tib: Tib) -> None:
    assert tib.get("/api/v1/tib/live", token="lgb_unknown").status_code == 401
    refused = tib.get("/api/v1/tib/live", token=tib.guard_token)
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "role_not_allowed"
    other = tib.get("/api/v1/tib/live", kommun="0114")
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "kommun_not_allowed"
    assert tib.get("/api/v1/tib/recommendation", token=tib.guard_token).status_code == 403


def test_snapshot_and_decisions_give_the_overlay_and_the_recommendation(tib: Tib) -> None:
    assert tib.get("/api/v1/tib/recommendation").json()["visits"] == []
    xadd(tib.redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    xadd(tib.redis, DECISION_STREAM, decision("Ryd"))
    wait_for(lambda: tib.get("/api/v1/tib/live").json()["decisions"], timeout=10)
    data = tib.get("/api/v1/tib/live").json()
    assert data["lagesbild"]["iso_week"] == "2026-W47"
    assert [h["name"] for h in data["lagesbild"]["hotspots"]] == [
        "Skäggetorps centrum",
        "Ryd centrum",
    ]
    assert data["decisions"][0]["target"] == "Ryd"
    rec = tib.get(
        "/api/v1/tib/recommendation", **{"from": FRIDAY_21.isoformat(), "hours": 4, "patrols": 2}
    )
    visits = rec.json()["visits"]
    assert visits and {v["patrol"] for v in visits} <= {1, 2}
    assert visits[0]["place"] == "Skäggetorps centrum" and visits[0]["reason"].startswith(
        "Skäggetorps centrum fre 21–"
    )
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=STOCKHOLM)  # Ryd's busy time
    rec = tib.get("/api/v1/tib/recommendation", **{"from": tuesday.isoformat(), "hours": 2})
    assert rec.json()["visits"][0]["reason"] == (
        "Ryd centrum tis 10–11: väntat ca 6 händelser i veckan (6 i lägesbilden vecka 47), "
        "mest klotter; "
        "mötets beslut: Väktare kvällstid"
    )


def test_an_order_from_issue_to_outcome_over_the_stream(tib: Tib) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    order = {"place": "Skäggetorps centrum", "lat": 58.427, "lon": 15.589, "area": "Skäggetorp",
             "start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat(),
             "task": "Synlig patrullering vid entrén", "priority": "hög"}  # fmt: skip
    assert tib.post("/api/v1/tib/orders", order, token=tib.guard_token).status_code == 403
    issued = tib.post("/api/v1/tib/orders", order)
    assert issued.status_code == 201, issued.text
    order_id = issued.json()["order"]["order_id"]
    path = f"/api/v1/tib/orders/{order_id}"
    early = {"note": "", "incident": {"category": "klotter"}}  # not checked in yet
    assert tib.post(f"{path}/outcome", early, token=tib.guard_token).status_code == 409
    for step in ("acknowledge", "check-in"):
        r = tib.post(f"{path}/{step}", {"note": ""}, token=tib.guard_token)
        assert r.status_code == 200, r.text
    outcome = {"note": "Krossad ruta vid entrén", "incident": {"category": "skadegorelse",
               "description": "Ruta krossad, ring 070-123 45 67"}}  # fmt: skip
    r = tib.post(f"{path}/outcome", outcome, token=tib.guard_token)
    assert r.status_code == 200, r.text
    assert r.json()["incident_reports"] == [f"Vaktbolaget Öst AB/tib-{order_id}-1"]
    assert (
        tib.post(f"{path}/check-out", {}, token=tib.guard_token).json()["status"] == "checked_out"
    )
    again = tib.post(f"{path}/check-out", {}, token=tib.guard_token)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "order_conflict"

    events = tib.stream(TIB_ORDER_STREAM)
    assert [e["kind"] for e in events] == [
        "issued",
        "acknowledged",
        "checked_in",
        "outcome",
        "checked_out",
    ]
    assert events[0]["by"] == "TiB Linköping" and events[1]["by"] == "Vaktbolaget Öst AB"
    [report] = tib.stream(REPORTS_STREAM)
    assert report["organisation"] == "Vaktbolaget Öst AB" and report["source"] == "vaktare"
    assert (report["lat"], report["lon"], report["category"]) == (58.427, 15.589, "skadegorelse")

    [listed] = tib.get("/api/v1/tib/orders").json()
    assert listed["status_sv"] == "avslutad" and listed["holder"] == "Vaktbolaget Öst AB"
    assert (
        tib.get("/api/v1/tib/orders", token=tib.guard_token).json()[0]["order"]["order_id"]
        == order_id
    )
    presence = tib.get("/api/v1/tib/presence", week=iso_week_of(start)).json()
    [place] = presence["places"]
    assert place["place"] == "Skäggetorps centrum" and place["visits"] == 1
    assert place["incident_reports"] == 1 and place["outcomes"] == ["Krossad ruta vid entrén"]


def test_the_recommend_command_reads_the_tibs_own_snapshot(
    tib: Tib, monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path
) -> None:
    """The command reads what the TiB heard on the ready stream, never the aggregate's
    `week_snapshot` (here it holds a week of kommun 0114 the TiB never heard of)."""
    with Session(tib.engine) as s:
        other = SNAP.model_copy(update={"kommun": "0114"})
        s.add(
            WeekSnapshotRow(
                kommun="0114", iso_week=SNAP.iso_week, revision=1, content_hash="x",
                built_at=SNAP.built_at, snapshot_json=other.model_dump_json(),
            )
        )  # fmt: skip
        s.commit()
    xadd(tib.redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    wait_for(lambda: tib.get("/api/v1/tib/live").json()["lagesbild"], timeout=10)
    monkeypatch.setenv("LAGESBILD_DATABASE_URL", db_url)
    monkeypatch.setenv("LAGESBILD_DATA_DIR", str(tmp_path / "data"))
    args = ["recommend", "--kommun", "0580", "--from", "2026-11-27T21:00", "--hours", "4",
            "--patrols", "2", "--json"]  # fmt: skip
    result = CliRunner().invoke(tib_app, args)
    assert result.exit_code == 0, result.output
    visits = json.loads(result.stdout)
    assert visits[0]["place"] == "Skäggetorps centrum"
    assert visits[0]["start"] == "2026-11-27T20:00:00+00:00"
    assert set(visits[0]) >= {"patrol", "place", "lat", "lon", "start", "end", "reason"}
    missing = CliRunner().invoke(tib_app, [*args[:2], "0114", *args[3:]])
    assert missing.exit_code == 1
