"""The published week in real headless Chromium, network blocked: hotspot popups, the
change layer, the meeting pack (Veckans fokus with its map pictures, the appendix's table,
alerts, coverage, time patterns, print), from a focus place to a decision and its
report-back on the archive server, and the public version (no free text, no names, no
count below 3)."""

# ruff: noqa: F811 (the archive fixtures are imported from test_decision_page)

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.maps.pdf import pdf_page_count
from services.maps.publish import PUBLIC_DIR, publish_week
from tests.browser.test_decision_page import (  # noqa: F401 (archive, local_page: fixtures)
    PACK,
    Archive,
    LocalPage,
    archive,
    local_page,
    log_in,
)
from tests.browser.test_map_page import OfflinePage
from tests.integration.test_decision_web import stream_decisions
from tests.support.snapshots import (
    ACTIVITY,
    DESCRIPTIONS,
    HOT_CENTRUM,
    HOT_NORR,
    MEASURE,
    ORGANISATIONS,
    STATEMENT,
    make_areas,
    rich_snapshot,
)

pytestmark = pytest.mark.browser
WEEK = Path("0580") / "2026-W47"


@pytest.fixture
def published(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    publish_week(out, rich_snapshot(), make_areas(), tiles=None)
    return out


def _open_map(offline: OfflinePage, path: Path) -> Any:
    page = offline.page
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
    return page


def _click_latlng(page: Any, lat: float, lon: float) -> None:
    """Click the map where (lat, lon) is; folium's map is a global named like its div.

    Waits first until the map stands still: an open popup auto-pans the map, and a point
    computed during that animation lands somewhere else on a busy machine."""
    page.wait_for_function(
        """() => { const div = document.querySelector('.folium-map');
                   const m = window[div.id];
                   return !(m._panAnim && m._panAnim._inProgress) && !m._animatingZoom; }"""
    )
    page.wait_for_timeout(100)
    x, y = page.evaluate(
        """([lat, lon]) => {
            const div = document.querySelector('.folium-map');
            const p = window[div.id].latLngToContainerPoint([lat, lon]);
            const box = div.getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
        [lat, lon],
    )
    page.mouse.click(x, y)


def _overlay(page: Any, text: str) -> Any:
    label = page.locator(".leaflet-control-layers-overlays label", has_text=text)
    assert label.count() == 1, text
    return label.locator("input[type=checkbox]")


def test_hotspot_popup_change_layer_and_alerts(browser: Any, published: Path) -> None:
    offline = OfflinePage(browser, width=1600, height=900)  # layer list open from 1400 px
    page = _open_map(offline, published / WEEK / "karta.html")
    overlays = page.locator(".leaflet-control-layers-overlays").inner_text()
    for name in ("Hotspots (2)", "Förändring mot förra veckan", "Klotter (7)", "Täthet"):
        assert name in overlays, name
    assert page.locator("path.lb-hotspot").count() == 2

    _click_latlng(page, 58.403, 15.582)  # inside "Centrum, norra delen", off the markers
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    for expected in (HOT_CENTRUM, "6 händelser (förra veckan 1)", "ökar", "Klotter: 6"):
        assert expected in text, expected
    assert ACTIVITY in text and ORGANISATIONS[1] in text and MEASURE in text
    page.keyboard.press("Escape")
    _click_latlng(page, 58.4335, 15.5635)  # the other hotspot: a gap in the plan
    page.wait_for_function(
        "t => document.querySelector('.leaflet-popup-content')?.innerText.includes(t)",
        arg=HOT_NORR,
    )
    assert "Ingen åtgärd i planen" in popup.inner_text()

    # hotspots toggle off; the change layer and its legend toggle on
    _overlay(page, "Hotspots").uncheck()
    offline.wait_count("path.lb-hotspot", 0)
    change_legend = page.locator(".lb-change-legend")
    assert not change_legend.is_visible()
    _overlay(page, "Förändring mot").check()
    change_legend.wait_for(state="visible")
    assert "+7 eller mer" in change_legend.inner_text() or "+" in change_legend.inner_text()

    # an unusual rise is in the area's tooltip
    _overlay(page, "Förändring mot").uncheck()
    _overlay(page, "Klotter (").uncheck()
    page.mouse.move(0, 0)
    box = page.locator(".folium-map").bounding_box()
    assert box
    x, y = page.evaluate(
        """() => { const d = document.querySelector('.folium-map');
           const p = window[d.id].latLngToContainerPoint([58.386, 15.555]);
           return [p.x, p.y]; }"""
    )
    page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = page.locator(".leaflet-tooltip", has_text="Ovanlig ökning")
    tooltip.wait_for()
    assert "Klotter: 6 (+5 mot förra veckan)" in tooltip.inner_text()
    assert offline.errors == [] and offline.blocked == []
    page.close()


def test_meeting_pack_shows_table_alerts_coverage_and_charts(
    browser: Any,
    published: Path,
) -> None:
    offline = OfflinePage(browser)
    page = offline.page
    page.goto((published / WEEK / "motesunderlag.html").as_uri(), wait_until="load")
    assert "Vecka 47 kom 10 händelser" in page.locator("#vad-har-hant").inner_text()
    focus = page.locator("#fokus article.focus")
    assert focus.count() == 2 and HOT_CENTRUM in focus.first.inner_text()
    picture = focus.first.locator("svg.placemap")
    assert picture.get_attribute("role") == "img" and picture.bounding_box()["width"] > 200
    label_ids = (picture.get_attribute("aria-labelledby") or "").split()
    assert label_ids and all(page.locator(f"#{i}").count() == 1 for i in label_ids)
    rows = page.locator("table.cells tbody tr")
    assert rows.count() == 4
    alert_rows = page.locator("table.cells tr.alert")
    assert alert_rows.count() == 1 and "⚠ Ja" in alert_rows.inner_text()
    assert ACTIVITY in alert_rows.inner_text()
    hotspots = page.locator("table.hotspots").inner_text()
    assert HOT_CENTRUM in hotspots and "Ingen åtgärd i planen" in hotspots
    decisions = page.locator("table.decisions").inner_text()
    assert MEASURE in decisions and STATEMENT in decisions
    coverage = page.locator("table.coverage")
    assert "Securitas Östgöta (6)" in coverage.inner_text()
    missing = coverage.locator("td.status-ej")
    assert missing.inner_text() == "ej rapporterat"
    assert missing.evaluate("e => getComputedStyle(e).color") == "rgb(160, 0, 0)"
    strips = page.locator("svg.timestrip")
    assert strips.count() == 3
    assert strips.first.locator("rect").count() == 7 * 24
    assert strips.first.bounding_box()["width"] > 300

    nav = page.locator("nav")
    assert nav.is_visible()
    page.emulate_media(media="print")
    assert not nav.is_visible()  # no links or controls on paper
    assert page.locator("#bilaga").evaluate("e => getComputedStyle(e).breakBefore") == "page"
    assert "Bilaga" in page.locator("#bilaga h2").inner_text()
    assert page.locator("#fokus svg.placemap").first.is_visible()  # the maps print too
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert offline.errors == [] and offline.blocked == []
    page.close()


def _shown_counts(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_public_pages_have_no_text_names_or_small_counts(
    browser: Any,
    published: Path,
) -> None:
    offline = OfflinePage(browser)
    page = offline.page
    page.goto((published / PUBLIC_DIR / WEEK / "motesunderlag.html").as_uri(), wait_until="load")
    body = page.locator("body").inner_text()
    for secret in (*DESCRIPTIONS, *ORGANISATIONS, MEASURE, ACTIVITY, STATEMENT):
        assert secret not in body, secret
    assert page.locator("svg.timestrip").count() == 0 and page.locator("#beslut").count() == 0
    numbers = _shown_counts(page, "td.num") + _shown_counts(page, "span.n")
    assert len(numbers) >= 10
    for value in numbers:
        assert value in ("<3", "≥3", "–") or int(value.lstrip("+−")) >= 3, value
    assert "ej rapporterat" in page.locator("table.coverage").inner_text()

    map_page = _open_map(offline, published / PUBLIC_DIR / WEEK / "karta.html")
    overlays = map_page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "Händelser per område" in overlays
    assert "Klotter" not in overlays and "Hotspots" not in overlays and "Täthet" not in overlays
    assert offline.count(".marker-cluster") == 0 and offline.count(".lb-pt") == 0
    title = map_page.locator(".lb-title").inner_text()
    assert "10 händelser" in title and "offentlig" in title
    assert "<3" in map_page.locator(".lb-legend").first.inner_text()
    html_text = map_page.content()
    for secret in (*DESCRIPTIONS, *ORGANISATIONS):
        assert secret not in html_text
    assert offline.errors == [] and offline.blocked == []
    page.close()


@pytest.mark.redis
def test_from_veckans_fokus_to_a_report_back_and_the_printout(
    archive: Archive, local_page: LocalPage, tmp_path: Path
) -> None:
    """The pack served by the archive: the first focus place's link opens the decision page
    prefilled with the place; a decision is recorded and reported back on; the pack prints."""
    page = local_page.page
    log_in(page, archive)
    first = page.locator("#fokus article.focus").first
    assert HOT_CENTRUM in first.locator("h3").inner_text()
    link = first.get_by_role("link", name=f"Registrera beslut för {HOT_CENTRUM}")
    link.click()
    page.wait_for_selector("#beslutsformular")
    assert urlsplit(page.url).path == "/0580/beslut"
    assert page.input_value("#target") == HOT_CENTRUM  # prefilled from the focus place
    page.fill("#measure", "Nattvandring vid busstorget")
    page.fill("#owner", "Nattvandrarna")
    page.fill("#responsible", "Nattvandrarna")
    page.fill("#from_week", "v48")
    page.fill("#until_week", "v50")
    page.click("#registrera")
    page.locator("#kvitto").wait_for()
    event = stream_decisions(archive.redis_url)[-1]
    assert event.target == HOT_CENTRUM
    row = page.locator(f'tr.decision[data-id="{event.decision_id}"]')
    row.get_by_text("Återrapportera").click()
    row.get_by_label("Vad har gjorts?").fill("Två kvällar genomförda")
    row.get_by_label("Av vem").fill("Nattvandrarna")
    row.get_by_label("Status").select_option("pågår")
    row.get_by_role("button", name="Skicka återrapport: Nattvandring vid busstorget").click()
    page.locator("#kvitto").wait_for()
    assert "Återrapporten är registrerad" in page.inner_text("#kvitto")
    assert [r.text for r in stream_decisions(archive.redis_url)[-1].reports] == [
        "Två kvällar genomförda"
    ]

    page.goto(f"{archive.url}{PACK}")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf_page_count(pdf) >= 2  # main part, then "Bilaga"
    assert local_page.blocked == [] and local_page.errors == []
