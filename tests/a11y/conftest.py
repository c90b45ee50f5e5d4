"""Fixtures of the accessibility suite: Chromium, and the real services each page needs
(the intake here; the TiB and the archive server as their browser tests start them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis import Redis

from services.intake.config import IntakeSettings
from services.intake.main import create_app
from shared.access import create_organisation
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.a11y.support import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.browser.test_decision_page import archive  # noqa: F401 (fixture)
from tests.browser.test_guard_page import GUARD, Answer, call
from tests.browser.test_tib_page import tib_server  # noqa: F401 (fixture)
from tests.conftest import free_port, wait_for


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = need_chromium()
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Intake:
    url: str
    token: str
    settings: IntakeSettings


@pytest.fixture
def intake(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Intake]:
    """The intake app under uvicorn in a thread (SQLite, real Redis), with a guard
    company's reporting token; no map tiles (the kommun's areas are the base map)."""
    data = tmp_path / "intake"
    settings = IntakeSettings(
        redis_url=redis_server.url,
        data_dir=data,
        database_url=f"sqlite:///{data / 'lagesbild.db'}",
        intake_tile_url="",
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    yield Intake(f"http://127.0.0.1:{port}", token, settings)
    server.should_exit = True
    thread.join(10)


@dataclass
class Guards:
    """The TiB service (the `tib_server` fixture) with a guard company that takes its
    orders: the TiB issues and cancels through its API, the guard logs in on `/uppdrag`."""

    base: str
    tib_token: str
    guard_token: str

    def issue(self, place: str, hours_from_now: int = 1, **changes: Any) -> str:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start += timedelta(hours=hours_from_now)
        body = {
            "place": place,
            "lat": 58.427,
            "lon": 15.589,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=4)).isoformat(),
            "task": "Rond runt centrum och parkeringen",
            "reason": "Fler rapporter om skadegörelse sena kvällar",
            "assigned_to": GUARD,
        } | changes
        answer = call(f"{self.base}/api/v1/tib/orders", body, self.tib_token)
        assert answer.status_code == 201, answer.text
        order_id: str = answer.json()["order"]["order_id"]
        return order_id

    def cancel(self, order_id: str) -> Answer:
        return call(f"{self.base}/api/v1/tib/orders/{order_id}/cancel", {"note": ""},
                    self.tib_token)  # fmt: skip

    def guard(self, order_id: str, step: str) -> Answer:
        return call(f"{self.base}/api/v1/tib/orders/{order_id}/{step}", {}, self.guard_token)

    def guard_orders(self) -> list[dict[str, Any]]:
        """The orders the guard company sees (its own and those to every company)."""
        answer = call(f"{self.base}/api/v1/tib/orders", token=self.guard_token)
        assert answer.status_code == 200, answer.text
        orders: list[dict[str, Any]] = answer.json()
        return orders

    def state(self, order_id: str) -> dict[str, Any]:
        answer = call(f"{self.base}/api/v1/tib/orders", token=self.tib_token)
        assert answer.status_code == 200, answer.text
        state: dict[str, Any] = next(o for o in answer.json() if o["order"]["order_id"] == order_id)
        return state


@pytest.fixture
def guards(tmp_path: Path, tib_server: tuple[str, str, Redis]) -> Guards:  # noqa: F811
    """A guard company in the TiB's database (the same file as `tib_server`'s)."""
    base, tib_token, _ = tib_server
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}")
    guard_token = create_organisation(
        engine, GUARD, "0580", "reporter", ["vaktare"], guard_company=True
    )[1]
    engine.dispose()
    return Guards(base, tib_token, guard_token)
