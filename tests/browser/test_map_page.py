"""The rendered week map in real headless Chromium, with the network blocked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.maps.render import install_assets, render_week_map
from shared.areas import OTHER_AREA
from shared.categories import Source
from shared.contracts import IncidentPoint
from tests.support.snapshots import incident, make_areas, make_snapshot

pytestmark = pytest.mark.browser

DESCRIPTION = "Krossad ruta i <entré> & trapphus"


def _browser_snapshot():
    """Two tight groups (one cluster each) and a few single markers near the map centre."""
    incidents: list[IncidentPoint] = []
    for k in range(20):  # klotter cluster in Norr
        incidents.append(
            incident(f"k/{k}", "klotter", "Norr", 58.425 + k * 1e-4, 15.575 + k * 1e-4)
        )
    for k in range(10):  # skadegörelse cluster in Centrum
        incidents.append(incident(f"s/{k}", "skadegorelse", "Centrum", 58.39 + k * 1e-4, 15.58))
    incidents += [
        incident("k/single-1", "klotter", "Ryd & <Lambohov>", 58.42, 15.615),
        incident("k/single-2", "klotter", "Ryd & <Lambohov>", 58.40, 15.640),
        incident(
            "s/single",
            "skadegorelse",
            "Ryd & <Lambohov>",
            58.41,
            15.627,
            hours=4 * 24 + 22.25,
            description=DESCRIPTION,
        ),
        incident(
            "p/1",
            "ordningsstorning",
            OTHER_AREA,
            58.41,
            15.675,
            source=Source.POLIS,
            precision="centroid",
            description="kommunnivå",
        ),
    ]
    return make_snapshot(incidents)


class OfflinePage:
    """A page that may only load file: URLs, recording errors and blocked requests."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.route("**/*", self._route)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
        self.page.wait_for_function("() => document.querySelectorAll('.marker-cluster').length > 0")
        return self.page

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def wait_count(self, selector: str, expected: int) -> None:
        self.page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[selector, expected]
        )


def _write_map(tmp_path: Path, tiles: str | None) -> Path:
    install_assets(tmp_path)
    target = tmp_path / "0580" / "2026-W47" / "karta.html"
    target.parent.mkdir(parents=True)
    target.write_text(
        render_week_map(_browser_snapshot(), make_areas(), tiles=tiles), encoding="utf-8"
    )
    return target


def _overlay_checkbox(page: Any, label_start: str) -> Any:
    label = page.locator(".leaflet-control-layers-overlays label", has_text=label_start)
    assert label.count() == 1, f"no single layer control entry {label_start!r}"
    return label.locator("input[type=checkbox]")


def test_offline_map_layers_and_popup(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=1600, height=900)  # layer list open from 1400 px
    page = offline.open(_write_map(tmp_path, tiles=None))

    assert page.locator(".folium-map.leaflet-container").count() == 1
    overlays = page.locator(".leaflet-control-layers-overlays").inner_text()
    for name in (
        "Klotter (22)",
        "Skadegörelse (11)",
        "Täthet",
        "Händelser per område",
        "Områdesnamn",
    ):
        assert name in overlays
    assert "Ordningsstörning" not in overlays  # centroid-only: a count, not points
    title = page.locator(".lb-title").inner_text()
    assert "Lägesbild Testköping" in title and "Händelser utan plats (kommunnivå" in title
    legend = page.locator(".lb-legend").first.inner_text()
    assert "Antal händelser vecka 47 (16–22 nov 2026)" in legend
    assert page.locator(".lb-area-label", has_text="Ryd & <Lambohov>").count() == 1

    # One cluster per category, three single markers; toggling Klotter hides its share.
    assert offline.count(".marker-cluster") == 2
    assert offline.count(".lb-pt") == 3
    klotter = _overlay_checkbox(page, "Klotter (")
    klotter.uncheck()
    offline.wait_count(".marker-cluster", 1)
    offline.wait_count(".lb-pt", 1)
    klotter.check()
    offline.wait_count(".marker-cluster", 2)
    klotter.uncheck()
    offline.wait_count(".lb-pt", 1)

    page.locator(".lb-pt").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "Skadegörelse" in text
    assert DESCRIPTION in text  # shown as text, not parsed as markup
    assert "fre 20 nov 22:15" in text and "Väktare" in text
    assert popup.locator("entré").count() == 0

    heat = _overlay_checkbox(page, "Täthet")
    assert not heat.is_checked()
    heat.check()
    page.wait_for_selector("canvas.leaflet-heatmap-layer")

    assert offline.errors == []
    assert offline.blocked == []  # everything came from file:
    page.close()


def test_map_with_osm_tiles_works_when_tiles_are_blocked(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser)
    page = offline.open(_write_map(tmp_path, tiles="OpenStreetMap"))
    assert offline.count(".marker-cluster") == 2
    assert offline.blocked, "expected the tile requests to be blocked"
    assert all("tile.openstreetmap.org" in url for url in offline.blocked), offline.blocked
    page_errors = [e for e in offline.errors if e.startswith("pageerror")]
    tile_noise = "Failed to load resource"
    assert page_errors == [] and all(tile_noise in e for e in offline.errors)
    page.close()


def test_layer_list_folds_away_on_a_phone(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=390, height=844)
    page = offline.open(_write_map(tmp_path, tiles=None))
    control = page.locator(".leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in (control.get_attribute("class") or "")
    page.locator("a.leaflet-control-layers-toggle").click()
    page.wait_for_selector(".leaflet-control-layers-expanded")
    assert "Klotter (22)" in page.locator(".leaflet-control-layers-overlays").inner_text()
    assert offline.errors == [] and offline.blocked == []
    page.close()
