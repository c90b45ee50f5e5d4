"""Fixtures of the accessibility suite: Chromium, and the real services each page needs
(the intake here; the TiB and the archive server as their browser tests start them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from services.intake.config import IntakeSettings
from services.intake.main import create_app
from shared.access import create_organisation
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.a11y.support import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.browser.test_decision_page import archive  # noqa: F401 (fixture)
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
