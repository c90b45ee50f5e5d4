"""Matching plan activities to hotspots and rises: by category, area, place and time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from services.aggregate.plan_match import AreaOf, Target, link_plans
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import PlanGapV1, PlanLinkV1
from shared.geo import distance_m
from shared.plan import Plan, parse_plan

PLANS = Path(__file__).resolve().parents[2] / "plans"
LINKOPING = parse_plan((PLANS / "linkoping.toml").read_text(encoding="utf-8"))
MJOLBY = parse_plan((PLANS / "mjolby.toml").read_text(encoding="utf-8"))
WEEK_2026 = (date(2026, 11, 16), date(2026, 11, 22))
FRIDAY_22, TUESDAY_10 = (4, 22), (1, 10)


def _links(
    target: Target,
    plans: Sequence[Plan] = (LINKOPING,),
    week: tuple[date, date] = WEEK_2026,
    area_of: AreaOf | None = None,
) -> tuple[list[PlanLinkV1], list[PlanGapV1]]:
    return link_plans(list(plans), [target], week, DEFAULT_CATEGORIES, area_of)


def test_a_hotspot_gets_the_activities_for_its_area_category_and_time_with_reasons() -> None:
    spot = Target(
        "hotspot",
        "Skäggetorp, norra delen",
        ("Skäggetorp",),
        ("storande_samling",),
        (58.43, 15.58),
        200.0,
        (FRIDAY_22, FRIDAY_22, TUESDAY_10),
    )
    links, gaps = _links(spot)
    by_id = {link.activity_id: link for link in links}
    assert gaps == []
    assert {"hotspot-patrullering", "nattvandring", "tib-trygghetsvaktare"} <= set(by_id)
    patrol = by_id["hotspot-patrullering"]
    assert patrol.responsible == ["Polisen"] and patrol.focus_area == "Sociala risker"
    assert patrol.reasons == [
        "kategori: Störande samling",
        "område: Skäggetorp",
        "tid: 2 av 3 händelser inom fre-lör 18:00-03:00",
    ]
    assert "faltarbete-skolor" not in by_id  # "mån-fre 14:00-22:00" ends before 22:00
    assert "narkotika-insatser" not in by_id  # other category


def test_an_activity_whose_time_window_no_event_falls_in_does_not_match() -> None:
    spot = Target(
        "hotspot", "Skäggetorp", ("Skäggetorp",), ("storande_samling",), times=(TUESDAY_10,)
    )
    ids = {link.activity_id for link in _links(spot)[0]}
    assert "hotspot-patrullering" not in ids and "nattvandring" not in ids


def test_a_place_matches_a_hotspot_within_reach_and_a_rise_through_its_area() -> None:
    # Mjölby: Gallerian at (58.3243, 15.1296), radius 250 m.
    near = Target(
        "hotspot", "Centrum", (), ("ordningsstorning",), (58.3260, 15.1296), 100.0, (FRIDAY_22,)
    )
    far = Target("hotspot", "Väster", (), ("ordningsstorning",), (58.3243, 15.10), 100.0)
    week_2019 = (date(2019, 6, 3), date(2019, 6, 9))
    [link], _ = _links(near, [MJOLBY], week_2019)
    assert link.activity_id == "polispatrullering-centrum" and "plats: Gallerian" in link.reasons
    assert _links(far, [MJOLBY], week_2019) == ([], [_links(far, [MJOLBY], week_2019)[1][0]])
    kommun = load_kommuner()["0580"]
    rise = Target("rise", "Innerstaden / Ordningsstörning", ("Innerstaden",), ("ordningsstorning",))
    ids = {link.activity_id for link in _links(rise, area_of=kommun.area_of)[0]}
    assert "resecentrum-narvaro" in ids  # Resecentrum lies in Innerstaden


def test_an_unmatched_hotspot_is_a_gap_and_without_plans_there_are_no_gaps() -> None:
    spot = Target("hotspot", "Malmslätt", ("Malmslätt",), ("brand",))
    links, [gap] = _links(spot)
    assert links == [] and (gap.target_name, gap.categories) == ("Malmslätt", ["brand"])
    assert _links(spot, plans=()) == ([], [])


def test_an_activity_outside_its_period_does_not_match() -> None:
    # Mjölby's grannsamverkan runs May–September only; the plan ends 2020.
    rise = Target("rise", "x / Inbrott", ("x",), ("inbrott",))
    in_summer = {link.activity_id for link in _links(rise, [MJOLBY], (date(2019, 6, 3),) * 2)[0]}
    in_2024 = _links(rise, [MJOLBY], (date(2024, 6, 3), date(2024, 6, 9)))
    assert "grannsamverkan" in in_summer
    assert in_2024 == ([], [])  # a plan that has ended is as good as none


def test_distance_is_about_right() -> None:
    assert abs(distance_m(58.41, 15.62, 58.42, 15.62) - 1113) < 2
