"""Keyboard only, in real Chromium with the pages' CSP on: a report is submitted while the
phone's location is denied; an incident's details are read from the week map (and a
hotspot's); a TiB order is issued, changed and cancelled; a meeting decision is recorded.
After navigation to the page, every step is a key press."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from shapely.geometry import Point

from services.maps.publish import publish_week
from shared.areas import load_area_file
from shared.contracts import LAGESBILD_READY_STREAM, REPORTS_STREAM, LagesbildReadyV1
from shared.streams import entry_payload
from tests.a11y.conftest import Intake
from tests.a11y.keys import active_id, focused, tab_to
from tests.browser.test_decision_page import Archive
from tests.browser.test_tib_page import xadd
from tests.integration.test_decision_web import decision_snapshot, stream_decisions
from tests.unit.test_render import make_areas
from tests.unit.test_tib_planning import SNAP

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]
AREAS_0580 = Path(__file__).resolve().parents[2] / "shared" / "data" / "areas" / "0580.geojson"


@pytest.fixture
def keyboard_page(browser: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="sv-SE", timezone_id="Europe/Stockholm"
    )  # no permissions granted: the page's request for a position is refused
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{exc} {exc.stack}"))
    yield page, errors
    context.close()


def test_a_report_is_sent_by_keyboard_with_location_denied(
    keyboard_page: tuple[Any, list[str]], intake: Intake
) -> None:
    page, errors = keyboard_page
    page.goto(f"{intake.url}/rapport#nyckel={intake.token}")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    page.wait_for_function("() => localStorage.getItem('lagesbild.platser')")

    # The phone's position is refused: the page says so and offers the search.
    tab_to(page, "e.id === 'min-position'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('plats-text').textContent.includes('gick inte att hämta')"
    )
    assert "Sök en plats" in page.text_content("#plats-text")

    # Sending an empty form: every error at once, at its field, the summary focused.
    tab_to(page, "e.id === 'skicka'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#fel-ruta:not([hidden])")
    assert active_id(page) == "fel-ruta"
    summary = page.inner_text("#fel-lista")
    assert "Kategori: Välj en kategori." in summary and "Plats: Ange plats" in summary
    for field, note in (("kategori", "kategori-fel"), ("plats-sok", "plats-fel")):
        assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
        assert note in (page.get_attribute(f"#{field}", "aria-describedby") or "").split()
    # The summary's first link takes focus to its field: the category buttons (a radio
    # group), where the arrow keys move and Space chooses.
    tab_to(page, "e.closest && e.closest('#fel-lista') && e.tagName === 'A'")
    page.keyboard.press("Enter")
    assert (active_id(page) or "").startswith("kategori-")
    for _ in range(20):
        if active_id(page) == "kategori-klotter":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.is_checked("#kategori-klotter")
    tab_to(page, "e.id === 'plats-sok'")
    page.keyboard.type("Ryd")
    page.wait_for_selector("#plats-forslag:not([hidden])")
    assert page.get_attribute("#plats-sok", "aria-expanded") == "true"
    page.wait_for_function(
        "() => document.getElementById('plats-antal').textContent.includes('förslag')"
    )  # the number of suggestions is announced
    page.keyboard.press("ArrowDown")
    option = page.get_attribute("#plats-sok", "aria-activedescendant")
    assert option and page.get_attribute(f"#{option}", "aria-selected") == "true"
    chosen = page.inner_text(f"#{option}").splitlines()[0]
    page.keyboard.press("Enter")
    assert page.input_value("#plats-sok") == chosen
    assert page.get_attribute("#plats-sok", "aria-invalid") is None
    assert page.text_content("#plats-text").startswith(f"Vald plats: {chosen}")

    tab_to(page, "e.id === 'skicka'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent"
        " === 'Tack! Rapporten är mottagen.'"
    )
    assert active_id(page) == "kvitto"  # focus went to the receipt, not to the page
    redis = Redis.from_url(str(intake.settings.redis_url))
    try:
        entries: Any = redis.xrange(REPORTS_STREAM)
        [(_, fields)] = entries
    finally:
        redis.close()
    report = json.loads(entry_payload(fields))
    areas = load_area_file(AREAS_0580)
    ryd = next(a for a in areas.areas if a.name == "Ryd")
    assert report["category"] == "klotter"
    assert report["location_precision"] == "centroid"  # chosen by name: not the exact spot
    assert ryd.geometry.contains(Point(report["lon"], report["lat"]))  # inside the chosen area
    assert errors == []


def test_an_incident_and_a_hotspot_are_read_from_the_week_map_by_keyboard(
    keyboard_page: tuple[Any, list[str]], tmp_path: Path
) -> None:
    page, errors = keyboard_page
    out = tmp_path / "out"
    publish_week(out, decision_snapshot(), make_areas(), tiles=None)
    page.goto((out / "0580" / "2026-W47" / "karta.html").as_uri())
    page.wait_for_function("() => document.querySelectorAll('.lb-area-label').length > 0")

    # The skip link first; it lands on the tables.
    page.keyboard.press("Tab")
    assert focused(page, "e.classList.contains('lb-skip')")
    page.keyboard.press("Enter")
    assert active_id(page) == "lb-tabeller"
    tab_to(page, "e.tagName === 'SUMMARY' && e.closest('details.lb-list')")
    category = page.evaluate("() => document.activeElement.textContent.trim()")
    page.keyboard.press("Enter")  # opens the category's list
    tab_to(page, "e.classList.contains('lb-show') && e.hasAttribute('data-row')")
    row = page.evaluate(
        "() => [...document.activeElement.closest('tr').cells].map((c) => c.textContent)"
    )
    button = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("Enter")  # "Visa på kartan"
    page.wait_for_selector(".leaflet-popup .lb-popup")
    page.wait_for_function("() => document.activeElement.closest('.leaflet-popup') !== null")
    text = page.inner_text(".leaflet-popup")
    assert category.split(" (")[0].split(" ", 1)[1] in text  # "Kl Klotter (7)" -> "Klotter"
    assert row[0] in text and row[2] in text  # time and source, as the table said
    assert page.get_attribute(".leaflet-popup", "role") == "dialog"
    assert page.get_attribute(".leaflet-popup-close-button", "aria-label") == "Stäng"
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == button

    # On the map itself: Tab from the top reaches a hotspot; Enter opens, Escape closes.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.evaluate("() => document.activeElement.blur()")
    tab_to(page, "e.getAttribute('role') === 'button' && e.classList.contains('lb-hotspot')")
    name = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert name.startswith("Hotspot ")
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .lb-hotspot-popup")
    page.wait_for_function("() => document.activeElement.closest('.leaflet-popup') !== null")
    assert name.split(":")[0].removeprefix("Hotspot ") in page.inner_text(".leaflet-popup")
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == name
    assert errors == []


def test_a_tib_order_is_issued_changed_and_cancelled_by_keyboard(
    keyboard_page: tuple[Any, list[str]], tib_server: tuple[str, str, Redis]
) -> None:
    page, errors = keyboard_page
    base, token, redis = tib_server
    xadd(redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    page.goto(f"{base}/tib")  # the login form
    tab_to(page, "e.id === 'nyckel'")
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/tib")
    page.wait_for_function(
        "() => document.getElementById('live-status').textContent.includes('Live')"
    )
    assert page.get_attribute("#live-status", "role") == "status"

    # The time window: a pressed button says so (not only by colour).
    tab_to(page, "e.dataset && e.dataset.hours === '72'")
    page.keyboard.press("Enter")
    assert page.get_attribute("button[data-hours='72']", "aria-pressed") == "true"
    assert page.get_attribute("button[data-hours='24']", "aria-pressed") == "false"

    tab_to(page, "e.id === 'order-place'")
    page.keyboard.type("Skäggetorps centrum")
    tab_to(page, "e.id === 'order-submit'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('order-message').textContent === 'Uppdraget är utfärdat.'"
    )
    assert active_id(page) == "order-message"
    tab_to(page, "e.getAttribute('aria-label') === 'Ändra uppdraget: Skäggetorps centrum'")
    page.keyboard.press("Enter")
    assert active_id(page) == "order-place"  # the form, now changing that order
    assert page.inner_text("#order-form-rubrik") == "Ändra uppdraget: Skäggetorps centrum"
    page.keyboard.press("Control+A")
    page.keyboard.type("Skäggetorps torg")
    tab_to(page, "e.id === 'order-submit'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('order-message').textContent === 'Uppdraget är ändrat.'"
    )
    tab_to(page, "e.getAttribute('aria-label') === 'Ställ in uppdraget: Skäggetorps torg'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('order-message').textContent"
        ".startsWith('Uppdraget är inställt')"
    )
    assert active_id(page) == "order-message"
    listed = page.inner_text("#orders")
    assert "Skäggetorps torg" in listed and "inställd" in listed and "Ändra" not in listed
    assert errors == []


def test_a_decision_is_recorded_by_keyboard(
    keyboard_page: tuple[Any, list[str]], archive: Archive
) -> None:
    page, errors = keyboard_page
    page.goto(f"{archive.url}/logga-in?next=/0580/beslut")
    tab_to(page, "e.id === 'nyckel'")
    page.keyboard.type(archive.token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#beslutsformular")

    # Sent without a measure: the error summary takes focus; its link leads to the field.
    tab_to(page, "e.id === 'registrera'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#fel")
    assert active_id(page) == "fel"
    assert page.get_attribute("#measure", "aria-invalid") == "true"
    assert page.get_attribute("#measure", "aria-describedby") == "measure-fel"
    page.keyboard.press("Tab")
    assert focused(page, "e.closest('#fel') && e.tagName === 'A'")
    page.keyboard.press("Enter")
    assert active_id(page) == "measure"

    page.keyboard.type("Extra nattvandring fredag och lördag")
    tab_to(page, "e.id === 'target'")
    page.keyboard.type("Norr")
    tab_to(page, "e.id === 'kat-skadegorelse'")
    page.keyboard.press("Space")
    tab_to(page, "e.id === 'responsible'")
    page.keyboard.type("Nattvandrarna")
    tab_to(page, "e.id === 'registrera'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#kvitto")
    assert active_id(page) == "kvitto"  # the receipt has focus
    [event] = stream_decisions(archive.redis_url)
    assert (event.measure, event.target, event.categories) == (
        "Extra nattvandring fredag och lördag", "Norr", ["skadegorelse"],
    )  # fmt: skip
    assert errors == []
