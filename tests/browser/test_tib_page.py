"""The TiB's live page in real headless Chromium: a report accepted on the stream appears
on the open page within a second or two (server-sent events), with no external request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from redis import Redis

from services.tib.config import TibSettings
from services.tib.main import create_app
from shared.access import create_organisation
from shared.contracts import ACCEPTED_STREAM, LAGESBILD_READY_STREAM, LagesbildReadyV1
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.streams import envelope
from tests.conftest import free_port
from tests.integration.test_tib_service import accepted
from tests.unit.test_tib_planning import SNAP

pytestmark = [pytest.mark.browser, pytest.mark.redis]


@pytest.fixture
def tib_server(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[tuple[str, str, Redis]]:
    """The TiB app under uvicorn in a thread (SQLite, real Redis); its URL, a token, Redis."""
    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    engine = make_engine(db_url)
    init_db(engine)
    token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1]
    settings = TibSettings(redis_url=redis_server.url, data_dir=tmp_path / "data",
                           database_url=db_url, tib_tile_url="")  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the TiB app did not start"
    redis = Redis.from_url(redis_server.url)
    yield f"http://127.0.0.1:{port}", token, redis
    redis.close()
    server.should_exit = True
    thread.join(timeout=10)


def xadd(redis: Redis, stream: str, message: Any) -> None:
    # Playwright's sync API runs an event loop in this thread: encode in another one.
    with ThreadPoolExecutor(1) as pool:
        fields = pool.submit(asyncio.run, envelope(message, message.message_id)).result()
    redis.xadd(stream, fields)  # type: ignore[arg-type]


def test_a_report_appears_on_the_open_page_within_a_second_or_two(
    browser: Any, tib_server: tuple[str, str, Redis]
) -> None:
    base, token, redis = tib_server
    xadd(redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    xadd(redis, ACCEPTED_STREAM, accepted("r-earlier", hours_ago=30, category="klotter"))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    first = page.goto(f"{base}/tib", wait_until="load")
    assert first is not None and first.status == 401  # the login form
    page.fill("#nyckel", token)
    page.click("#logga-in")
    page.wait_for_url(f"{base}/tib")  # the token went into a cookie, never the address
    errors.clear()  # the login form's own 401 is logged as a failed load
    page.wait_for_function(
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
    )
    page.wait_for_function("() => document.querySelectorAll('#hotspots li').length === 2")
    assert page.locator("#reports li").count() == 0  # the earlier one is outside 24 h
    page.click("button[data-hours='72']")
    assert page.locator("#reports li").count() == 1

    xadd(redis, ACCEPTED_STREAM, accepted("r-live", hours_ago=0.1, area="Skäggetorp"))
    sent = time.monotonic()
    page.wait_for_function(
        "() => document.querySelectorAll('#reports li').length === 2", timeout=5000
    )
    elapsed = time.monotonic() - sent
    assert elapsed < 2.0, f"the report took {elapsed:.2f} s to appear"
    newest = page.locator("#reports li").first
    assert "Ordningsstörning – Skäggetorp" in newest.inner_text()
    assert "new" in (newest.get_attribute("class") or "")
    # only the new report's marker was added: one per listed report, drawn and on the layer
    assert page.locator("path.leaflet-interactive.rapport").count() == 2
    assert page.locator("#reports").get_attribute("data-markers") == "2"
    assert page.locator("path.leaflet-interactive").count() >= 2 + 2  # reports and hotspots
    # the same report pushed again replaces its line and marker, never doubles them
    xadd(redis, ACCEPTED_STREAM, accepted("r-live", hours_ago=0.1, area="Skäggetorp"))
    page.wait_for_timeout(600)
    assert page.locator("#reports li").count() == 2
    assert page.locator("path.leaflet-interactive.rapport").count() == 2
    # a narrower window takes the earlier report's line and marker away, and back again
    ids = [li.get_attribute("data-id") for li in page.locator("#reports li").all()]
    page.click("button[data-hours='24']")
    assert page.locator("#reports li").count() == 1
    assert page.locator("path.leaflet-interactive.rapport").count() == 1
    assert page.locator("#report-count").inner_text() == "(1)"
    page.click("button[data-hours='72']")
    assert [li.get_attribute("data-id") for li in page.locator("#reports li").all()] == ids
    assert page.locator("path.leaflet-interactive.rapport").count() == 2
    assert "Vaktbolaget" not in page.content()
    assert page.locator("#visits li").count() >= 1  # the next shift's recommendation
    assert errors == [] and blocked == []
    page.close()


def test_without_a_token_the_page_asks_for_one(
    browser: Any, tib_server: tuple[str, str, Redis]
) -> None:
    base, _, _ = tib_server
    page = browser.new_page()
    response = page.goto(f"{base}/tib", wait_until="load")
    assert response.status == 401 and "Nyckel" in page.content()
    page.close()
