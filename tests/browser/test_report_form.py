"""The mobile report form in real headless Chromium at a phone's size, network blocked:
fill it in, send it, and see the report stored by the real ingest service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from redis import Redis
from sqlmodel import Session, select

from services.ingest.models import StoredReport
from services.intake.config import IntakeSettings
from services.intake.main import create_app
from shared.access import create_organisation
from shared.contracts import NOLLRAPPORT_STREAM, REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.streams import entry_payload
from tests.conftest import free_port, wait_for
from tests.support.redis_entries import stream_entries

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    url: str
    token: str
    settings: IntakeSettings

    def entries(self, stream: str = REPORTS_STREAM) -> list[dict[str, Any]]:
        redis = Redis.from_url(str(self.settings.redis_url))
        try:
            return [json.loads(entry_payload(f)) for _, f in stream_entries(redis, stream)]
        finally:
            redis.close()

    def stored(self) -> list[StoredReport]:
        with Session(make_engine(self.settings.resolved_database_url)) as s:
            return list(s.exec(select(StoredReport)).all())


@pytest.fixture
def site(service_env: dict[str, str]) -> Iterator[Site]:
    """The intake app under uvicorn in a thread, on a free port, with a real Redis."""
    settings = IntakeSettings(
        redis_url=service_env["LAGESBILD_REDIS_URL"],
        data_dir=Path(service_env["LAGESBILD_DATA_DIR"]),
        database_url=service_env["LAGESBILD_DATABASE_URL"],
        intake_tile_url="",  # offline: the kommun's areas are the base map
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
    yield Site(f"http://127.0.0.1:{port}", token, settings)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ingest(service_env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    """The real ingest service as its own process, as `lagesbild up` runs it."""
    log = (tmp_path / "ingest.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "ingest"],
        env={**os.environ, **service_env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield
    proc.terminate()
    proc.wait(10)
    log.close()


@dataclass
class Phone:
    """A phone-sized page that may only reach 127.0.0.1; records what it tried elsewhere."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def phone(browser: Any) -> Iterator[Phone]:
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="sv-SE",
        timezone_id="Europe/Stockholm",
    )  # fmt: skip
    phone = Phone(context.new_page())

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            phone.blocked.append(route.request.url)
            route.abort()

    phone.page.route("**/*", only_local)
    phone.page.on("pageerror", lambda exc: phone.errors.append(str(exc)))
    yield phone
    context.close()


def _fill_in(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/rapport#nyckel={site.token}")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    assert "nyckel" not in page.url  # the token left the address bar
    page.wait_for_function("() => localStorage.getItem('lagesbild.omraden')")  # the areas
    page.locator("label[data-kod='skadegorelse']").tap()  # a category button
    assert page.is_checked("#kategori-skadegorelse")
    page.locator("#karta").tap()  # the middle of the map: inside the kommun
    assert page.text_content("#plats-text").startswith("Vald plats: ")
    assert page.get_attribute("#plats-sok", "aria-invalid") is None
    page.fill("#beskrivning", "Krossad ruta vid busshållplatsen")


def test_fill_in_send_and_see_it_stored(site: Site, phone: Phone, ingest: None) -> None:
    page = phone.page
    _fill_in(page, site)
    assert page.input_value("#tid")  # defaults to now
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent"
        " === 'Tack! Rapporten är mottagen.'"
    )
    page.wait_for_function(
        "() => document.getElementById('kvitto-status').textContent"
        ".includes('sparad i lägesbilden')",
        timeout=60_000,
    )
    [row] = site.stored()  # (the ingest has trimmed the acknowledged entry off the stream)
    assert (row.organisation, row.category, row.source, row.kommun) == (
        "Securitas", "skadegorelse", "vaktare", "0580",
    )  # fmt: skip
    assert row.description == "Krossad ruta vid busshållplatsen"
    assert page.input_value("#beskrivning") == ""  # ready for the next report
    assert phone.blocked == [] and phone.errors == []


def test_a_lost_answer_is_retried_without_a_second_report(site: Site, phone: Phone) -> None:
    page = phone.page
    posts: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        posts.append(route.request.post_data)
        response = route.fetch()  # the server gets and publishes the report …
        if len(posts) == 1:
            route.abort("connectionreset")  # … but the phone never hears back
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/reports", lose_the_first_answer)
    _fill_in(page, site)
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent"
        " === 'Tack! Rapporten är mottagen.'",
        timeout=20_000,
    )
    assert len(posts) == 2 and posts[0] == posts[1]  # the same report, report_id and all
    [entry] = site.entries()
    assert entry["report_id"] == json.loads(posts[0])["report_id"]
    assert entry["occurred_at"].endswith(("+01:00", "+02:00"))  # the phone's local time
    assert phone.errors == []


def test_a_nollrapport(site: Site, phone: Phone) -> None:
    page = phone.page
    page.goto(f"{site.url}/rapport#nyckel={site.token}")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    page.check("#nollrapport")
    assert page.is_hidden("#karta")
    page.select_option("#omrade", "Ryd")
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent.startsWith('Tack! Nollrapporten')"
    )
    [entry] = site.entries(NOLLRAPPORT_STREAM)
    assert entry["area"] == "Ryd" and entry["message_id"].startswith("Securitas/0580/")
    assert phone.blocked == [] and phone.errors == []


def test_a_wrong_key_is_asked_for_again(site: Site, phone: Phone) -> None:
    page = phone.page
    page.goto(f"{site.url}/rapport#nyckel=fel")
    page.wait_for_selector("#nyckel-ruta:not([hidden])")
    assert "gäller inte" in page.text_content("#nyckel-fel")
    page.fill("#nyckel", site.token)
    page.click("#spara-nyckel")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
