"""The meeting pack builder (services/maps/meeting.py) and the map's analysis layers,
with known answers on a hand-built snapshot."""

from __future__ import annotations

import json
import re

from services.maps.layers import change_classes, change_colour
from services.maps.meeting import (
    cell_rows,
    coverage_rows,
    decision_rows,
    hotspot_rows,
    meeting_context,
    render_meeting_pack,
    summary_sentences,
    time_strips,
)
from services.maps.render import render_week_map
from shared.areas import OTHER_AREA
from tests.support.snapshots import (
    ACTIVITY,
    DESCRIPTIONS,
    HOT_CENTRUM,
    HOT_NORR,
    MEASURE,
    ORGANISATIONS,
    PATROL_PLACE,
    RYD,
    STATEMENT,
    js_text,
    make_areas,
    make_snapshot,
    rich_snapshot,
)

# --- sentences ------------------------------------------------------------------------


def test_summary_sentences_known_answers() -> None:
    assert summary_sentences(rich_snapshot()) == [
        "Vecka 47 kom 10 händelser, 5 fler än vecka 46 (5).",
        "Det är 67 % över snittet för de 8 veckorna före (6,0).",
        "Störst ökning: Klotter i Centrum (+5), Klotter i Ryd & <Lambohov> (+1), "
        "Ordningsstörning i Övriga kommunen (+1).",
        "Ovanligt hög nivå (1): Klotter i Centrum.",
        "Tydligaste hotspots (säkrast först): Centrum, norra delen (6 händelser, ökar), "
        "Norr, västra delen (2 händelser, minskar).",
        "Väktarna var på plats 7,5 timmar på 1 plats; där kom 4 händelser, 1 av dem medan en "
        "väktare var där.",
    ]


def test_public_sentences_suppress_small_counts() -> None:
    assert summary_sentences(rich_snapshot(), public=True) == [
        "Vecka 47 kom 10 händelser, 5 fler än vecka 46 (5).",
        "Det är 67 % över snittet för de 8 veckorna före (6,0).",
        # every rise involves a count below 3 (6 vs 1, 1 vs 0): no change is shown
        "Ovanligt hög nivå (1): Klotter i Centrum.",
        "Tydligaste hotspots (säkrast först): Centrum, norra delen (6 händelser, ökar), "
        "Norr, västra delen (<3 händelser, minskar).",
    ]


def test_sentences_of_an_empty_week() -> None:
    empty = make_snapshot([])
    assert summary_sentences(empty) == ["Vecka 47 kom 0 händelser, lika många som vecka 46."]
    assert summary_sentences(empty, public=True) == ["Vecka 47 kom <3 händelser; vecka 46: <3."]


# --- tables -----------------------------------------------------------------------------


def test_cell_rows_restricted_and_public() -> None:
    snap = rich_snapshot()
    rows = cell_rows(snap)
    assert [(r["area"], r["category"], r["count"], r["previous"], r["change"]) for r in rows] == [
        ("Centrum", "Klotter", "6", "1", "+5"),
        ("Norr", "Skadegörelse", "2", "4", "−2"),
        (RYD, "Klotter", "1", "0", "+1"),
        (OTHER_AREA, "Ordningsstörning", "1", "0", "+1"),
    ]
    assert rows[0]["alert"] and rows[0]["activities"] == [ACTIVITY] and not rows[0]["gap"]
    assert rows[0]["mean_short"] == "2,0" and rows[0]["mean_long"] == "1,0"
    assert rows[0]["text"].endswith("ovanligt hög")
    public = cell_rows(snap, public=True)
    assert public == [
        {
            "area": "Centrum",
            "category": "Klotter",
            "alert": True,
            "count": "≥3",  # withheld: Centrum's total 6 would show 0 in every other category
            "previous": "<3",
            "change": "–",
        },
        {
            "area": "Norr",
            "category": "Skadegörelse",
            "alert": False,
            "count": "<3",
            "previous": "4",
            "change": "–",
        },
    ]


def test_hotspot_decision_and_coverage_rows() -> None:
    snap = rich_snapshot()
    hot = hotspot_rows(snap)
    assert [h["name"] for h in hot] == [HOT_CENTRUM, HOT_NORR]
    assert hot[0]["categories"] == [("Klotter", "6")]
    assert [link["activity"] for link in hot[0]["links"]] == [ACTIVITY]
    assert hot[0]["decisions"] == [MEASURE] and not hot[0]["gap"]
    assert hot[1]["links"] == [] and hot[1]["gap"]
    public = hotspot_rows(snap, public=True)
    # a listed '<3' would say "1 or 2": left out; the 6 klotter would pin Centrum's cell
    assert public[1]["count"] == "<3" and public[1]["categories"] == []
    assert public[0]["count"] == "6" and public[0]["categories"] == [("Klotter", "≥3")]
    assert "links" not in public[0] and "decisions" not in public[0]

    (decision,) = decision_rows(snap)
    assert decision["measure"] == MEASURE and decision["followup"] == STATEMENT
    assert decision["responsible"] == ORGANISATIONS[2] and decision["status"] == "öppet"
    assert decision["weeks"] == "2026-W45 – 2026-W50"
    assert decision["guard_hours"] == "12,5 h"

    coverage = coverage_rows(snap)
    assert coverage[0]["reporters"] == [f"{ORGANISATIONS[0]} (6)"]
    assert coverage[1]["nollrapporter"] == [ORGANISATIONS[3]]
    assert [c["status"] for c in coverage] == ["rapporterat", "nollrapport", "ej rapporterat"]
    assert coverage_rows(snap, public=True)[0] == {"area": "Centrum", "status": "rapporterat"}


def test_time_strips_kommun_first_then_busiest_areas() -> None:
    strips = time_strips(rich_snapshot())
    assert [s["title"] for s in strips] == ["Hela kommunen", "Centrum", "Norr"]
    kommun = strips[0]
    assert len(kommun["cells"]) == 7 * 24
    by_title = {c["title"]: c["fill"] for c in kommun["cells"]}
    assert by_title["fre 22–23: 7"] == "#bd0026"  # the peak gets the darkest colour
    assert by_title["mån 00–01: 0"] == "#f4f4f4"


def test_public_context_has_no_decisions_or_time_patterns() -> None:
    context = meeting_context(rich_snapshot(), public=True)
    assert context["decisions"] == [] and context["strips"] == [] and context["presence"] == []
    text = json.dumps(context, ensure_ascii=False, default=str)
    for secret in (*ORGANISATIONS, *DESCRIPTIONS, MEASURE, ACTIVITY, STATEMENT, PATROL_PLACE):
        assert secret not in text


def test_meeting_pack_page() -> None:
    page = render_meeting_pack(rich_snapshot())
    assert page.startswith("<!DOCTYPE html>") and '<html lang="sv">' in page
    assert "Mötesunderlag Testköping – vecka 47" in page
    assert "Ryd &amp; &lt;Lambohov&gt;" in page and RYD not in page  # autoescaped
    for text in (ACTIVITY, MEASURE, STATEMENT, "Ingen åtgärd i planen", "ej rapporterat"):
        assert text in page
    presence = re.search(r'<section id="narvaro">.*?</section>', page, re.S)
    assert presence is not None and "Väktarnas närvaro" in presence.group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", presence.group(0))
    assert cells == [PATROL_PLACE, HOT_CENTRUM, "7,5 h", "3", "4", "1", "1"]
    assert "12,5 h" in page  # guard hours at the decision's target
    assert page.count('<svg class="timestrip"') == 3
    assert "@page { size: A4" in page and "@media print" in page


# --- map layers ---------------------------------------------------------------------------


def test_change_classes_and_colours() -> None:
    # Classes of clear changes start at MIN_CLEAR_CHANGE (3); tests/unit/test_layers_change.py
    step, items = change_classes(11)
    assert step == 3
    assert [i["label"] for i in items] == [
        "−9 eller mer",
        "−8 … −6",
        "−5 … −3",
        "Ingen tydlig förändring",
        "+3 … +5",
        "+6 … +8",
        "+9 eller mer",
    ]
    assert change_colour(10, 10, step) == items[3]["colour"]
    assert change_colour(11, 1, step) == items[6]["colour"]
    assert change_colour(0, 20, step) == items[0]["colour"]


def test_map_has_hotspots_change_layer_and_alert_tooltips() -> None:
    page = render_week_map(rich_snapshot(), make_areas(), tiles=None)
    assert js_text("Hotspots (2)") in page
    assert js_text("Förändring mot förra veckan") in page
    assert js_text("⚠ Ovanlig ökning") in page
    assert js_text("Klotter: 6 (+5 mot förra veckan) – ovanligt hög") in page
    # the hotspot popup: name, counts, categories, plan activity, decision, gap
    for text in (HOT_CENTRUM, "6 händelser (förra veckan 1)", ACTIVITY, MEASURE, "Klotter: 6"):
        assert js_text(text) in page, text
    assert js_text("Ingen åtgärd i planen") in page
    assert js_text("Väktarnas närvaro (1)") in page and "lb-presence" in page
    assert len(re.findall(r"lb-change-legend", page)) == 1  # the legend section …
    assert "lagesbild.legendFor(" in page  # … shown while its layer is on
