"""Veckans fokus (issue #15): the ranking rule, the time span in words, the one plan
activity, the map picture (valid SVG, the place's polygon, no script) and the pack that
opens with them; the public version in area-level words only."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from shapely.geometry import box

from services.maps.focus import (
    MAX_FOCUS,
    TREND_FACTOR,
    When,
    best_activity,
    focus_places,
    mean_severity,
    when_in_words,
)
from services.maps.meeting import render_meeting_pack
from services.maps.summary import public_summary, week_summary
from services.maps.svg_map import place_map, scale_length
from shared.categories import CATEGORY_SEVERITY, severity
from shared.contracts import DecisionReportV1, HotspotV1, PlanLinkV1, WeekSnapshotV1
from tests.support.snapshots import (
    ACTIVITY,
    HOT_CENTRUM,
    HOT_NORR,
    MEASURE,
    RYD,
    WEEK_START,
    cell_stat,
    make_areas,
    rich_snapshot,
)

SVG = "{http://www.w3.org/2000/svg}"
FRI, SAT, SUN, TUE = 4, 5, 6, 1


def test_when_in_words_names_the_night_it_began() -> None:
    times = [(FRI, 22), (SAT, 23), (SAT, 1), (SUN, 0), (TUE, 10)]
    when = when_in_words(times)
    assert when.text == "fre–lör 22–02"
    assert (when.inside, when.total) == (4, 5)


def test_when_in_words_one_day_all_days_and_no_events() -> None:
    assert when_in_words([(TUE, 8), (TUE, 9), (TUE, 9), (TUE, 8)]).text == "tis 08–10"
    spread = [(d, h) for d in range(7) for h in (12, 13)]
    assert when_in_words(spread).text == "alla dagar 12–14"
    weekdays = [(d, h) for d in range(5) for h in (12, 13)]
    assert when_in_words(weekdays) == When("mån–tor 12–14", 8, 10)  # two thirds: 4 days do
    around_the_clock = [(d, h) for d in range(7) for h in range(0, 24, 2)]
    assert when_in_words(around_the_clock).text.endswith("hela dygnet")
    assert when_in_words([]).text == ""


def test_every_category_has_a_severity_from_one_table() -> None:
    assert set(CATEGORY_SEVERITY) >= {"vald", "klotter", "ovrigt"}
    assert severity("vald") > severity("skadegorelse") > severity("klotter")
    assert severity("an_installations_own") == 1
    assert mean_severity([("vald", 1), ("klotter", 3)]) == pytest.approx(
        (severity("vald") + 3 * severity("klotter")) / 4
    )


def _hotspot(name: str, category: str, score: float, trend: str, k: int) -> HotspotV1:
    west = 15.555 + k * 0.01
    return HotspotV1(
        name=name,
        areas=["Centrum"],
        polygon=[[[west, 58.385], [west + 0.005, 58.385], [west + 0.005, 58.39], [west, 58.385]]],
        centroid=(58.387, west + 0.002),
        count=5,
        previous=3 if trend == "ökar" else 7,
        baseline_mean=None,
        categories={category: 5},
        cells=1,
        score=score,
        trend=trend,
    )


def test_rank_follows_the_documented_rule() -> None:
    snapshot = rich_snapshot()
    places = focus_places(snapshot)
    assert [p.name for p in places] == [HOT_CENTRUM, HOT_NORR]  # the rise is inside Centrum
    top = places[0]
    hotspot = snapshot.hotspots[0]
    expected = math.log2(1 + hotspot.score) * severity("klotter") * TREND_FACTOR["ökar"]
    assert top.priority == pytest.approx(expected, abs=1e-3) and top.rise


def test_severity_and_trend_weigh_equal_significance() -> None:
    base = rich_snapshot()
    spots = [
        _hotspot("Klotterplatsen", "klotter", 6.0, "ökar", 0),
        _hotspot("Våldsplatsen", "vald", 6.0, "ökar", 1),
        _hotspot("Våld som minskar", "vald", 6.0, "minskar", 2),
    ]
    snapshot = base.model_copy(update={"hotspots": spots, "stats": [], "plan_links": []})
    names = [p.name for p in focus_places(snapshot)]
    assert names == ["Våldsplatsen", "Våld som minskar", "Klotterplatsen"]


def test_at_most_five_places_and_a_rise_of_its_own() -> None:
    base = rich_snapshot()
    spots = [_hotspot(f"Plats {k}", "stold", 1.0 + k / 2, "ökar", k) for k in range(7)]
    rise = cell_stat(RYD, "vald", 5, 0, 0.5, alert=True)
    snapshot = base.model_copy(update={"hotspots": spots, "stats": [rise]})
    places = focus_places(snapshot)
    assert len(places) == MAX_FOCUS
    assert places[0].kind == "rise" and places[0].target == RYD  # våld weighs 3
    assert places[0].priority == pytest.approx(
        math.log2(1 + 2.0) * severity("vald") * TREND_FACTOR["ny"], abs=1e-3
    )  # q = 0.01: significance 2
    assert [p.name for p in places[1:]] == ["Plats 6", "Plats 5", "Plats 4", "Plats 3"]


def _link(activity_id: str, categories: list[str], reasons: int) -> PlanLinkV1:
    return PlanLinkV1(
        target="hotspot",
        target_name=HOT_CENTRUM,
        plan_id="p",
        activity_id=activity_id,
        activity=f"Åtgärd {activity_id}",
        focus_area="F",
        responsible=["Kommunen"],
        reasons=[f"skäl {i}" for i in range(reasons)],
        categories=categories,
    )


def test_the_one_activity_shares_the_dominant_category() -> None:
    links = [_link("A", ["vald"], 3), _link("B", ["klotter"], 1), _link("C", ["klotter"], 2)]
    best, others = best_activity(links, "klotter")
    assert best is not None and best.activity_id == "C"
    assert [o.activity_id for o in others] == ["A", "B"]
    none, rest = best_activity(links, "brand")
    assert none is None and len(rest) == 3
    plan_wide, _ = best_activity([_link("D", [], 5)], "klotter")
    assert plan_wide is None  # an activity naming no category is never the highlighted one


def _svg(**kwargs: object) -> ET.Element:
    defaults: dict[str, object] = {
        "svg_id": "k1",
        "title": "Karta: Ryd & <Lambohov>",
        "description": "Hotspotens yta & punkter",
        "place": box(15.565, 58.395, 15.585, 58.405),
        "points": [(58.40, 15.57), (58.401, 15.571)],
        "areas": make_areas(),
    }
    markup = str(place_map(**(defaults | kwargs)))  # type: ignore[arg-type]
    assert "<script" not in markup.lower() and "href" not in markup
    assert "<Lambohov>" not in markup  # names are escaped text
    return ET.fromstring(markup)


def test_map_picture_is_valid_svg_with_the_place_points_and_a_scale() -> None:
    root = _svg()
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    labelled = root.get("aria-labelledby", "").split()
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert labelled and set(labelled) <= ids
    assert root.find(f"{SVG}title").text == "Karta: Ryd & <Lambohov>"  # type: ignore[union-attr]
    places = [p for p in root.iter(f"{SVG}path") if p.get("class") == "place"]
    assert len(places) == 1 and places[0].get("d", "").startswith("M")
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    scale = [t.text or "" for g in root.iter(f"{SVG}g") if g.get("class") == "scale" for t in g]
    assert any(re.fullmatch(r"\d+ (m|km)", text) for text in scale)
    area_labels = {t.text for t in root.iter(f"{SVG}text") if t.get("class") == "area-label"}
    assert "Centrum" in area_labels


def test_map_of_a_rise_frames_its_area_and_nothing_frames_nothing() -> None:
    root = _svg(place=None, points=[], area_name="Norr")
    assert [p for p in root.iter(f"{SVG}path") if p.get("class") == "area"]
    assert str(place_map(svg_id="x", title="t", description="d", place=None, points=[])) == ""


def test_scale_bar_is_a_round_number_of_metres() -> None:
    assert scale_length(2.0) == 200  # 85 units of 2 m
    assert scale_length(10.0) in (500, 1000)


def _with_plan(snapshot: WeekSnapshotV1) -> WeekSnapshotV1:
    links = [
        link.model_copy(update={"categories": ["klotter"]}) if link.target == "hotspot" else link
        for link in snapshot.plan_links
    ]
    other = _link("Z", ["vald"], 1).model_copy(update={"activity": "Våldsprevention"})
    decision = snapshot.open_decisions[0].model_copy(
        update={
            "owner": "Nattvandrarna",
            "progress": "pågår",
            "reports": [
                DecisionReportV1(
                    reported_at=WEEK_START + timedelta(days=3),
                    text="Två kvällar genomförda",
                    by="Nattvandrarna",
                )
            ],
        }
    )
    return snapshot.model_copy(update={"plan_links": [*links, other], "open_decisions": [decision]})


def test_summary_carries_the_focus_with_its_plan_decision_and_presence() -> None:
    summary = week_summary(_with_plan(rich_snapshot()))
    first = summary["focus"][0]
    assert first["name"] == HOT_CENTRUM and first["dominant"] == "klotter"
    assert first["activity"]["activity"] == ACTIVITY
    assert "Klotter" in first["activity"]["categories"]
    assert [a["activity"] for a in first["other_activities"]] == ["Våldsprevention"]
    assert first["decisions"][0]["owner"] == "Nattvandrarna"
    assert "Två kvällar genomförda" in first["decisions"][0]["latest_report"]
    assert first["presence"] and first["when"] == "fre 22–23"
    assert len(first["points"]) == 6 and first["polygon"]


def test_pack_opens_with_the_focus_and_puts_tables_in_the_appendix() -> None:
    page = render_meeting_pack(_with_plan(rich_snapshot()), areas=make_areas())
    headings = ("Veckans fokus", "Kommande dagar", "Öppna beslut", "Medborgarlöften",
                "Samverkansområden", ">Bilaga")  # fmt: skip
    order = [page.index(h) for h in headings]
    assert order == sorted(order)
    bilaga = page.index('<section id="bilaga"')
    assert page.index('<table class="cells">') > bilaga
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="placemap"') == 2
    focus = page[page.index('id="fokus"') : page.index('id="kommande"')]
    assert focus.count('class="best-activity"') == 1 and "1 fler åtgärder" in focus
    assert MEASURE in focus and "Två kvällar genomförda" in focus
    assert "../beslut?target=Centrum%2C+norra+delen&amp;activity=A1" in focus
    ET.fromstring(focus[focus.index("<svg") : focus.index("</svg>") + 6])


def test_public_pack_names_areas_only() -> None:
    snapshot = _with_plan(rich_snapshot())
    summary = public_summary(snapshot)
    assert summary["focus"] == [
        {"area": "Centrum", "categories": ["Klotter"]},
        {"area": "Norr", "categories": []},  # Norr's 2 skadegörelse show as "<3": not named
    ]
    page = render_meeting_pack(summary)
    assert "placemap" not in page and MEASURE not in page and ACTIVITY not in page
    assert "Veckans fokus" in page and "Kommande dagar" not in page
    assert HOT_CENTRUM in page  # the public hotspot table (appendix) names it, as before
