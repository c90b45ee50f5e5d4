"""axe-core (WCAG 2.0/2.1 A and AA rules) in real Chromium over every page and its states,
at a phone's size and a laptop's: zero violations. The run's page list is what the
accessibility statement says was tested (shared/data/a11y/resultat.json)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from redis import Redis

from shared.contracts import ACCEPTED_STREAM, LAGESBILD_READY_STREAM, LagesbildReadyV1
from shared.weeks import STOCKHOLM
from tests.a11y.conftest import Guards, Intake
from tests.a11y.support import (
    SIZES,
    Recorder,
    assert_accessible,
    axe_context,
    check_results,
)
from tests.browser.test_decision_page import Archive
from tests.browser.test_guard_page import OFFLINE_SHOWN, queued
from tests.browser.test_tib_page import xadd
from tests.integration.test_tib_service import accepted
from tests.unit.test_tib_planning import SNAP

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]
WEEK = "/0580/2026-W47"


def _report_form(page: Any, intake: Intake, size: str, rec: Recorder) -> None:
    name, path = "Rapportformuläret", "/rapport"
    page.goto(f"{intake.url}/rapport")
    page.wait_for_selector("#nyckel-ruta:not([hidden])")
    assert_accessible(page, name, path, "nyckel saknas", size, rec)
    page.goto(f"{intake.url}/rapport#nyckel={intake.token}")
    page.reload()
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    page.wait_for_selector("#karta .leaflet-control-zoom-in")
    page.wait_for_function("() => localStorage.getItem('lagesbild.platser')")  # places loaded
    assert_accessible(page, name, path, "tomt", size, rec)
    page.fill("#plats-sok", "Ryd")
    page.wait_for_selector("#plats-forslag:not([hidden])")
    page.press("#plats-sok", "ArrowDown")
    assert_accessible(page, name, path, "platsförslag öppna", size, rec)
    page.press("#plats-sok", "Escape")
    page.fill("#plats-sok", "")
    page.click("#skicka")
    page.wait_for_selector("#fel-ruta:not([hidden])")
    assert_accessible(page, name, path, "med fel", size, rec)
    page.check("#kategori-klotter")
    page.fill("#plats-sok", "Ryd")
    page.wait_for_selector("#plats-forslag:not([hidden])")
    page.press("#plats-sok", "Enter")
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent.startsWith('Tack!')"
    )
    assert_accessible(page, name, path, "skickad", size, rec)
    page.goto(f"{intake.url}/tillganglighet")
    assert_accessible(page, "Tillgänglighetsredogörelsen", "/tillganglighet", "visad", size, rec)


def fill_order(page: Any, place: str) -> None:
    """The order form's place and a shift from the next whole hour, four hours long."""
    start = datetime.now(STOCKHOLM).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    page.fill("#order-place", place)
    page.fill("#order-start", f"{start:%Y-%m-%dT%H:%M}")
    page.fill("#order-end", f"{start + timedelta(hours=4):%Y-%m-%dT%H:%M}")


def _tib(page: Any, tib: tuple[str, str, Redis], size: str, rec: Recorder) -> None:
    base, token, _ = tib
    name = "TiB"
    page.goto(f"{base}/tib")
    assert_accessible(page, name, "/logga-in", "inloggning", size, rec)
    page.fill("#nyckel", token)
    page.click("#logga-in")
    page.wait_for_url(f"{base}/tib")
    page.wait_for_function(
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
    )
    page.wait_for_function("() => document.querySelectorAll('#hotspots li').length === 2")
    page.wait_for_function("() => document.querySelectorAll('#visits li').length > 0")
    assert_accessible(page, name, "/tib", "live", size, rec)
    fill_order(page, "Skäggetorps centrum")
    page.click("#order-submit")
    page.wait_for_function(
        "() => document.getElementById('order-message').textContent.includes('utfärdat')"
    )
    assert_accessible(page, name, "/tib", "uppdrag utfärdat", size, rec)
    page.locator("#orders button", has_text="Ändra").first.click()
    page.wait_for_selector("#order-abort:not([hidden])")
    assert_accessible(page, name, "/tib", "uppdrag ändras", size, rec)
    page.fill("#order-place", "")
    page.click("#order-submit")
    page.wait_for_selector("#order-errors:not([hidden])")
    assert_accessible(page, name, "/tib", "uppdrag med fel", size, rec)


def _guard_page(page: Any, guards: Guards, size: str, rec: Recorder) -> None:
    """/uppdrag: logged out, the list, an order opened, an action queued without network,
    and an action the TiB refused meanwhile (the order was cancelled)."""
    name, path, base = "Väktarnas uppdrag", "/uppdrag", guards.base
    first = guards.issue("Skäggetorps torg")
    guards.issue("Ryds centrum", hours_from_now=3)
    page.context.clear_cookies()  # logged out (the TiB's session of the steps above)
    page.goto(f"{base}/uppdrag")
    page.wait_for_selector("#nyckel")
    assert_accessible(page, name, path, "inloggning", size, rec)
    page.fill("#nyckel", guards.guard_token)
    page.click("#logga-in")
    page.wait_for_url(f"{base}/uppdrag")
    shown = len(guards.guard_orders())  # these two and the TiB page's order to everyone
    page.wait_for_function(
        f"() => document.querySelectorAll('#lista li[data-order]').length === {shown}"
    )
    assert_accessible(page, name, path, "uppdragslista", size, rec)
    page.locator("#lista li[data-order] button", has_text="Skäggetorps torg").click()
    page.wait_for_function("() => !document.getElementById('detalj').hidden")
    assert_accessible(page, name, path, "uppdrag öppet", size, rec)
    page.context.set_offline(True)
    page.wait_for_function(OFFLINE_SHOWN)
    page.click("#kvittera")
    page.wait_for_function(queued(1))
    assert_accessible(page, name, path, "utan nät, åtgärd i kö", size, rec)
    assert guards.cancel(first).status_code == 200  # the TiB cancels it meanwhile
    page.context.set_offline(False)
    page.wait_for_selector("#meddelande:not([hidden])")
    page.wait_for_function("() => document.getElementById('ko').hidden")
    assert "gick inte" in page.inner_text("#meddelande")
    assert_accessible(page, name, path, "åtgärd avvisad", size, rec)


def _open_map(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
    page.wait_for_function("() => document.querySelectorAll('.lb-area-label').length > 0")


def popup_shown(page: Any, inner: str) -> None:
    """The popup is open and its fade-in has ended (axe reads colours as they are painted)."""
    page.wait_for_selector(f".leaflet-popup {inner}")
    page.wait_for_function(
        "() => { const p = document.querySelector('.leaflet-popup');"
        " return p && getComputedStyle(p).opacity === '1'; }"
    )


def _archive(page: Any, archive: Archive, size: str, rec: Recorder) -> None:
    url = archive.url
    page.goto(f"{url}/logga-in")
    assert_accessible(page, "Arkivet", "/logga-in", "inloggning", size, rec)
    page.fill("#nyckel", archive.token)
    page.click("#logga-in")
    page.wait_for_selector("table")
    assert_accessible(page, "Arkivet", "/index.html", "veckolista", size, rec)

    name, path = "Veckokartan", "/{kommun}/{vecka}/karta.html"
    _open_map(page, f"{url}{WEEK}/karta.html")
    assert_accessible(page, name, path, "stängd", size, rec)
    page.locator("details.lb-list summary").first.click()
    page.locator("details.lb-list button.lb-show").first.click()
    popup_shown(page, ".lb-popup")
    assert_accessible(page, name, path, "händelsepopup öppen", size, rec)
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    page.locator("button[data-hotspot]").first.click()
    popup_shown(page, ".lb-hotspot-popup")
    assert_accessible(page, name, path, "hotspotpopup öppen", size, rec)
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    assert_accessible(page, name, path, "tabeller öppna", size, rec)

    page.goto(f"{url}{WEEK}/motesunderlag.html")
    assert_accessible(page, "Mötesunderlaget", "/{kommun}/{vecka}/motesunderlag.html", "visat",
                      size, rec)  # fmt: skip

    name, path = "Beslutssidan", "/{kommun}/beslut"
    page.goto(f"{url}/0580/beslut")
    page.wait_for_selector("#beslutsformular")
    assert_accessible(page, name, path, "tomt", size, rec)
    page.fill("#target", "")
    page.fill("#from_week", "vecka 3")
    page.click("#registrera")
    page.wait_for_selector("#fel")
    assert_accessible(page, name, path, "med fel", size, rec)
    page.fill("#measure", "Extra nattvandring fredag")
    page.fill("#target", "Norr")
    page.fill("#responsible", "Nattvandrarna")
    page.fill("#from_week", "2026-W48")
    page.fill("#until_week", "2026-W50")
    page.click("#registrera")
    page.wait_for_selector("#kvitto")
    assert_accessible(page, name, path, "registrerat", size, rec)
    page.locator("details.report summary").first.click()
    assert_accessible(page, name, path, "återrapport öppen", size, rec)
    page.locator("form.report-form textarea").first.fill("Två pass gjorda")
    page.locator("form.report-form select").first.select_option("pågår")
    page.locator("form.report-form button").first.click()
    page.wait_for_selector("ul.reports li.latest")
    assert_accessible(page, name, path, "återrapporterat", size, rec)

    page.goto(f"{url}/offentlig/index.html")
    assert_accessible(page, "Offentliga arkivet", "/offentlig/index.html", "veckolista", size, rec)
    name, path = "Offentliga veckokartan", "/offentlig/{kommun}/{vecka}/karta.html"
    _open_map(page, f"{url}/offentlig{WEEK}/karta.html")
    assert_accessible(page, name, path, "stängd", size, rec)
    page.goto(f"{url}/offentlig{WEEK}/motesunderlag.html")
    public_pack = "/offentlig/{kommun}/{vecka}/motesunderlag.html"
    assert_accessible(page, "Offentliga mötesunderlaget", public_pack, "visat", size, rec)


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_and_state_has_no_axe_violations(
    size: str,
    browser: Any,
    intake: Intake,
    tib_server: tuple[str, str, Redis],
    guards: Guards,
    archive: Archive,
) -> None:
    _, _, redis = tib_server
    xadd(redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=SNAP))
    xadd(redis, ACCEPTED_STREAM, accepted("r-1", hours_ago=2, category="klotter"))
    rec = Recorder(browser=f"Chromium {browser.version}")
    context = axe_context(browser, SIZES[size])
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _report_form(page, intake, size, rec)
        _tib(page, tib_server, size, rec)
        _guard_page(page, guards, size, rec)
        _archive(page, archive, size, rec)
    finally:
        context.close()
    assert rec.failures() == [], "\n".join(rec.failures())
    check_results(rec, size)
