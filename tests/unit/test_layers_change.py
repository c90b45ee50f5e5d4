"""The change layer's diverging scale (services/maps/layers.py): centred on zero, it
colours only clear changes, so a uniform small change or ordinary noise leaves the
kommun neutral; without a comparable week there is no layer, and the legend says so."""

from __future__ import annotations

import random
from datetime import date
from fractions import Fraction
from math import comb

import folium
import pytest

from services.maps.layers import (
    CLEAR_CHANGE_ALPHA,
    MIN_CLEAR_CHANGE,
    NEUTRAL_LABEL,
    add_change_layer,
    change_p_value,
    change_scale,
    is_clear_change,
)
from services.maps.palette import CHANGE_COLOURS
from services.maps.render import render_week_map
from tests.support.snapshots import js_text, make_areas, rich_snapshot

NEUTRAL = CHANGE_COLOURS[3]


def _exact_p(current: int, previous: int) -> float:
    """The two-sided binomial p-value by its definition: the probability, under
    Bin(n, 1/2), of every outcome no more likely than the observed one."""
    n = current + previous
    if n == 0:
        return 1.0
    prob = [Fraction(comb(n, k), 2**n) for k in range(n + 1)]
    return float(sum(p for p in prob if p <= prob[current]))


@pytest.mark.parametrize(
    ("current", "previous"), [(0, 0), (1, 0), (0, 5), (6, 1), (1, 6), (20, 8), (45, 40), (3, 3)]
)
def test_the_p_value_is_the_exact_binomial_test(current: int, previous: int) -> None:
    assert change_p_value(current, previous) == pytest.approx(_exact_p(current, previous))


def test_a_uniform_small_change_leaves_every_area_neutral() -> None:
    for delta in (1, 2, -1, -2):
        pairs = [(n + delta, n) for n in (0, 3, 10, 40, 200) if n + delta >= 0]
        _, items, colours = change_scale(pairs)
        assert set(colours) == {NEUTRAL}, delta
        assert items[3] == {"colour": NEUTRAL, "label": NEUTRAL_LABEL}


def test_a_large_count_needs_more_than_a_few_to_be_clear() -> None:
    """+5 on 40 is noise; +5 on 0 is not yet clear (p = 1/16); +6 on 0 is."""
    assert not is_clear_change(45, 40)
    assert not is_clear_change(5, 0) and change_p_value(5, 0) == pytest.approx(1 / 16)
    assert is_clear_change(6, 0)
    assert not is_clear_change(2, 0)  # below MIN_CLEAR_CHANGE however unlikely
    assert not is_clear_change(9, None)  # no week before: never coloured


def test_clear_changes_diverge_around_zero() -> None:
    pairs = [(30, 10), (10, 30), (12, 11), (0, 0), (60, 10), (10, 60)]
    _, items, colours = change_scale(pairs)
    up, down, same, zero, big_up, big_down = colours
    assert same == NEUTRAL and zero == NEUTRAL
    assert up in CHANGE_COLOURS[4:] and down in CHANGE_COLOURS[:3]
    # symmetric: the same size of change up and down sits the same distance from the middle
    assert CHANGE_COLOURS.index(up) - 3 == 3 - CHANGE_COLOURS.index(down)
    assert big_up == CHANGE_COLOURS[6] and big_down == CHANGE_COLOURS[0]  # the open ends
    assert [i["colour"] for i in items] == list(CHANGE_COLOURS)
    assert items[4]["label"].startswith(f"+{MIN_CLEAR_CHANGE}")
    assert items[0]["label"].endswith("eller mer") and items[6]["label"].endswith("eller mer")


def test_stable_weeks_colour_few_areas_and_never_the_whole_kommun() -> None:
    """Weeks drawn from an unchanged rate: about ≤ 5 % of areas coloured (false alarms),
    and no week colours all of its ten areas."""
    rng = random.Random(15)
    coloured = total = 0
    for _ in range(300):
        pairs = []
        for rate in (1, 2, 4, 6, 8, 12, 20, 30, 45, 80):
            before = sum(rng.random() < rate / 200 for _ in range(200))
            after = sum(rng.random() < rate / 200 for _ in range(200))
            pairs.append((after, before))
        _, _, colours = change_scale(pairs)
        shaded = sum(c != NEUTRAL for c in colours)
        assert shaded < len(pairs)
        coloured, total = coloured + shaded, total + len(pairs)
    assert coloured / total <= CLEAR_CHANGE_ALPHA


def test_the_layer_reports_whether_anything_changed_clearly() -> None:
    def features(pairs: list[tuple[int, int]]) -> list[dict]:
        return [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [15.6, 58.4]},
                "properties": {"tooltip": f"{c}", "total": c, "previous": p, "change": c - p},
            }
            for c, p in pairs
        ]

    _, items, any_clear = add_change_layer(folium.Map(tiles=None), features([(4, 3), (9, 8)]))
    assert not any_clear and len(items) == 7
    _, _, any_clear = add_change_layer(folium.Map(tiles=None), features([(30, 5), (9, 8)]))
    assert any_clear


def _has(page: str, text: str) -> bool:
    """Text in the page: as folium embeds it (layer names) or as the legend does (UTF-8)."""
    return js_text(text) in page or text in page


def test_without_a_comparable_week_the_layer_is_absent_and_the_legend_says_why() -> None:
    snapshot = rich_snapshot().model_copy(update={"data_from": date(2026, 11, 11)})
    page = render_week_map(snapshot, make_areas(), tiles=None)
    assert not _has(page, "Förändring mot förra veckan")  # no layer, no legend for it
    assert _has(page, "Visas inte: jämförelse saknas: data från 11 nov.")
    compared = render_week_map(rich_snapshot(), make_areas(), tiles=None)
    assert _has(compared, "Förändring mot förra veckan")
    assert _has(compared, "Inget område har ändrats tydligt")  # 6 against 1 is not clear
