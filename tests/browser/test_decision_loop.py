"""Decisions that close the loop in real headless Chromium (network blocked beyond
127.0.0.1): from the meeting pack to the decision page, a decision typed loosely ("norr",
"v48", "vecka 51") listed at once as "ej i lägesbilden än", a report-back recorded from its
row; and the archive's folders browsed from `/0580/` to the pack."""

# ruff: noqa: F811 (the fixtures are imported from test_decision_page)
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.test_decision_page import (  # noqa: F401 (archive, local_page: fixtures)
    Archive,
    LocalPage,
    archive,
    local_page,
    log_in,
)
from tests.integration.test_decision_web import stream_decisions

pytestmark = [pytest.mark.browser, pytest.mark.redis]


def test_from_the_pack_to_a_decision_and_its_report_back(
    archive: Archive, local_page: LocalPage
) -> None:
    page = local_page.page
    log_in(page, archive)
    page.get_by_role("link", name="Registrera, återrapportera eller stäng beslut").click()
    page.wait_for_selector("#beslutsformular")
    page.fill("#measure", "Belysning i gångtunneln")
    page.fill("#target", "norr")
    page.fill("#owner", "Tekniska förvaltningen")
    page.fill("#responsible", "Tekniska förvaltningen")
    page.fill("#from_week", "v48")
    page.fill("#until_week", "vecka 51")
    page.click("#registrera")
    page.locator("#kvitto").wait_for()
    [event] = stream_decisions(archive.redis_url)
    assert (event.target, event.from_week, event.until_week) == ("Norr", "2026-W48", "2026-W51")
    row = page.locator(f'tr.decision[data-id="{event.decision_id}"]')
    assert "ej i lägesbilden än" in row.inner_text()
    assert "Tekniska förvaltningen" in row.inner_text() and "Planerad" in row.inner_text()

    row.get_by_text("Återrapportera").click()
    row.get_by_label("Vad har gjorts?").fill("Två armaturer bytta")
    row.get_by_label("Av vem").fill("Tekniska")
    row.get_by_label("Status").select_option("pågår")
    row.get_by_role("button", name="Skicka återrapport: Belysning i gångtunneln").click()
    page.locator("#kvitto").wait_for()
    assert "Återrapporten är registrerad" in page.inner_text("#kvitto")
    row = page.locator(f'tr.decision[data-id="{event.decision_id}"]')
    assert "Två armaturer bytta" in row.locator("li.latest").inner_text()
    assert "Pågår" in row.locator("p.progress").inner_text()
    reported = stream_decisions(archive.redis_url)[-1]
    assert [r.text for r in reported.reports] == ["Två armaturer bytta"]
    assert reported.progress == "pågår"
    assert local_page.blocked == [] and local_page.errors == []


def test_the_archive_folders_lead_to_the_pack(archive: Archive, local_page: LocalPage) -> None:
    page = local_page.page
    log_in(page, archive)
    page.goto(f"{archive.url}/0580/")
    page.get_by_role("link", name="Vecka 47, 2026").click()
    page.wait_for_url(f"{archive.url}/0580/2026-W47/")
    page.get_by_role("link", name="Mötesunderlag").click()
    assert urlsplit(page.url).path == "/0580/2026-W47/motesunderlag.html"
    page.wait_for_selector("h1")
    icon = page.request.get(f"{archive.url}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    assert local_page.blocked == [] and local_page.errors == []
