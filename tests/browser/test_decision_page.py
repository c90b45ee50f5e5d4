"""The decision page in real headless Chromium, network blocked beyond 127.0.0.1: from the
published meeting pack (opened with a meeting token) through "Registrera beslut" at a
hotspot to the receipt, and the DecisionV1 on the stream; then "Stäng"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from services.maps import decision_store
from services.maps.config import MapsSettings
from services.maps.publish import publish_week
from services.maps.server import create_server_app
from shared.access import create_organisation
from shared.contracts import DecisionV1
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, wait_for
from tests.integration.test_decision_web import (
    ACTIVITY_ID,
    decision_snapshot,
    load_test_plan,
    stream_decisions,
    write_area_file,
)
from tests.support.snapshots import HOT_CENTRUM, HOT_NORR, make_areas

pytestmark = [pytest.mark.browser, pytest.mark.redis]
PACK = "/0580/2026-W47/motesunderlag.html"


@dataclass
class Archive:
    url: str
    token: str
    redis_url: str
    engine: Any


@pytest.fixture
def archive(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Archive]:
    """`lagesbild maps-serve` under uvicorn in a thread: the published week, Testköping's
    areas and plan, a meeting token, a real Redis (SQLite)."""
    out = tmp_path / "out"
    publish_week(out, decision_snapshot(), make_areas(), tiles=None)
    settings = MapsSettings(
        redis_url=redis_server.url,
        database_url=f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}",
        output_dir=out,
        data_dir=tmp_path / "data",
        areas_dir=write_area_file(tmp_path / "areas"),
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    load_test_plan(engine)
    _, token = create_organisation(engine, "Samverkansmötet", "0580", "meeting", [])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_server_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    yield Archive(f"http://127.0.0.1:{port}", token, redis_server.url, engine)
    server.should_exit = True
    thread.join(10)


@dataclass
class LocalPage:
    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def local_page(browser: Any) -> Iterator[LocalPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    local = LocalPage(context.new_page())

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            local.blocked.append(route.request.url)
            route.abort()

    local.page.route("**/*", only_local)
    local.page.on("pageerror", lambda exc: local.errors.append(str(exc)))
    yield local
    context.close()


def log_in(page: Any, archive: Archive) -> None:
    """Open the meeting pack without a cookie: the login form; the token; back at the pack."""
    first = page.goto(f"{archive.url}{PACK}")
    assert first is not None and first.status == 401
    page.fill("#nyckel", archive.token)
    page.click("#logga-in")
    page.wait_for_url(f"{archive.url}{PACK}")


def test_from_the_meeting_pack_to_a_recorded_decision(
    archive: Archive, local_page: LocalPage
) -> None:
    page = local_page.page
    log_in(page, archive)
    assert urlsplit(page.url).path == PACK and "token" not in page.url  # now a cookie
    hotspot = page.locator("tr.hotspot", has_text=HOT_NORR)
    link = hotspot.locator("td").first.get_by_role("link", name="Registrera beslut")
    assert link.is_visible()
    page.emulate_media(media="print")
    assert not link.is_visible()  # the printed pack has no links
    page.emulate_media(media="screen")

    link.click()
    page.wait_for_selector("#beslutsformular")
    assert urlsplit(page.url).path == "/0580/beslut"
    assert page.input_value("#target") == HOT_NORR  # prefilled from the hotspot
    assert page.input_value("#from_week") and page.input_value("#until_week")
    page.fill("#measure", "Extra nattvandring fredag och lördag")
    page.check("#kat-skadegorelse")
    page.fill("#responsible", "Nattvandrarna\nFältgruppen")
    page.fill("#from_week", "2026-W48")
    page.fill("#until_week", "2026-W51")
    page.fill("#note", "Följs upp vecka 52")
    page.click("#registrera")

    receipt = page.locator("#kvitto")
    receipt.wait_for()
    text = receipt.inner_text()
    assert "Beslutet är registrerat: Extra nattvandring fredag och lördag vid Norr" in text
    assert "nästa bygge" in text
    [event] = stream_decisions(archive.redis_url)
    assert f"id {event.decision_id}" in text
    assert (event.kommun, event.target, event.status) == ("0580", HOT_NORR, "open")
    assert event.categories == ["skadegorelse"]
    assert event.responsible == ["Nattvandrarna", "Fältgruppen"]
    assert (event.from_week, event.until_week, event.note) == (
        "2026-W48",
        "2026-W51",
        "Följs upp vecka 52",
    )
    assert local_page.blocked == [] and local_page.errors == []


def test_a_plan_link_brings_its_activity_and_a_decision_is_closed(
    archive: Archive, local_page: LocalPage
) -> None:
    stored = DecisionV1(
        decision_id="0580-0000cafe",
        kommun="0580",
        measure="Väktare vid skolan kvällstid",
        target=HOT_CENTRUM,
        responsible=["Securitas"],
        from_week="2026-W45",
        until_week="2026-W50",
        decided_at=datetime(2026, 11, 2, 18, tzinfo=UTC),
    )
    decision_store.save_decision(archive.engine, stored)  # as the archive heard it
    page = local_page.page
    log_in(page, archive)
    row = page.locator("tr.hotspot", has_text=HOT_CENTRUM)
    activity = row.locator("li", has_text="Klottersanering inom 24 timmar")
    activity.get_by_role("link", name="Registrera beslut").click()
    page.wait_for_selector("#beslutsformular")
    assert page.input_value("#target") == HOT_CENTRUM
    assert page.input_value("#activity") == ACTIVITY_ID
    assert page.input_value("#measure") == "Klottersanering inom 24 timmar"
    assert page.is_checked("#kat-klotter")

    decision_row = page.locator("tr.decision", has_text=stored.measure)
    decision_row.locator("input[name=note]").fill("Klart")
    decision_row.get_by_role("button", name="Stäng").click()
    page.locator("#kvitto").wait_for()
    assert "Beslutet är stängt: Väktare vid skolan kvällstid" in page.inner_text("#kvitto")
    [event] = stream_decisions(archive.redis_url)
    assert (event.decision_id, event.status, event.note) == (stored.decision_id, "closed", "Klart")
    assert local_page.blocked == [] and local_page.errors == []
