"""The plan file: the shipped example plans load; bad plans fail with the TOML path and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.plan import PlanError, check_plan, parse_plan, parse_window

PLANS = Path(__file__).resolve().parents[2] / "plans"
KOMMUNER = load_kommuner()

GOOD = """
id = "test"
kommun = "0580"
titel = "Testplan"
period = { fran = 2026-01-01, till = 2026-12-31 }

[[samverkansomraden]]
id = "otrygghet"
namn = "Otrygghet i det offentliga rummet"

[[samverkansomraden.atgarder]]
id = "klotter"
vad = "Snabb klottersanering"
ansvar = ["Kommunen"]
kategorier = ["klotter"]
omraden = ["Skäggetorp"]
tider = ["fre-lör 20:00-03:00"]
"""

PROMISE = '[[medborgarloften]]\nid = "klotter"\nlofte = "Tryggt"\nansvar = ["Polisen"]\n'


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as info:
        check_plan(parse_plan(text), DEFAULT_CATEGORIES, KOMMUNER)
    return info.value.problems


@pytest.mark.parametrize("name", ["linkoping", "mjolby", "eskilstuna"])
def test_the_example_plans_are_valid(name: str) -> None:
    plan = parse_plan((PLANS / f"{name}.toml").read_text(encoding="utf-8"))
    check_plan(plan, DEFAULT_CATEGORIES, KOMMUNER)
    assert plan.focus_areas and all(a.responsible for _, _, a in plan.linked())


def test_linkoping_has_its_eight_samverkansomraden_and_named_measures() -> None:
    plan = parse_plan((PLANS / "linkoping.toml").read_text(encoding="utf-8"))
    assert len(plan.focus_areas) == 8
    measures = {a.what for f in plan.focus_areas for a in f.activities}
    assert {"Broken Windows: snabb klottersanering", "Nattvandring"} <= measures


def test_a_good_plan_parses_into_english_fields() -> None:
    plan = parse_plan(GOOD)
    [activity] = plan.focus_areas[0].activities
    assert (activity.what, activity.areas, activity.responsible) == (
        "Snabb klottersanering",
        ["Skäggetorp"],
        ["Kommunen"],
    )


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (('vad = "Snabb klottersanering"\n', ""), "samverkansomraden[0].atgarder[0].vad", "saknas"),
        (("ansvar =", "ansvarig ="), "samverkansomraden[0].atgarder[0].ansvarig", "okänt fält"),
        (('"fre-lör 20:00-03:00"', '"fre 25-03"'), "samverkansomraden[0].atgarder[0].tider", "tid"),
        (('"fre-lör 20:00-03:00"', '"kväll"'), "samverkansomraden[0].atgarder[0].tider", "t.ex."),
        (("till = 2026-12-31", "till = 2025-12-31"), "period", "slutar före"),
        (('kommun = "0580"', 'kommun = "580"'), "kommun", "4 siffror"),
        (("\n[[samverkansomraden]]", PROMISE + "\n[[samverkansomraden]]"), "", "mer än en gång"),
    ],
)
def test_a_structurally_bad_plan_names_the_path_and_the_fix(
    edit: tuple[str, str], path: str, words: str
) -> None:
    problems = _problems(GOOD.replace(*edit))
    assert any(p == path and words in text for p, text in problems), problems


def test_unknown_category_and_area_are_errors_for_a_kommun_with_an_area_file() -> None:
    bad = GOOD.replace('["klotter"]', '["klottter"]').replace('["Skäggetorp"]', '["Skägget"]')
    problems = dict(_problems(bad))
    assert "okänd kategori 'klottter'" in problems["samverkansomraden[0].atgarder[0].kategorier[0]"]
    assert "okänt område 'Skägget'" in problems["samverkansomraden[0].atgarder[0].omraden[0]"]


def test_area_names_are_not_checked_without_an_area_file_but_categories_are() -> None:
    mjolby = GOOD.replace('"0580"', '"0586"').replace('["Skäggetorp"]', '["Gästisparken"]')
    check_plan(parse_plan(mjolby), DEFAULT_CATEGORIES, KOMMUNER)
    assert _problems(mjolby.replace('["klotter"]', '["graffiti"]'))


def test_a_place_outside_the_kommun_is_an_error() -> None:
    far = GOOD.replace(
        'omraden = ["Skäggetorp"]', 'platser = [{ namn = "Stockholm", lat = 59.33, lon = 18.07 }]'
    )
    [(path, text)] = _problems(far)
    assert path.endswith("platser[0]") and "utanför" in text


def test_invalid_toml_is_reported_with_its_line() -> None:
    [(path, text)] = _problems(GOOD + "\nfel = \n")
    assert path == "" and "TOML" in text and "line" in text


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("fre-lör 20:00-03:00", [(4, 20), (5, 2), (5, 23), (6, 2)], [(4, 3), (6, 20), (0, 1)]),
        ("18-02", [(0, 18), (2, 1), (6, 23)], [(0, 2), (3, 12)]),
        ("mån-fre 07:30-09", [(0, 8), (4, 8)], [(5, 8), (0, 9), (0, 7)]),
        ("sön-mån 22-24", [(6, 22), (0, 23)], [(1, 22)]),
    ],
)
def test_time_windows_cover_the_right_hours(
    text: str, inside: list[tuple[int, int]], outside: list[tuple[int, int]]
) -> None:
    window = parse_window(text)
    assert all(window.covers(d, h) for d, h in inside)
    assert not any(window.covers(d, h) for d, h in outside)
