"""Rate limits wherever a token acts (intake, TiB, archive), a batch counted per report,
failed token checks throttled per client address, and secrets kept out of the access log.
Real redis-server, a real SQLite file, the real apps (and a real uvicorn for the log)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis import Redis

from services.intake.config import IntakeSettings
from services.intake.main import create_app as create_intake
from shared.access import RATE_WINDOW_S, REDACTED, create_organisation
from shared.contracts import REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port
from tests.security.access_world import OWN, WEEK, World, build_world, report

pytestmark = pytest.mark.redis
FAILURES = 3


def fresh_window() -> None:
    """Start at the beginning of a one-minute window, so that a test's requests all fall
    into one (the limits count per fixed minute)."""
    left = RATE_WINDOW_S - time.time() % RATE_WINDOW_S
    if left < 8:
        time.sleep(left + 0.05)


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[World]:
    fresh_window()
    world = build_world(
        tmp_path,
        redis_server.url,
        auth_failures_per_minute=FAILURES,
        intake_rate_limit_per_minute=60,
        tib_rate_limit_per_minute=5,
        maps_rate_limit_per_minute=5,
    )
    yield world
    world.close()


def get(world: World, service: str, path: str, token: str | None, address: str) -> Any:
    client = world.clients[service]
    client.cookies.clear()
    # The TestClient's peer is always "testclient": another client address comes through
    # X-Forwarded-For, which the apps believe only when "testclient" is a trusted proxy.
    headers = {"X-Forwarded-For": address} if address else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


PATHS = {
    "intake": "/api/v1/me",
    "tib": "/api/v1/tib/live",
    "maps": f"/{OWN}/{WEEK}/motesunderlag.html",
}
GOOD = {"intake": "reporter", "tib": "tib", "maps": "meeting"}


@pytest.mark.parametrize("service", PATHS)
def test_failed_tokens_are_throttled_per_client_address(
    tmp_path: Path, redis_server: EmbeddedRedis, service: str
) -> None:
    fresh_window()
    world = build_world(
        tmp_path,
        redis_server.url,
        auth_failures_per_minute=FAILURES,
        trusted_proxies=["testclient"],
    )
    try:
        path, good = PATHS[service], world.token(GOOD[service])
        attacker, neighbour = "198.51.100.7", "198.51.100.8"
        for n in range(FAILURES):
            wrong = get(world, service, path, f"lgb_guess{n}", attacker)
            assert wrong.status_code == 401, n
        blocked = get(world, service, path, "lgb_guess-more", attacker)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        # while blocked, the address gets 429 even with a valid token …
        assert get(world, service, path, good, attacker).status_code == 429
        # … and another address is not affected
        assert get(world, service, path, good, neighbour).status_code == 200
        # without a token nothing is looked up and nothing counted
        assert get(world, service, path, None, neighbour).status_code == 401
    finally:
        world.close()


def test_a_forwarded_address_counts_only_from_a_configured_proxy(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    """Without `trusted_proxies` X-Forwarded-For is ignored: writing another address into
    it does not escape the throttle."""
    fresh_window()
    world = build_world(tmp_path, redis_server.url, auth_failures_per_minute=FAILURES)
    try:
        for n in range(FAILURES):
            get(world, "intake", "/api/v1/me", f"lgb_guess{n}", f"203.0.113.{n}")
        escaped = get(world, "intake", "/api/v1/me", world.token("reporter"), "203.0.113.99")
        assert escaped.status_code == 429  # all of them came from the one real peer
    finally:
        world.close()


@pytest.mark.parametrize("service", ["tib", "maps"])
def test_the_tib_and_the_archive_limit_requests_per_token(world: World, service: str) -> None:
    path, role = PATHS[service], GOOD[service]
    codes = [get(world, service, path, world.token(role), "").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    limited = get(world, service, path, world.token(role), "")
    assert int(limited.headers["retry-after"]) >= 1
    assert get(world, service, path, world.token("admin"), "").status_code == 200  # per token


def test_a_batch_counts_one_per_report(world: World) -> None:
    """Limit 60 a minute: a batch of 50 leaves 10; one of 20 is refused whole (nothing
    published, its 19 extra reports not counted); one of 9 then fills the minute."""
    client, headers = world.clients["intake"], world.bearer("reporter")
    redis = Redis.from_url(world.redis_url)
    try:
        first = client.post("/api/v1/reports", json=[report() for _ in range(50)], headers=headers)
        assert first.status_code == 202, first.text
        assert redis.xlen(REPORTS_STREAM) == 50
        refused = client.post(
            "/api/v1/reports", json=[report() for _ in range(20)], headers=headers
        )
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["code"] == "rate_limited"
        assert "inget av dem är mottaget" in refused.json()["errors"][0]["message_sv"]
        assert redis.xlen(REPORTS_STREAM) == 50
        fits = client.post("/api/v1/reports", json=[report() for _ in range(9)], headers=headers)
        assert fits.status_code == 202, fits.text  # 50 + 1 (the refused request) + 9 = 60
        assert client.get("/api/v1/me", headers=headers).status_code == 429
        other = world.bearer("guard")  # another organisation has its own 60
        too_big = client.post("/api/v1/reports", json=[report() for _ in range(61)], headers=other)
        assert too_big.status_code == 422
        assert too_big.json()["errors"][0]["code"] == "too_many_reports"
        assert redis.xlen(REPORTS_STREAM) == 59
    finally:
        redis.close()


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.timeout(60)
def test_open311_api_key_is_redacted_from_the_access_log(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    """The intake under a real uvicorn with its default logging; the access log line of an
    Open311 request with `api_key` in its address holds no token."""
    import httpx2 as httpx  # FastAPI's test client library, here against a real server

    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    engine = make_engine(db_url)
    init_db(engine)
    token = create_organisation(engine, "Securitas", OWN, "reporter", ["vaktare"])[1]
    settings = IntakeSettings(redis_url=redis_server.url, data_dir=tmp_path / "data",
                              database_url=db_url)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_intake(settings), host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    captured = Captured()  # the line as uvicorn words it
    access = logging.getLogger("uvicorn.access")
    access.addHandler(captured)
    try:
        url = f"http://127.0.0.1:{port}/open311/v2/requests.json?api_key={token}&status=open"
        assert httpx.get(url).status_code == 200
        wait = time.monotonic() + 5
        while not captured.lines and time.monotonic() < wait:
            time.sleep(0.05)
    finally:
        access.removeHandler(captured)
        server.should_exit = True
        thread.join(10)
    [line] = [x for x in captured.lines if "/open311/v2/requests.json" in x]
    assert token not in line and token[4:20] not in line
    assert f"api_key={REDACTED}&status=open" in line and "200" in line
