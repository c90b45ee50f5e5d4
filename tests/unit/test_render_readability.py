"""Readability of the rendered week map (issue #15): the same class breaks on the public
and the restricted map, a metric-only scale, area labels above the markers, the layer
list folding below 1400 px. The browser side: tests/browser/test_map_readability.py."""

from __future__ import annotations

import html
import json
import re

import pytest

from services.maps.public import public_summary
from services.maps.render import (
    LABEL_PANE,
    LAYERS_EXPANDED_FROM_PX,
    render_public_map,
    render_week_map,
)
from shared.contracts import AreaCount
from tests.support.artefacts import area_fills
from tests.support.snapshots import AREA_BOXES, incident, make_areas, make_snapshot, rich_snapshot

LEGEND = re.compile(r'"lb-legend-control"\);\s*div\.innerHTML = (".*?");\n', re.S)
ITEM = re.compile(
    r'<li><span class="lb-swatch"[^>]*style="background:(#[0-9a-f]{6})"></span>([^<]*)</li>'
)


def legend_blocks(page: str) -> dict[str, list[tuple[str, str]]]:
    """The map's legend blocks: caption -> [(colour, label)], as the page draws them."""
    found = LEGEND.search(page)
    assert found, "no legend control"
    text = json.loads(found.group(1))
    blocks = {}
    for block in re.findall(r'<div class="lb-box lb-legend.*?</div>', text, re.S):
        caption = re.search(r"<h2>(.*?)</h2>", block)
        assert caption
        items = [(c, html.unescape(label)) for c, label in ITEM.findall(block)]
        blocks[html.unescape(caption.group(1))] = items
    return blocks


def area_breaks(page: str) -> list[tuple[str, str]]:
    """The area classes: (colour, label) of the counts' legend block."""
    return next(v for k, v in legend_blocks(page).items() if k.startswith("Antal händelser"))


def _big_week():
    """A week whose public map withholds some totals ('≥3') and suppresses others."""
    cells = [
        AreaCount(area="Centrum", category="klotter", count=23, previous=9),
        AreaCount(area="Centrum", category="stold", count=1, previous=0),
        AreaCount(area="Norr", category="skadegorelse", count=7, previous=8),
        AreaCount(area="Norr", category="klotter", count=2, previous=1),
        AreaCount(area="Ryd & <Lambohov>", category="klotter", count=1, previous=0),
    ]
    points = [incident(f"k/{k}", "klotter", "Centrum", 58.39, 15.57) for k in range(3)]
    return make_snapshot(points, cells)


@pytest.mark.parametrize("week", [rich_snapshot, _big_week])
def test_public_and_restricted_maps_use_the_same_class_breaks(week) -> None:
    snapshot = week()
    restricted = render_week_map(snapshot, make_areas(), tiles=None)
    public = render_public_map(snapshot, make_areas(), tiles=None)
    mine, theirs = area_breaks(restricted), area_breaks(public)
    # The same colours with the same ranges; only the lowest class is worded differently
    # ("0–2" / "<3"), and the public map may add the withheld colour ("≥3 (dolt)").
    assert mine[0][1] == "0–2" and theirs[0][1] == "<3"
    shown = [item for item in theirs if not item[1].endswith("(dolt)")]
    assert [c for c, _ in mine] == [c for c, _ in shown]
    assert mine[1:] == shown[1:]
    # … and an area whose number the public map shows has the same colour on both.
    totals = {a["area"]: a["total"] for a in public_summary(snapshot)["areas"]}
    fills, public_fills = area_fills(restricted), area_fills(public)
    compared = [a for a in AREA_BOXES if isinstance(totals.get(a), int) and a in public_fills]
    assert compared
    assert all(fills[a] == public_fills[a] for a in compared)


def test_the_scale_is_metric_only() -> None:
    page = render_week_map(rich_snapshot(), make_areas(), tiles=None)
    assert "imperial: false" in page and "L.control.scale()" not in page
    assert page.count("L.control.scale(") == 1


def test_area_labels_are_in_a_pane_above_the_markers() -> None:
    page = render_week_map(rich_snapshot(), make_areas(), tiles=None)
    pane = re.search(r'createPane\(\s*"' + LABEL_PANE + r'"', page)
    assert pane, "no label pane"
    z_index = re.search(r"\.style\.zIndex = (\d+)", page[pane.start() :])
    assert z_index and 600 < int(z_index.group(1)) < 650  # markers 600, tooltips 650
    labels = page.count('"className": "lb-area-label"')
    assert labels == len(AREA_BOXES)
    assert page.count(f'"pane": "{LABEL_PANE}"') == labels


def test_the_layer_list_folds_on_screens_narrower_than_1400_px() -> None:
    page = render_week_map(rich_snapshot(), make_areas(), tiles=None)
    assert LAYERS_EXPANDED_FROM_PX == 1400
    assert re.search(r"lagesbild\.layerControl\([^)]*1400\)", page)
