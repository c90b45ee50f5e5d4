"""The TiB page in real headless Chromium through a restart of the TiB: the alarms read as
sentences, and when the event stream comes back the page fetches what it missed (a report
accepted and an order acknowledged while it was cut off) without a reload, announcing
"Ansluten igen"."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from redis import Redis

from services.tib.config import TibSettings
from services.tib.main import create_app
from shared.access import create_organisation
from shared.contracts import ACCEPTED_STREAM, LAGESBILD_READY_STREAM, LagesbildReadyV1
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.browser.test_tib_page import xadd
from tests.conftest import free_port, wait_for
from tests.integration.test_tib_service import accepted
from tests.support.snapshots import cell_stat
from tests.unit.test_tib_planning import SNAP

pytestmark = [pytest.mark.browser, pytest.mark.redis]


class TibThread:
    """The TiB app under uvicorn in a thread, stopped and started again on the same port."""

    def __init__(self, settings: TibSettings, port: int) -> None:
        self.settings, self.port = settings, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> TibThread:
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port,
                                log_level="warning", timeout_graceful_shutdown=1)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server is not None and self.server.started, timeout=20, interval=0.05)
        return self

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the TiB did not stop"


def test_after_a_restart_the_page_fetches_what_it_missed_without_a_reload(
    browser: Any, tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    engine = make_engine(db_url)
    init_db(engine)
    tib_token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1]
    guard_token = create_organisation(
        engine, "Vaktbolaget Öst AB", "0580", "reporter", ["vaktare"], guard_company=True
    )[1]
    settings = TibSettings(
        redis_url=redis_server.url, data_dir=tmp_path / "data", database_url=db_url,
        tib_tile_url="", tib_heartbeat_seconds=2,
    )  # fmt: skip
    redis = Redis.from_url(redis_server.url)
    # The week's lägesbild with one unusual rise (and one ordinary change, not an alarm).
    stats = [cell_stat("Skäggetorp", "skadegorelse", 9, 4, 3.0, alert=True),
             cell_stat("Ryd", "klotter", 5, 4, 4.5)]  # fmt: skip
    xadd(
        redis,
        LAGESBILD_READY_STREAM,
        LagesbildReadyV1(snapshot=SNAP.model_copy(update={"stats": stats})),
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tib = TibThread(settings, port).start()
    api = httpx2.Client(base_url=f"{base}/api/v1/tib", timeout=10)
    as_tib = {"Authorization": f"Bearer {tib_token}"}
    as_guard = {"Authorization": f"Bearer {guard_token}"}
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{base}/tib", wait_until="load")
        page.fill("#nyckel", tib_token)
        page.click("#logga-in")
        page.wait_for_url(f"{base}/tib")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        page.wait_for_function(
            "() => document.getElementById('live-status')?.textContent.includes('ansluten')"
        )

        # the alarm in a sentence: the expected level named as expected, only the rise
        page.wait_for_function("() => document.querySelectorAll('#alerts li').length === 1")
        assert page.locator("#alerts li").inner_text() == (
            "Skadegörelse i Skäggetorp: 9 händelser vecka 47, väntat omkring 3 "
            "(snitt för 8 veckor) – ovanligt högt"
        )

        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        order = {"place": "Ryd centrum", "lat": 58.4106, "lon": 15.5653, "area": "Ryd",
                 "start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat(),
                 "task": "Synlig patrullering", "priority": "normal"}  # fmt: skip
        issued = api.post("/orders", json=order, headers=as_tib)
        assert issued.status_code == 201, issued.text
        order_id = issued.json()["order"]["order_id"]
        page.wait_for_function(
            "() => (document.querySelector('#orders li') || {}).textContent?.includes('utfärdad')"
        )

        # Cut the page off: its stream refused while the TiB restarts, so nothing that
        # happens meanwhile can reach it by push.
        page.route("**/api/v1/tib/stream*", lambda route: route.abort())
        live_fetches: list[str] = []
        page.on(
            "request", lambda r: live_fetches.append(r.url) if "/api/v1/tib/live" in r.url else None
        )
        tib.stop()
        page.wait_for_function(
            "() => document.getElementById('live-status')?.textContent.includes('bröts')"
        )
        missed = accepted("r-while-away", hours_ago=0.1, area="Ryd", category="klotter",
                          lat=58.4106, lon=15.5653)  # fmt: skip
        xadd(redis, ACCEPTED_STREAM, missed)
        tib.start()

        def stored() -> bool:
            reports = api.get("/live", headers=as_tib).json()["reports"]
            return any(r["area"] == "Ryd" for r in reports)

        wait_for(stored, timeout=15)
        acknowledged = api.post(
            f"/orders/{order_id}/acknowledge", json={"note": ""}, headers=as_guard
        )
        assert acknowledged.status_code == 200, acknowledged.text
        assert page.locator("#reports li").count() == 0  # not pushed: the page was cut off
        assert "utfärdad" in page.locator("#orders li").first.inner_text()

        page.unroute("**/api/v1/tib/stream*")  # the network is back: the browser reconnects
        page.wait_for_function(
            "() => document.getElementById('nyheter').textContent.includes('Ansluten igen')",
            timeout=20000,
        )
        page.wait_for_function("() => document.querySelectorAll('#reports li').length === 1")
        assert "Klotter – Ryd" in page.locator("#reports li").first.inner_text()
        page.wait_for_function(
            "() => document.querySelector('#orders li').textContent.includes('kvitterad')"
        )
        assert "ansluten igen" in page.locator("#live-status").inner_text()
        assert live_fetches, "the page did not fetch the live picture again"
        assert navigations == []  # no reload
        # and the stream works again: a new report is pushed as before
        xadd(redis, ACCEPTED_STREAM, accepted("r-after", hours_ago=0.05, area="Skäggetorp"))
        page.wait_for_function(
            "() => document.querySelectorAll('#reports li').length === 2", timeout=5000
        )
        assert errors == []
    finally:
        page.close()
        api.close()
        redis.close()
        tib.stop()
        engine.dispose()
