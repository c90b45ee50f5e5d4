"""The category colours are told apart by people with a red–green colour deficiency:
CIEDE2000 distances between every pair, with each colour simulated (Machado, Oliveira &
Fernandes 2009, severity 1.0), and the contrasts the accessibility work (#21) requires."""

from __future__ import annotations

import itertools

import pytest

from services.maps import palette
from shared.categories import DEFAULT_CATEGORIES

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula": test data pairs
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]
VISIONS = (None, "deuteranopia", "protanopia")


def _map_colours() -> dict[str, str]:
    """Every colour a point marker can have on the map: the categories and the
    likely duplicates' grey."""
    colours = {code: palette.category_colour(code) for code in DEFAULT_CATEGORIES}
    return {**colours, "dubblett": palette.DUPLICATE_COLOUR}


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected) -> None:
    assert palette.ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert palette.ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)


def test_cielab_of_the_sRGB_primaries() -> None:
    white, red = palette.lab("#ffffff"), palette.lab("#ff0000")
    assert white == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert red == pytest.approx((53.24, 80.09, 67.20), abs=0.05)


def test_the_simulation_keeps_greys_and_merges_red_with_green() -> None:
    """Machado's matrices leave neutral colours alone (each row sums to 1), and a
    classic confusion pair becomes far closer under protanopia and deuteranopia."""
    for grey in ("#000000", "#595959", "#ffffff"):
        for vision in palette.MACHADO_2009:
            assert palette.colour_distance(grey, palette.simulate(grey, vision)) < 1.0
    red, green = "#d62728", "#2ca02c"  # matplotlib's default red and green
    normal = palette.colour_distance(red, green)
    for vision in ("deuteranopia", "protanopia"):
        assert palette.colour_distance(red, green, vision) < normal / 2


@pytest.mark.parametrize("vision", VISIONS)
def test_every_pair_of_category_colours_is_apart(vision: str | None) -> None:
    colours = _map_colours()
    closest = min(
        (palette.colour_distance(colours[a], colours[b], vision), a, b)
        for a, b in itertools.combinations(colours, 2)
    )
    assert closest[0] >= palette.MIN_CATEGORY_DE00, closest
    assert len(set(colours.values())) == len(colours)


@pytest.mark.parametrize("code", [*DEFAULT_CATEGORIES, "dubblett"])
def test_category_colours_keep_their_contrast(code: str) -> None:
    """≥ 3:1 against the bare map (a11y, #21) and white letters on them ≥ 4.5:1."""
    colour = _map_colours()[code]
    assert palette.contrast_ratio(colour, palette.MAP_BACKGROUND) >= 3.0
    assert palette.contrast_ratio(palette.MARKER_TEXT, colour) >= 4.5


def test_extra_categories_get_catalogue_colours() -> None:
    """A category added by configuration reuses a checked colour (its symbol tells it)."""
    catalogue = {c for c, _ in palette.CATEGORY_STYLE.values()}
    assert set(palette.FALLBACK_COLOURS) <= catalogue
    assert palette.category_colour("graffiti_tag") in catalogue
