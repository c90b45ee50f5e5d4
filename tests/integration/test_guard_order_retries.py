"""A guard's phone sends its queued actions again when it is unsure they arrived (it went
offline before the answer): with the client's `action_id` each action is done once (real
redis-server, a real SQLite file). One event in the TiB's table, one entry on the order
stream, one incident report on the reports stream, however often it is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlmodel import Session, select

from services.tib.models import TibOrderEvent
from shared.contracts import REPORTS_STREAM, TIB_ORDER_STREAM
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from tests.security.access_world import World, build_world, order_body

pytestmark = pytest.mark.redis
ORDERS = "/api/v1/tib/orders"


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[World]:
    world = build_world(tmp_path, redis_server.url)
    yield world
    world.close()


def _post(world: World, who: str, path: str, body: dict[str, Any]) -> Any:
    return world.clients["tib"].post(path, json=body, headers=world.bearer(who))


def _events(world: World, order_id: str) -> list[str]:
    with Session(world.engine) as s:
        rows = s.exec(select(TibOrderEvent).where(TibOrderEvent.order_id == order_id)).all()
    return [r.kind for r in rows]


def _stream(redis: Redis, stream: str) -> list[dict[str, Any]]:
    entries: Any = redis.xrange(stream)
    return [json.loads(entry_payload(fields)) for _, fields in entries]


def _stream_kinds(redis: Redis, order_id: str) -> list[str]:
    return [e["kind"] for e in _stream(redis, TIB_ORDER_STREAM) if e["order_id"] == order_id]


def test_an_action_sent_twice_with_its_id_is_done_once(world: World) -> None:
    issued = _post(world, "tib", ORDERS, order_body() | {"assigned_to": "guard-0580"})
    assert issued.status_code == 201, issued.text
    order_id = issued.json()["order"]["order_id"]
    redis = Redis.from_url(world.redis_url)
    try:
        for step, action_id in (("acknowledge", "kvitt-000001"), ("check-in", "incheck-00001")):
            first = _post(world, "guard", f"{ORDERS}/{order_id}/{step}", {"action_id": action_id})
            again = _post(world, "guard", f"{ORDERS}/{order_id}/{step}", {"action_id": action_id})
            assert first.status_code == 200, first.text
            assert again.status_code == 200, again.text
            assert "duplicate" not in first.json() and again.json()["duplicate"] is True
            assert again.json()["status"] == first.json()["status"]
        # an outcome with a report, sent three times: one event, one report
        outcome = {
            "action_id": "utfall-000001",
            "note": "Lugnt vid entrén",
            "incident": {"category": "klotter", "report_id": "uppdrag-r1"},
        }
        answers = [_post(world, "guard", f"{ORDERS}/{order_id}/outcome", outcome) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200], answers[0].text
        assert _events(world, order_id) == ["issued", "acknowledged", "checked_in", "outcome"]
        assert _stream_kinds(redis, order_id) == [
            "issued",
            "acknowledged",
            "checked_in",
            "outcome",
        ]
        reports = [r for r in _stream(redis, REPORTS_STREAM) if r["report_id"] == "uppdrag-r1"]
        assert len(reports) == 1
        # without the id a repeated step is what it always was: a conflict
        plain = _post(world, "guard", f"{ORDERS}/{order_id}/check-in", {})
        assert plain.status_code == 409
    finally:
        redis.close()


def test_the_same_id_from_another_company_or_step_is_not_a_retry(world: World) -> None:
    order_id = _post(world, "tib", ORDERS, order_body()).json()["order"]["order_id"]
    path = f"{ORDERS}/{order_id}"
    assert (
        _post(world, "guard", f"{path}/acknowledge", {"action_id": "samma-id-01"}).status_code
        == 200
    )
    # the same id on another step is another action
    checked = _post(world, "guard", f"{path}/check-in", {"action_id": "samma-id-01"})
    assert checked.status_code == 200 and "duplicate" not in checked.json()
    assert _events(world, order_id) == ["issued", "acknowledged", "checked_in"]


@pytest.mark.parametrize("action_id", ["kort", "med mellanslag 1", "x" * 65, "<script>1234"])
def test_a_malformed_action_id_is_refused_clearly(world: World, action_id: str) -> None:
    order_id = _post(world, "tib", ORDERS, order_body()).json()["order"]["order_id"]
    answer = _post(world, "guard", f"{ORDERS}/{order_id}/acknowledge", {"action_id": action_id})
    assert answer.status_code == 422
    assert _events(world, order_id) == ["issued"]
