"""The week map is readable (issue #15), in real headless Chromium with the network
blocked: the legend follows the layers that are on, the layer list folds below 1400 px
(on load and on resize) and still works by keyboard, the scale is metric only, and the
area labels lie above the markers without stopping clicks on them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.maps.render import install_assets, render_week_map
from tests.a11y.keys import focused, tab_to
from tests.browser.test_map_page import OfflinePage
from tests.support.snapshots import incident, make_areas, rich_snapshot

pytestmark = pytest.mark.browser

LEGEND = ".lb-legend-control [data-lb-layer='{}']"
EXPANDED = "leaflet-control-layers-expanded"


def _write_map(tmp_path: Path, *, label_marker: bool = False) -> Path:
    snapshot = rich_snapshot()
    if label_marker:  # a lone Brand incident exactly under Norr's label
        point = next(a for a in make_areas().areas if a.name == "Norr").geometry
        spot = point.representative_point()
        extra = incident("b/1", "brand", "Norr", spot.y, spot.x, description="Under etiketten")
        snapshot = snapshot.model_copy(update={"incidents": [*snapshot.incidents, extra]})
    install_assets(tmp_path)
    target = tmp_path / "0580" / "2026-W47" / "karta.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_week_map(snapshot, make_areas(), tiles=None), encoding="utf-8")
    return target


def _overlay(page: Any, label_start: str) -> Any:
    label = page.locator(".leaflet-control-layers-overlays label", has_text=label_start)
    assert label.count() == 1, label_start
    return label.locator("input[type=checkbox]")


def _visible(page: Any, key: str) -> bool:
    return bool(page.locator(LEGEND.format(key)).is_visible())


def _expanded(page: Any) -> bool:
    return EXPANDED in (page.locator(".leaflet-control-layers").get_attribute("class") or "")


def _wait_legend(page: Any, key: str, shown: bool) -> None:
    page.locator(LEGEND.format(key)).wait_for(state="visible" if shown else "hidden")


def test_the_legend_follows_the_layers_that_are_on(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=1600, height=900)
    page = offline.open(_write_map(tmp_path))
    assert _expanded(page)
    # On at first: the areas, hotspots and guards; the change layer is off.
    assert _visible(page, "omraden") and _visible(page, "hotspots") and _visible(page, "narvaro")
    assert not _visible(page, "forandring")
    for name, key in (
        ("Händelser per område", "omraden"),
        ("Hotspots", "hotspots"),
        ("Väktarnas närvaro", "narvaro"),
    ):
        _overlay(page, name).uncheck()
        _wait_legend(page, key, shown=False)
        _overlay(page, name).check()
        _wait_legend(page, key, shown=True)
    _overlay(page, "Förändring mot").check()
    _wait_legend(page, "forandring", shown=True)
    change = page.locator(LEGEND.format("forandring")).inner_text()
    assert "Ingen tydlig förändring" in change and "minst 3" in change
    _overlay(page, "Förändring mot").uncheck()
    _wait_legend(page, "forandring", shown=False)
    assert offline.errors == [] and offline.blocked == []
    page.close()


def test_the_layer_list_folds_below_1400_px_and_on_resize(browser: Any, tmp_path: Path) -> None:
    target = _write_map(tmp_path)
    wide = OfflinePage(browser, width=1600, height=900)
    page = wide.open(target)
    assert _expanded(page)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-control-layers')"
        ".classList.contains('leaflet-control-layers-expanded')"
    )
    page.set_viewport_size({"width": 1600, "height": 900})
    page.wait_for_function(
        "() => document.querySelector('.leaflet-control-layers')"
        ".classList.contains('leaflet-control-layers-expanded')"
    )
    page.close()

    laptop = OfflinePage(browser, width=1366, height=768)
    page = laptop.open(target)
    assert not _expanded(page)
    assert not page.locator(".leaflet-control-layers-overlays").is_visible()
    assert wide.errors == [] and laptop.errors == [] and laptop.blocked == []
    page.close()


def test_the_folded_layer_list_works_by_keyboard(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=1366, height=768)
    page = offline.open(_write_map(tmp_path))
    toggle = "e.classList.contains('leaflet-control-layers-toggle')"
    tab_to(page, toggle)
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Kartlager"
    page.keyboard.press("Enter")
    page.wait_for_selector(f".{EXPANDED}")
    assert focused(page, "e.type === 'checkbox' && e.closest('.leaflet-control-layers')")
    label = page.evaluate("() => document.activeElement.closest('label').textContent.trim()")
    assert label.startswith("Händelser per område")
    page.keyboard.press("Space")  # the areas off: their legend goes
    _wait_legend(page, "omraden", shown=False)
    page.keyboard.press("Space")
    _wait_legend(page, "omraden", shown=True)
    page.keyboard.press("Escape")  # folds it and gives focus back to the button
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-control-layers')"
        ".classList.contains('leaflet-control-layers-expanded')"
    )
    assert focused(page, toggle)
    assert offline.errors == [] and offline.blocked == []
    page.close()


def test_the_scale_is_metric_only(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=1366, height=768)
    page = offline.open(_write_map(tmp_path))
    lines = page.locator(".leaflet-control-scale-line")
    assert lines.count() == 1
    assert re.fullmatch(r"\d+ (m|km)", lines.inner_text().strip()), lines.inner_text()
    page.close()


def test_area_labels_lie_above_markers_and_let_clicks_through(browser: Any, tmp_path: Path) -> None:
    offline = OfflinePage(browser, width=1366, height=768)
    page = offline.open(_write_map(tmp_path, label_marker=True))
    z = page.evaluate(
        """() => ['.leaflet-lb-labels-pane', '.leaflet-marker-pane'].map(
             (s) => Number(getComputedStyle(document.querySelector(s)).zIndex))"""
    )
    assert z[0] > z[1], z
    label = page.locator(".lb-area-label > div", has_text="Norr").bounding_box()
    marker = page.locator(".lb-pt", has=page.locator(".lb-pt-dot", has_text="Br"))
    spot = marker.bounding_box()
    assert label and spot
    # The label covers part of the marker, yet a click there reaches the marker.
    left, right = (
        max(label["x"], spot["x"]),
        min(label["x"] + label["width"], spot["x"] + spot["width"]),
    )
    top = max(label["y"], spot["y"])
    bottom = min(label["y"] + label["height"], spot["y"] + spot["height"])
    assert right - left >= 4 and bottom - top >= 4, (label, spot)  # they overlap
    page.mouse.click((left + right) / 2, (top + bottom) / 2)
    page.wait_for_selector(".leaflet-popup .lb-popup")
    assert "Under etiketten" in page.inner_text(".leaflet-popup")
    assert offline.errors == [] and offline.blocked == []
    page.close()
