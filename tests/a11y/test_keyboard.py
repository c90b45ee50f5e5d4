"""Keyboard only, in real Chromium with the pages' CSP on: a report is submitted while the
phone's location is denied; an incident's details are read from the week map (and a
hotspot's); a TiB order is issued, changed and cancelled; a guard acknowledges an order,
checks in and out and reports the outcome on /uppdrag; a meeting decision is recorded.
After navigation to the page, every step is a key press. Live redraws of the order lists
keep focus on the same order's control."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from shapely.geometry import Point

from services.maps.publish import publish_week
from shared.areas import load_area_file
from shared.contracts import LAGESBILD_READY_STREAM, REPORTS_STREAM, LagesbildReadyV1
from shared.streams import entry_payload
from tests.a11y.conftest import Guards, Intake
from tests.a11y.keys import active_id, focus_lost, focus_shown, focused, tab_to, watch_focus
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
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
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


def _wait_status(guards: Guards, order_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (state := guards.state(order_id))["status"] != status:
        assert time.monotonic() < deadline, f"{order_id} stayed {state['status']}, not {status}"
        time.sleep(0.1)
    return state


def _press(page: Any, key: str) -> None:
    """A key press after which focus is still somewhere (never fallen to the page)."""
    page.keyboard.press(key)
    assert not focused(page, "e === document.body"), f"focus fell to the page after {key}"


def test_a_guard_works_an_order_by_keyboard_on_uppdrag(
    keyboard_page: tuple[Any, list[str]], guards: Guards
) -> None:
    page, errors = keyboard_page
    place = "Skäggetorps torg"
    order_id = guards.issue(place)
    page.goto(f"{guards.base}/uppdrag")  # logged out: the login form
    tab_to(page, "e.id === 'nyckel'")
    page.keyboard.type(guards.guard_token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{guards.base}/uppdrag")
    page.wait_for_function("() => document.querySelectorAll('#lista li[data-order]').length === 1")
    watch_focus(page)

    # The order in the list; Enter opens it and focus moves to it.
    tab_to(page, "e.tagName === 'BUTTON' && e.closest('#lista li[data-order]')")
    assert focus_shown(page)
    _press(page, "Enter")
    page.wait_for_function("() => !document.getElementById('detalj').hidden")
    assert active_id(page) == "detalj"
    assert page.get_attribute("#detalj", "aria-labelledby") == "detalj-plats"
    assert page.inner_text("#detalj-plats") == place
    assert page.get_attribute("#besked", "role") == "status"

    # Acknowledge (Enter), check in (Space), check out (Enter): each is announced in the
    # live region, and focus moves on to the next step (the used button is disabled).
    tab_to(page, "e.id === 'kvittera'")
    assert focus_shown(page)
    for key, step, status, label, next_id in (
        ("Enter", "Kvitterat", "acknowledged", "kvitterad", "checka-in"),
        ("Space", "Incheckad", "checked_in", "på plats", "checka-ut"),
        ("Enter", "Utcheckad", "checked_out", "avslutad", "utfall-text"),
    ):
        _press(page, key)
        assert page.inner_text("#besked") == f"{step}: {place}."
        page.wait_for_function(
            f"() => document.getElementById('detalj-status').textContent === '{label}'"
        )
        page.wait_for_function("() => document.getElementById('ko').hidden")  # sent
        assert _wait_status(guards, order_id, status)
        assert active_id(page) == next_id and focus_shown(page), next_id

    # The outcome, with a report: typed, the checkbox by Space, sent with Enter.
    page.keyboard.type("Lugnt, en uppbruten dörr vid entrén")
    _press(page, "Tab")
    assert active_id(page) == "utfall-rapport" and focus_shown(page)
    _press(page, "Space")
    assert page.is_checked("#utfall-rapport") and page.is_visible("#utfall-kategori")
    _press(page, "Tab")
    assert active_id(page) == "utfall-kategori"
    _press(page, "Tab")
    assert active_id(page) == "utfall-beskrivning"
    page.keyboard.type("Dörren vid entrén är uppbruten")
    tab_to(page, "e.id === 'skicka-utfall'")
    assert focus_shown(page)
    _press(page, "Enter")
    assert page.inner_text("#besked") == f"Utfall rapporterat: {place}."
    page.wait_for_function("() => document.getElementById('ko').hidden")
    deadline = time.monotonic() + 10
    while not (state := guards.state(order_id))["incident_reports"]:
        assert time.monotonic() < deadline, "the outcome's report never arrived"
        time.sleep(0.1)
    assert state["status"] == "checked_out" and len(state["incident_reports"]) == 1
    assert active_id(page) == "skicka-utfall"

    # Back to the list (Shift+Tab to the back button): focus returns to the same order.
    tab_to(page, "e.id === 'tillbaka'", key="Shift+Tab")
    _press(page, "Enter")
    assert focused(page, f"e.closest('li[data-order]')?.dataset.order === '{order_id}'")
    assert focus_shown(page)
    assert focus_lost(page) == []
    assert errors == []


def test_redrawn_order_lists_keep_focus_on_the_same_order(
    keyboard_page: tuple[Any, list[str]], guards: Guards
) -> None:
    """The cause of the TiB keyboard test's flakiness: the live `event: order` redraws the
    TiB's order list while a keyboard user is on one of its buttons. Focus stays on the same
    order's control (or, when that control has gone, another of the same order's); the
    guards' list on /uppdrag, redrawn when the network comes back, does the same."""
    page, errors = keyboard_page
    first = guards.issue("Skäggetorps torg")
    guards.issue("Ryds centrum", hours_from_now=3)
    page.goto(f"{guards.base}/tib")
    tab_to(page, "e.id === 'nyckel'")
    page.keyboard.type(guards.tib_token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{guards.base}/tib")
    page.wait_for_function(
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
    )
    page.wait_for_function("() => document.querySelectorAll('#orders li[data-order]').length === 2")
    watch_focus(page)
    edit = "Ändra uppdraget: Skäggetorps torg"
    tab_to(page, f"e.getAttribute('aria-label') === '{edit}'")
    line = f"#orders li[data-order='{first}']"
    before = page.evaluate(f'() => document.querySelector("{line}").textContent')

    assert guards.guard(first, "acknowledge").status_code == 200  # pushed: the list redraws
    page.wait_for_function(
        f"() => document.querySelector(\"{line}\").textContent.includes('kvitterad')"
    )
    assert "kvitterad" not in before
    assert focused(page, f"e.getAttribute('aria-label') === '{edit}'") and focus_shown(page)
    assert guards.guard(first, "check-in").status_code == 200  # "Ändra" goes: "Ställ in"
    page.wait_for_function(
        f"() => document.querySelector(\"{line}\").textContent.includes('på plats')"
    )
    assert focused(page, "e.getAttribute('aria-label') === 'Ställ in uppdraget: Skäggetorps torg'")
    _press(page, "Tab")  # the keyboard goes on from there: the next order's first button
    assert focused(page, "e.getAttribute('aria-label') === 'Ändra uppdraget: Ryds centrum'")
    assert focus_lost(page) == []

    # The guards' page: the list is redrawn when the network goes and comes back.
    page.context.clear_cookies()
    page.goto(f"{guards.base}/uppdrag")
    tab_to(page, "e.id === 'nyckel'")
    page.keyboard.type(guards.guard_token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{guards.base}/uppdrag")
    page.wait_for_function("() => document.querySelectorAll('#lista li[data-order]').length === 2")
    watch_focus(page)
    tab_to(page, "e.tagName === 'BUTTON' && e.textContent.includes('Ryds centrum')")
    page.evaluate("() => { window.__drawn = document.querySelector('#lista li[data-order]'); }")
    page.context.set_offline(True)
    page.wait_for_function(
        "() => document.getElementById('natet').textContent.includes('Inget nät')"
    )
    page.context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('natet').textContent.includes('Ansluten')"
    )
    assert page.evaluate(  # the list was redrawn ...
        "() => !window.__drawn.isConnected"
    )
    assert focused(page, "e.tagName === 'BUTTON' && e.textContent.includes('Ryds centrum')")
    assert focus_shown(page)  # ... and focus is on the same order
    assert focus_lost(page) == []
    assert errors == []
