"""Reflow at 320 CSS px (WCAG 1.4.10, as 1280 px at 400 % zoom): no page scrolls sideways,
nothing is hidden, the maps keep a usable size, their title, legend and layer list do not
cover each other, and wide tables scroll inside their own keyboard-reachable frame."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis

from shared.contracts import LAGESBILD_READY_STREAM, LagesbildReadyV1
from tests.a11y.conftest import Guards, Intake
from tests.a11y.support import REFLOW
from tests.browser.test_decision_page import Archive
from tests.browser.test_guard_page import OFFLINE_SHOWN, queued
from tests.browser.test_tib_page import xadd
from tests.unit.test_tib_planning import SNAP

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]
WEEK = "/0580/2026-W47"


@pytest.fixture
def narrow(browser: Any) -> Any:
    width, height = REFLOW
    context = browser.new_context(viewport={"width": width, "height": height}, locale="sv-SE")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def no_sideways_scroll(page: Any, what: str) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] + 1, f"{what} scrolls sideways at 320 px: {widths}"


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    assert found["width"] > 0 and found["height"] > 0, f"{selector} has no size"
    return found


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def inside_width(page: Any, selector: str) -> None:
    b = box(page, selector)
    assert b["x"] >= 0 and b["x"] + b["width"] <= REFLOW[0] + 1, f"{selector} sticks out: {b}"


def scroll_frame_is_reachable(page: Any, selector: str) -> None:
    """A wide table sits in a frame that scrolls and that a keyboard can focus."""
    frame = page.locator(selector).first
    assert frame.get_attribute("tabindex") == "0" and frame.get_attribute("role") == "region"
    inside_width(page, selector)


def check_map(page: Any, public: bool) -> None:
    page.wait_for_function("() => document.querySelectorAll('.lb-area-label').length > 0")
    no_sideways_scroll(page, "the week map")
    map_box = box(page, ".folium-map")
    assert map_box["height"] >= 400 and map_box["width"] >= 319
    title, legend = box(page, ".lb-title"), box(page, ".lb-legend-control summary")
    layers = box(page, ".leaflet-control-layers")
    assert apart(title, legend) and apart(title, layers) and apart(legend, layers)
    for selector in (".lb-title", ".leaflet-control-layers", ".leaflet-control-zoom"):
        inside_width(page, selector)
    # The legend and the layer list open on demand and stay on the screen.
    page.locator(".lb-legend-control summary").click()
    inside_width(page, ".lb-legend")
    page.locator("a.leaflet-control-layers-toggle").click()
    page.wait_for_selector(".leaflet-control-layers-expanded")
    inside_width(page, ".leaflet-control-layers")
    # The tables under the map: every count and link is there, framed.
    scroll_frame_is_reachable(page, ".lb-tables .lb-scroll")
    assert page.locator(".lb-tables a", has_text="Tillgänglighetsredogörelse").is_visible()
    if not public:
        page.locator("details.lb-list summary").first.click()
        show = page.locator("details.lb-list button.lb-show").first
        show.wait_for(state="visible")  # reachable: its frame scrolls it into view
        show.scroll_into_view_if_needed()
        inside_width(page, "details.lb-list button.lb-show")
    no_sideways_scroll(page, "the week map with its legend and lists open")


def test_the_report_form_reflows(narrow: Any, intake: Intake) -> None:
    narrow.goto(f"{intake.url}/rapport#nyckel={intake.token}")
    narrow.wait_for_function("() => document.getElementById('vem').textContent.length > 0")
    narrow.wait_for_function("() => localStorage.getItem('lagesbild.platser')")
    no_sideways_scroll(narrow, "the report form")
    assert box(narrow, "#karta")["height"] >= 200
    for selector in ("#kategori", "#plats-sok", "#min-position", "#tid", "#skicka"):
        inside_width(narrow, selector)
    narrow.fill("#plats-sok", "Skäggetorp")
    narrow.wait_for_selector("#plats-forslag:not([hidden])")
    inside_width(narrow, "#plats-forslag")
    narrow.click("#skicka")
    narrow.wait_for_selector("#fel-ruta:not([hidden])")
    inside_width(narrow, "#fel-ruta")
    no_sideways_scroll(narrow, "the report form with suggestions and errors")
    narrow.goto(f"{intake.url}/tillganglighet")
    no_sideways_scroll(narrow, "the accessibility statement")
    scroll_frame_is_reachable(narrow, ".scroll")


def test_the_tib_page_reflows(narrow: Any, tib_server: tuple[str, str, Redis]) -> None:
    base, token, redis = tib_server
    xadd(redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    narrow.goto(f"{base}/tib")
    no_sideways_scroll(narrow, "the TiB login")
    narrow.fill("#nyckel", token)
    narrow.click("#logga-in")
    narrow.wait_for_function("() => document.querySelectorAll('#hotspots li').length === 2")
    no_sideways_scroll(narrow, "the TiB page")
    map_box = box(narrow, "#map")
    assert map_box["height"] >= 200 and map_box["width"] >= 300  # was 0 px wide
    for selector in ("#windows", "#rubrik-rapporter", "#order-form", "#order-submit"):
        inside_width(narrow, selector)
    assert box(narrow, "#rubrik-rapporter")["y"] >= map_box["y"] + map_box["height"] - 1


def test_the_archive_pages_reflow(narrow: Any, archive: Archive) -> None:
    url = archive.url
    narrow.goto(f"{url}/logga-in")
    no_sideways_scroll(narrow, "the archive login")
    narrow.fill("#nyckel", archive.token)
    narrow.click("#logga-in")
    narrow.wait_for_selector("table")
    no_sideways_scroll(narrow, "the archive index")
    scroll_frame_is_reachable(narrow, ".scroll")
    csv = narrow.get_by_role("link", name="CSV").first
    assert csv.is_visible() or csv.evaluate("(a) => getComputedStyle(a).display !== 'none'")
    narrow.locator(".scroll").first.evaluate("(f) => { f.scrollLeft = f.scrollWidth; }")
    assert csv.is_visible()  # the export links are there, at the frame's far end

    narrow.goto(f"{url}{WEEK}/karta.html")
    check_map(narrow, public=False)
    narrow.goto(f"{url}/offentlig{WEEK}/karta.html")
    check_map(narrow, public=True)

    for path in (f"{WEEK}/motesunderlag.html", f"/offentlig{WEEK}/motesunderlag.html"):
        narrow.goto(f"{url}{path}")
        no_sideways_scroll(narrow, path)
        scroll_frame_is_reachable(narrow, ".scroll")
    narrow.goto(f"{url}/0580/beslut")
    no_sideways_scroll(narrow, "the decision page")
    inside_width(narrow, "#registrera")
    narrow.goto(f"{url}/offentlig/tillganglighet.html")
    no_sideways_scroll(narrow, "the published statement")


def test_the_guards_page_reflows(narrow: Any, guards: Guards) -> None:
    """/uppdrag at 320 px: the login, the list with the map, an opened order with every
    action and the outcome form, and the offline queue line, all on the screen."""
    guards.issue("Skäggetorps torg")
    narrow.goto(f"{guards.base}/uppdrag")
    narrow.wait_for_selector("#nyckel")
    no_sideways_scroll(narrow, "the guards' login")
    narrow.fill("#nyckel", guards.guard_token)
    narrow.click("#logga-in")
    narrow.wait_for_function("() => document.querySelectorAll('#lista li[data-order]').length > 0")
    no_sideways_scroll(narrow, "the guards' order list")
    map_box = box(narrow, "#karta")
    assert map_box["height"] >= 150 and map_box["width"] >= 280  # the page has its margins
    inside_width(narrow, "#lista")
    narrow.locator("#lista li[data-order] button", has_text="Skäggetorps torg").click()
    narrow.wait_for_function("() => !document.getElementById('detalj').hidden")
    for selector in ("#tillbaka", "#kvittera", "#checka-in", "#checka-ut", "#utfall-text",
                     "#skicka-utfall", "#rapportera-harifran"):  # fmt: skip
        inside_width(narrow, selector)
    narrow.context.set_offline(True)
    narrow.wait_for_function(OFFLINE_SHOWN)
    narrow.click("#kvittera")
    narrow.wait_for_function(queued(1))
    inside_width(narrow, "#ko")
    no_sideways_scroll(narrow, "the guards' order, offline with a queued action")
    narrow.context.set_offline(False)
