"""The map's palettes against WCAG 2.1: text 4.5:1, graphics 3:1 (1.4.3, 1.4.11), and
categories told apart by more than colour (1.4.1). Pure arithmetic over the colours the
renderer uses, so a new colour that fails is caught here."""

from __future__ import annotations

import itertools

import pytest

from services.maps import palette
from services.maps.layers import change_classes
from services.maps.render import _public_scale, _scale
from shared.categories import DEFAULT_CATEGORIES

TEXT, GRAPHIC = 4.5, 3.0
WHITE = "#ffffff"


def _fills(opacity: float, under: str) -> list[str]:
    """Every area class as painted: the class colour at `opacity` over `under`."""
    colours = [palette.ZERO_COLOUR, palette.HIDDEN_COLOUR, *palette.SCALE_COLOURS]
    return [palette.blend(c, opacity, under) for c in colours]


def _change_fills() -> list[str]:
    return [
        palette.blend(c, palette.CHANGE_OPACITY, palette.MAP_BACKGROUND)
        for c in palette.CHANGE_COLOURS
    ]


AREA_FILLS = [
    *_fills(palette.AREA_OPACITY_NO_TILES, palette.MAP_BACKGROUND),
    *_fills(palette.AREA_OPACITY_TILES, WHITE),  # over light map tiles
    *_change_fills(),
]


def test_wcag_arithmetic_matches_known_values() -> None:
    assert palette.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert palette.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert palette.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert palette.blend("#000000", 0.5, "#ffffff") == "#808080"


@pytest.mark.parametrize("fill", AREA_FILLS)
def test_neighbouring_areas_are_told_apart_by_their_outline(fill: str) -> None:
    """Two neighbouring areas may share a class or differ slightly in shade; the outline
    between them stands ≥ 3:1 against every class, so each area is a perceivable shape."""
    assert palette.contrast_ratio(palette.AREA_OUTLINE, fill) >= GRAPHIC


@pytest.mark.parametrize("fill", AREA_FILLS)
def test_area_labels_are_readable_on_every_class(fill: str) -> None:
    """The label (name and count, the number behind the class) on its light background."""
    background = palette.blend(palette.LABEL_BACKGROUND, palette.LABEL_BACKGROUND_OPACITY, fill)
    assert palette.contrast_ratio(palette.LABEL_TEXT, background) >= TEXT


def test_scales_step_darker_class_by_class() -> None:
    """The shade grows with the count (and every class is labelled with its range)."""
    for scale in (palette.SCALE_COLOURS, palette.CHANGE_COLOURS[3:]):
        lum = [palette.relative_luminance(c) for c in scale]
        assert lum == sorted(lum, reverse=True)
        assert all(a / b > 1.1 for a, b in itertools.pairwise(lum))
    down = [palette.relative_luminance(c) for c in palette.CHANGE_COLOURS[:4]]
    assert down == sorted(down)
    _, items = _scale(12)  # both maps' classes start with "under 3" (issue #14)
    assert [i["label"] for i in items][:2] == ["0–2", "3–4"]
    _, public = _public_scale(10, hidden=True)
    assert public[0]["label"] == "<3" and public[-1]["label"] == "≥3 (dolt)"
    _, change = change_classes(6)
    assert [i["label"] for i in change][3] == "Ingen tydlig förändring"  # centred on zero


@pytest.mark.parametrize("code", list(DEFAULT_CATEGORIES))
def test_category_symbols_and_cluster_numbers_are_readable(code: str) -> None:
    """White letters (the marker's symbol, the cluster's number) on the category colour."""
    colour = palette.category_colour(code)
    assert palette.contrast_ratio(palette.MARKER_TEXT, colour) >= TEXT


@pytest.mark.parametrize("code", list(DEFAULT_CATEGORIES))
def test_category_markers_stand_out_against_the_map(code: str) -> None:
    """Against the bare map and every area class: the coloured disc, its white ring or the
    dark line around it; and the ring sets the disc off (markers and clusters alike)."""
    colour = palette.category_colour(code)
    assert palette.contrast_ratio(colour, palette.MAP_BACKGROUND) >= GRAPHIC
    assert palette.contrast_ratio(colour, palette.MARKER_RING) >= GRAPHIC
    for fill in AREA_FILLS:
        edges = (colour, palette.MARKER_RING, palette.MARKER_OUTLINE)
        assert max(palette.contrast_ratio(e, fill) for e in edges) >= GRAPHIC, (code, fill)
        assert palette.contrast_ratio(palette.MARKER_OUTLINE, fill) >= GRAPHIC


def test_every_category_has_its_own_symbol() -> None:
    """Colours repeat families; the two letters never do (WCAG 1.4.1)."""
    symbols = [palette.category_symbol(c, label) for c, label in DEFAULT_CATEGORIES.items()]
    assert len(set(symbols)) == len(symbols)
    assert all(1 <= len(s) <= 2 for s in symbols)
    assert palette.category_symbol("graffiti_tag", "Tagg") == "Ta"  # an extra category
    assert palette.contrast_ratio(WHITE, palette.category_colour("graffiti_tag")) >= TEXT
