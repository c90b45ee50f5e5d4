"""The guards' page /uppdrag and the TiB's order list in real headless Chromium at phone
size (390 × 844), with the network cut: a guard acknowledges, checks in (its answer lost on
the way back), reports the outcome with a report while offline, comes back online, and
every action arrives once (the TiB's table, the order stream, the reports stream). The TiB
sees the status change live and edits and cancels an order from its page. Order texts are
hostile (tests/security/hostile.py): shown literally, never run, no CSP violation."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.tib.config import TibSettings
from services.tib.main import create_app
from services.tib.models import TibOrderEvent
from shared.access import create_organisation
from shared.contracts import REPORTS_STREAM, TIB_ORDER_STREAM
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from tests.conftest import free_port
from tests.security.hostile import evaluated, probe, shown_literally
from tests.security.test_csp_browser import Watched, log_in

pytestmark = [pytest.mark.browser, pytest.mark.redis]
PHONE = {"width": 390, "height": 844}
ONE_ORDER = "() => document.querySelectorAll('#lista li[data-order]').length === 1"
OFFLINE_SHOWN = "() => document.getElementById('natet').textContent.includes('Inget nät')"


def queued(n: int) -> str:
    return f"() => document.getElementById('ko').textContent === '{n} väntar på nätet'"


GUARD = "Väktarbolaget Nord"


@dataclass
class Answer:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def call(url: str, body: Any = None, token: str | None = None) -> Answer:
    """An HTTP call from the test (the standard library's client)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read().decode())


@dataclass
class Tib:
    base: str
    tib_token: str
    guard_token: str
    engine: Engine
    redis: Redis

    def issue(self, **changes: Any) -> dict[str, Any]:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        body = {
            "place": probe("PLATS"),
            "lat": 58.427,
            "lon": 15.589,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=4)).isoformat(),
            "task": probe("UPPGIFT"),
            "reason": probe("ANTECKNING"),
            "assigned_to": GUARD,
        } | changes
        answer = call(f"{self.base}/api/v1/tib/orders", body, self.tib_token)
        assert answer.status_code == 201, answer.text
        state: dict[str, Any] = answer.json()
        return state

    def guard(self, order_id: str, step: str, body: dict[str, Any] | None = None) -> Answer:
        return call(f"{self.base}/api/v1/tib/orders/{order_id}/{step}", body or {},
                    self.guard_token)  # fmt: skip

    def events(self, order_id: str) -> list[str]:
        with Session(self.engine) as s:
            rows = s.exec(select(TibOrderEvent).where(TibOrderEvent.order_id == order_id)).all()
        return [r.kind for r in rows]

    def stream(self, name: str) -> list[dict[str, Any]]:
        entries: Any = self.redis.xrange(name)
        return [json.loads(entry_payload(fields)) for _, fields in entries]

    def stream_kinds(self, order_id: str) -> list[str]:
        return [e["kind"] for e in self.stream(TIB_ORDER_STREAM) if e["order_id"] == order_id]

    def reports_of(self, marker: str) -> int:
        return sum(marker in r.get("description", "") for r in self.stream(REPORTS_STREAM))


@pytest.fixture
def tib(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Tib]:
    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    engine = make_engine(db_url)
    init_db(engine)
    tib_token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1]
    guard_token = create_organisation(
        engine, GUARD, "0580", "reporter", ["vaktare"], guard_company=True
    )[1]
    settings = TibSettings(redis_url=redis_server.url, data_dir=tmp_path / "data",
                           database_url=db_url, tib_tile_url="",
                           tib_heartbeat_seconds=1.0)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    redis = Redis.from_url(redis_server.url)
    yield Tib(f"http://127.0.0.1:{port}", tib_token, guard_token, engine, redis)
    redis.close()
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=PHONE, locale="sv-SE", timezone_id="Europe/Stockholm",
                              has_touch=True, is_mobile=True)  # fmt: skip
    yield ctx
    ctx.close()


def test_a_guard_works_offline_and_every_action_arrives_once(tib: Tib, phone: Any) -> None:
    order_id = tib.issue()["order"]["order_id"]
    w = Watched.open(phone)
    page = w.page
    log_in(page, tib.base, tib.guard_token, "/uppdrag")
    w.console_errors.clear()  # the login form's 401 is logged as a failed load
    page.wait_for_function(ONE_ORDER)
    page.click("#lista li[data-order] button")
    page.wait_for_function("() => !document.getElementById('detalj').hidden")
    text = page.inner_text("body")
    for tag in ("PLATS", "UPPGIFT", "ANTECKNING"):
        assert shown_literally(text, probe(tag)), tag
    assert evaluated(text) == []

    page.click("#kvittera")  # online
    page.wait_for_function(
        "() => document.getElementById('detalj-status').textContent === 'kvitterad'"
    )
    assert tib.events(order_id) == ["issued", "acknowledged"]

    # check in: the server records it, but the answer never reaches the phone
    lost: list[str] = []

    def lose_answer(route: Any) -> None:
        if not lost:
            route.fetch()  # the request reaches the TiB ...
            lost.append(route.request.url)
            route.abort()  # ... and the phone sees a network error
        else:
            route.continue_()

    page.route("**/check-in", lose_answer)
    page.click("#checka-in")
    deadline = time.monotonic() + 10
    while not lost and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)  # the page has seen the network error by now
    assert lost and tib.events(order_id)[-1] == "checked_in"
    assert page.inner_text("#ko") == "1 väntar på nätet"  # not sure it arrived: kept

    phone.set_offline(True)
    page.wait_for_function(
        "() => document.getElementById('natet').textContent.includes('Inget nät')"
    )
    page.fill("#utfall-text", "Lugnt, en skadad dörr")
    page.check("#utfall-rapport")
    page.fill("#utfall-beskrivning", "Dörren vid entrén är uppbruten")
    page.click("#skicka-utfall")
    page.wait_for_function(
        "() => document.getElementById('ko').textContent === '2 väntar på nätet'"
    )
    assert not page.is_hidden("#ko")
    assert tib.events(order_id) == ["issued", "acknowledged", "checked_in"]

    phone.set_offline(False)
    page.wait_for_function("() => document.getElementById('ko').hidden", timeout=10000)
    assert tib.events(order_id) == ["issued", "acknowledged", "checked_in", "outcome"]
    assert tib.stream_kinds(order_id) == ["issued", "acknowledged", "checked_in", "outcome"]
    assert tib.reports_of("Dörren vid entrén är uppbruten") == 1
    page.wait_for_function(
        "() => document.getElementById('detalj-status').textContent === 'på plats'"
    )
    link = page.get_attribute("#rapportera-harifran", "href") or ""
    assert "#plats=58.427%2C15.589&namn=" in link and "token" not in link
    assert "lgb_" not in page.content()
    # the lost answer and the offline attempts are the only failed loads
    w.console_errors[:] = [e for e in w.console_errors if "net::ERR_" not in e]
    w.assert_clean()


def test_the_page_opens_offline_from_the_phone(tib: Tib, browser: Any) -> None:
    """Installed (manifest, service worker): opened again without network it shows the
    saved list and accepts an action into the queue."""
    tib.issue(place="Ryds centrum", task="Rond", reason="")
    ctx = browser.new_context(viewport=PHONE, locale="sv-SE", timezone_id="Europe/Stockholm")
    try:
        page = ctx.new_page()
        log_in(page, tib.base, tib.guard_token, "/uppdrag")
        manifest = call(f"{tib.base}/uppdrag.webmanifest").json()
        assert manifest["start_url"] == "/uppdrag" and manifest["display"] == "standalone"
        page.wait_for_function(
            "() => document.querySelectorAll('#lista li[data-order]').length === 1"
        )
        page.wait_for_function(
            "() => navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller"
            " || true)"
        )
        page.reload()  # now under the service worker's control
        page.wait_for_function("() => !!navigator.serviceWorker.controller")
        ctx.set_offline(True)
        page.reload()
        page.wait_for_function(
            "() => document.querySelectorAll('#lista li[data-order]').length === 1"
        )
        assert "Ryds centrum" in page.inner_text("#lista")
        assert "sparad på telefonen" in page.inner_text("#uppdaterad")
        page.click("#lista li[data-order] button")
        page.click("#kvittera")
        page.wait_for_function(
            "() => document.getElementById('ko').textContent === '1 väntar på nätet'"
        )
    finally:
        ctx.close()


def test_the_tib_sees_status_live_and_edits_and_cancels(tib: Tib, phone: Any) -> None:
    first = tib.issue()["order"]["order_id"]
    second = tib.issue(place="Ryds centrum", task="Rond vid busshållplatsen", reason="")["order"]
    w = Watched.open(phone)
    page = w.page
    log_in(page, tib.base, tib.tib_token, "/tib")
    w.console_errors.clear()
    page.wait_for_function(
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
    )
    page.wait_for_function("() => document.querySelectorAll('#orders li[data-order]').length === 2")
    text = page.inner_text("#orders")
    assert shown_literally(text, probe("PLATS")) and shown_literally(text, probe("UPPGIFT"))
    assert evaluated(page.inner_text("body")) == []

    # the guard acknowledges on its phone: the TiB's line changes without a reload
    assert tib.guard(first, "acknowledge").status_code == 200
    sent = time.monotonic()
    page.wait_for_function(
        f"() => document.querySelector('#orders li[data-order=\"{first}\"]')"
        ".textContent.includes('kvitterad')",
        timeout=5000,
    )
    assert time.monotonic() - sent < 2.0

    # edit the second order's task from the page
    row = f"#orders li[data-order='{second['order_id']}']"
    page.click(f"{row} button:has-text('Ändra')")
    page.fill("#order-task", "Rond vid busshållplatsen och skolan")
    page.click("#order-submit")
    page.wait_for_function(
        f"() => document.querySelector(\"{row}\").textContent.includes('och skolan')"
    )
    # and cancel the first
    page.click(f"#orders li[data-order='{first}'] button:has-text('Ställ in')")
    page.wait_for_function(
        f"() => document.querySelector('#orders li[data-order=\"{first}\"]')"
        ".textContent.includes('inställd')"
    )
    assert tib.events(first) == ["issued", "acknowledged", "cancelled"]
    assert tib.events(second["order_id"]) == ["issued", "updated"]
    w.assert_clean()
