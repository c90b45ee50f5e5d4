"""Complementary suppression (services/maps/disclosure.py): known answers, and an
attacker who reads the published public files and tries to work out a hidden count."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest

from services.maps.disclosure import Relation, Status, public_counts, suppress
from services.maps.meeting import meeting_context
from services.maps.public import public_summary
from services.maps.publish import PUBLIC_DIR, publish_week
from services.maps.suppress import shown_change, shown_count
from shared.areas import OTHER_AREA
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AreaCount, AreaCoverageV1, HotspotV1, WeekSnapshotV1
from tests.support.snapshots import AREA_BOXES, make_areas, make_snapshot, rich_snapshot

S, H, P = Status.SHOWN, Status.SMALL, Status.HIDDEN  # shown, "<3", "≥3"


def _row(total: int, *parts: int) -> dict[str, Status]:
    values: dict[Hashable, int] = {"t": total, **{f"p{i}": v for i, v in enumerate(parts)}}
    status = suppress(values, [Relation.total("t", [f"p{i}" for i in range(len(parts))])])
    return {str(key): mark for key, mark in status.items()}  # the keys are the names above


def _pattern(status: dict[str, Status]) -> list[Status]:
    return list(status.values())


# --- the rule: known answers ------------------------------------------------------------


def test_one_small_cell_gets_a_partner() -> None:
    # 10 = 4 + 4 + <3: the hidden 2 follows from the total; the smallest shown part
    # (the first 4) is withheld too: 10 = ≥3 + 4 + <3 (6 = 3–6 and 0–2, many ways)
    assert _pattern(_row(10, 4, 4, 2)) == [S, P, S, H]
    assert _pattern(_row(10, 5, 3, 2)) == [S, S, P, H]  # the smaller one


def test_two_small_cells() -> None:
    # 3 + 2 + 1 = 6: the small ones sum to 3 (1+2, 2+1, 0+3 impossible): safe as it is
    assert _pattern(_row(6, 3, 2, 1)) == [S, S, H, H]
    # 7 = 3 + 2 + 2: the small ones sum to 4, so both are 2: withhold the 3 as well
    assert _pattern(_row(7, 3, 2, 2)) == [S, P, H, H]
    # 4 = <3 + <3 with nothing else to withhold: the total goes
    assert _pattern(_row(4, 2, 2)) == [P, H, H]


def test_zero_rows_and_small_sums() -> None:
    # 6 = 6 + 0 + 0: shown, the row would say "nothing else": withhold the 6
    assert _pattern(_row(6, 6, 0, 0)) == [S, P, H, H]
    # a derived sum of 0–2 is itself a small count, even over several cells
    assert _pattern(_row(9, 4, 4, 1, 0)) == [S, P, S, H, H]
    # an empty week: everything is below the threshold, nothing to derive
    assert _pattern(_row(0, 0, 0, 0)) == [H, H, H, H]


def test_totals_below_the_threshold_protect_their_parts() -> None:
    assert _pattern(_row(2, 1, 1, 0)) == [H, H, H, H]
    assert _pattern(_row(2, 2)) == [H, H]


def test_a_row_with_nothing_to_protect_stays_shown() -> None:
    assert _pattern(_row(12, 4, 5, 3)) == [S, S, S, S]
    assert _pattern(_row(3, 3)) == [S, S]


def test_a_withheld_cell_can_force_more_in_its_column() -> None:
    # rows a, b; columns x, y. Row a: 10 = 4 + 4 + <3 withholds (a, x) = 4; column x
    # would then give it away (x = 4 + 5 shown), so (b, x) goes, and then row b.
    cells = {("a", "x"): 4, ("a", "y"): 4, ("a", "z"): 2, ("b", "x"): 5, ("b", "y"): 6}
    cells[("b", "z")] = 7
    rows, cols = ("a", "b"), ("x", "y", "z")
    values: dict[Any, int] = {("cell", r, c): cells[(r, c)] for r in rows for c in cols}
    values |= {("row", r): sum(cells[(r, c)] for c in cols) for r in rows}
    values |= {("col", c): sum(cells[(r, c)] for r in rows) for c in cols}
    values[("all",)] = sum(cells.values())
    relations = [Relation.total(("row", r), [("cell", r, c) for c in cols]) for r in rows]
    relations += [Relation.total(("col", c), [("cell", r, c) for r in rows]) for c in cols]
    relations += [
        Relation.total(("all",), [("row", r) for r in rows]),
        Relation.total(("all",), [("col", c) for c in cols]),
    ]
    status = suppress(values, relations)
    hidden = {k for k, s in status.items() if s is not Status.SHOWN}
    assert hidden == {("cell", "a", "z"), ("cell", "a", "x"), ("cell", "b", "x")} | {
        ("cell", "b", "z")
    }
    assert _attack_values(values, relations, status) == []


def test_hotspot_bounds_count_as_relations() -> None:
    # Centrum 6 = klotter ≥3 + zeros, but a hotspot in Centrum with 6 klotter says the
    # cell is at least 6: the hotspot's klotter is withheld, not the area's total (its
    # count, 6 = klotter + 14 categories below 3, still leaves klotter at 3–6).
    shown = public_counts(rich_snapshot())
    assert shown.areas["Centrum"].count == 6
    assert shown.cells[("Centrum", "klotter")].count == "≥3"
    assert shown.hotspots[0].count == 6 and shown.hotspots[0].categories == {"klotter": "≥3"}
    # a hotspot's category below 3 is not listed ("<3" there would say "1 or 2")
    assert shown.hotspots[1].count == "<3" and shown.hotspots[1].categories == {}


def _attack_values(
    values: dict[Any, int], relations: list[Relation], status: dict[Any, Status]
) -> list[str]:
    marks = {k: _mark(values[k], status[k]) for k in values}
    return _attack(marks, [(r.plus, r.minus, r.exact) for r in relations])


def _mark(value: int, status: Status) -> int | str:
    return value if status is Status.SHOWN else "<3" if status is Status.SMALL else "≥3"


# --- the attacker -----------------------------------------------------------------------

BIG = 10**6
Rel = tuple[tuple[Any, ...], tuple[Any, ...], bool]


def _attack(
    marks: dict[Any, int | str], relations: list[Rel], nonzero: set[Any] | None = None
) -> list[str]:
    """What can be worked out from the shown numbers: a hidden count pinned to one value
    (interval propagation over all relations at once), or a hidden sum below 3 where a
    total is shown. `nonzero`: '<3's the pages show to be 1 or 2. Written apart from the
    module under test, on purpose plainly."""
    lo: dict[Any, int] = {}
    hi: dict[Any, int] = {}
    for key, mark in marks.items():
        if mark == "<3":
            lo[key], hi[key] = (1 if key in (nonzero or set()) else 0), 2
        elif mark == "≥3":
            lo[key], hi[key] = 3, BIG
        else:
            assert isinstance(mark, int)
            lo[key] = hi[key] = mark
    found = []
    for plus, minus, exact in relations:
        head = marks[plus[0]] if exact and len(plus) == 1 else None
        if isinstance(head, int):
            hidden = [k for k in minus if not isinstance(marks[k], int)]
            rest = head - sum(m for k in minus if isinstance(m := marks[k], int))
            if hidden and rest < 3:
                found.append(f"{plus[0]} − shown parts = {rest}: {hidden}")
    changed = True
    while changed:
        changed = False
        for plus, minus, exact in relations:
            for key in (*plus, *minus):
                others_plus = [k for k in plus if k != key]
                others_minus = [k for k in minus if k != key]
                # sum(plus) − sum(minus) == 0 (or >= 0)
                low = sum(lo[k] for k in others_plus) - sum(hi[k] for k in others_minus)
                high = sum(hi[k] for k in others_plus) - sum(lo[k] for k in others_minus)
                if key in plus:  # key == −(others) (or >= −others)
                    new = (-high, -low if exact else BIG)
                else:  # key == others (or <= others)
                    new = (low if exact else 0, high)
                a, b = max(lo[key], new[0]), min(hi[key], new[1])
                if (a, b) != (lo[key], hi[key]):
                    assert a <= b, (key, a, b)
                    lo[key], hi[key], changed = a, b, True
    for key, mark in marks.items():
        if not isinstance(mark, int) and lo[key] == hi[key]:
            found.append(f"{key} = {lo[key]}")
    return found


def _relations_of_summary(summary: dict[str, Any]) -> tuple[dict[Any, Any], list[Rel]]:
    """The public JSON as marks and relations, one week at a time (count, previous).

    A category missing from an area's list is '<3' in both weeks: that is when it is
    left out."""
    codes = [c["category"] for c in summary["categories"]]
    areas = [a["area"] for a in summary["areas"]]
    marks: dict[Any, Any] = {}
    relations: list[Rel] = []
    for week, area_key, total_key in (("count", "total", "total"), ("previous",) * 3):
        kommun_total = summary[total_key if week == "count" else "previous_total"]
        marks[(week, "kommun")] = kommun_total
        for a in summary["areas"]:
            marks[(week, "area", a["area"])] = a[area_key]
            for code in codes:
                cell = a["categories"].get(code)
                marks[(week, "cell", a["area"], code)] = cell[week] if cell else "<3"
        for c in summary["categories"]:
            marks[(week, "category", c["category"])] = c[week]
        kommun = ((week, "kommun"),)
        relations.append((kommun, tuple((week, "area", a) for a in areas), True))
        relations.append((kommun, tuple((week, "category", c) for c in codes), True))
        for a in areas:
            cells = tuple((week, "cell", a, c) for c in codes)
            relations.append((((week, "area", a),), cells, True))
        for c in codes:
            cells = tuple((week, "cell", a, c) for a in areas)
            relations.append((((week, "category", c),), cells, True))
    for i, h in enumerate(summary["hotspots"]):
        marks[("count", "hotspot", i)] = h["count"]
        relations.append(((("count", "kommun"),), (("count", "hotspot", i),), False))
    return marks, relations


def _value(text: str) -> int | str:
    """A count as the pack prints it ("1 234", "<3", "≥3") back as the JSON has it."""
    plain = text.replace("\u202f", "")
    return int(plain) if plain.isdigit() else text


def _with_meeting_pack(
    marks: dict[Any, Any], relations: list[Rel], snapshot: WeekSnapshotV1
) -> set[Any]:
    """Add what the public meeting pack shows of the hotspots: their categories, last
    week's count, and that a hotspot lies in its areas. Returns the '<3's known not to
    be zero: areas whose coverage says "rapporterat", cells flagged as unusual rises."""
    nonzero: set[Any] = set()
    context = meeting_context(snapshot, public=True)
    for row in context["coverage"]:
        if row["status"] == "rapporterat":
            nonzero.add(("count", "area", row["area"]))
    for alert in public_summary(snapshot)["alerts"]:
        nonzero.add(("count", "cell", alert["area"], alert["category"]))
    labels = {label: code for code, label in snapshot.categories.items()}
    rows = context["hotspots"]
    by_name = {h.name: (i, h) for i, h in enumerate(snapshot.hotspots)}
    for row in rows:
        i, h = by_name[row["name"]]
        spot = ("count", "hotspot", i)
        assert marks[spot] == _value(row["count"])  # the pack and the JSON agree
        marks[("previous", "hotspot", i)] = _value(row["previous"])
        parts = []
        listed = {labels[label]: _value(mark) for label, mark in row["categories"]}
        for code in labels.values():  # a category left out is '<3'
            key = ("count", "hotspot-category", i, code)
            marks[key] = listed.get(code, "<3")
            parts.append(key)
            relations.append(((("count", "category", code),), (key,), False))
            cells = tuple(("count", "cell", a, code) for a in h.areas)
            relations.append((cells, (key,), False))
        relations.append(((spot,), tuple(parts), True))
        for week in ("count", "previous"):
            relations.append(
                (tuple((week, "area", a) for a in h.areas), ((week, "hotspot", i),), False)
            )
    return nonzero


def _attack_public_files(snapshot: WeekSnapshotV1, out: Path) -> list[str]:
    publish_week(out, snapshot, make_areas(), tiles=None)
    folder = out / PUBLIC_DIR / snapshot.kommun / snapshot.iso_week
    summary = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
    assert summary == public_summary(snapshot)
    _same_numbers_everywhere(summary, folder)
    marks, relations = _relations_of_summary(summary)
    nonzero = _with_meeting_pack(marks, relations, snapshot)
    return _attack(marks, relations, nonzero)


def _same_numbers_everywhere(summary: dict[str, Any], folder: Path) -> None:
    """The map's tooltips and title and the meeting pack's table show the JSON's numbers."""
    page = (folder / "karta.html").read_text("utf-8")
    page = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m[1], 16)), page)
    page = page.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    for a in summary["areas"]:
        if f"<b>{a['area']}</b>" not in page:
            continue  # an area without a shape on this map
        tip = f"<b>{a['area']}</b><br>{a['total']} händelser {summary['week_label']}<br>"
        tip += f"Förra veckan: {a['previous']}"
        assert tip in page, tip
    title = f'{summary["headline"]} <span class="lb-muted">(förra veckan '
    title += f"{summary['previous_total']}"
    assert title.replace('"', '\\"') in page or title in page, title

    pack = (folder / "motesunderlag.html").read_text("utf-8").replace("&lt;", "<")
    pack = pack.replace("&amp;", "&").replace("&gt;", ">")
    shown_rows = re.findall(
        r'<tr class="cell[^"]*">\s*<td>([^<]*)</td><td>([^<]*)</td>\s*'
        r'<td class="num">([^<]*)</td><td class="num">([^<]*)</td>',
        pack,
    )
    labels = {c["label"]: c["category"] for c in summary["categories"]}
    areas = {a["area"]: a for a in summary["areas"]}
    for area, label, count, previous in shown_rows:
        cell = areas[area]["categories"][labels[label]]
        assert (count, previous) == (str(cell["count"]), str(cell["previous"])), (area, label)
    sentence = re.search(r"Vecka \d+ kom (\S+) händelser", pack)
    assert sentence is not None and sentence[1] == str(summary["total"])


def test_the_attack_finds_what_primary_suppression_alone_gave_away() -> None:
    """The attack test can fail: against '<3' alone (the old public summary) it works out
    the hidden counts of the rich snapshot."""
    summary = public_summary(rich_snapshot())
    for a, full in zip(summary["areas"], _full_areas(rich_snapshot()), strict=True):
        a["total"], a["previous"] = shown_count(full[0]), shown_count(full[1])
        for code, cell in a["categories"].items():
            count, previous = full[2][code]
            cell |= {"count": shown_count(count), "previous": shown_count(previous)}
            cell["change"] = shown_change(count, previous)
    summary["hotspots"][0]["count"] = 6
    for c in summary["categories"]:
        if c["category"] == "skadegorelse":
            c["previous"] = 4
    marks, relations = _relations_of_summary(summary)
    found = _attack(marks, relations)
    assert any("'Centrum'" in f and "= 0" in f for f in found), found


def _full_areas(snapshot: WeekSnapshotV1) -> list[tuple[int, int, dict[str, tuple[int, int]]]]:
    out = []
    for area in [*snapshot.areas]:
        cells = [c for c in snapshot.cells if c.area == area]
        out.append(
            (
                sum(c.count for c in cells),
                sum(c.previous for c in cells),
                {c.category: (c.count, c.previous) for c in cells},
            )
        )
    return out


def test_attack_on_the_published_rich_week(tmp_path: Path) -> None:
    assert _attack_public_files(rich_snapshot(), tmp_path) == []


def random_week(seed: int) -> WeekSnapshotV1:
    """A week of small counts (mostly 0–4, now and then more) in the test kommun's
    areas, with a hotspot or two inside one area."""
    rng = random.Random(seed)
    areas = [*AREA_BOXES, OTHER_AREA]
    codes = rng.sample(list(DEFAULT_CATEGORIES), rng.randint(2, 6))
    cells = []
    for area in areas:
        for code in codes:
            if rng.random() < 0.5:
                count = rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 8, 13])
                previous = rng.choice([0, 0, 1, 2, 3, 4, 6])
                if count or previous:
                    cells.append(
                        AreaCount(area=area, category=code, count=count, previous=previous)
                    )
    hotspots = []
    for k in range(rng.randint(0, 2)):
        busy = [c for c in cells if c.count > 0 and c.area != OTHER_AREA]
        if not busy:
            break
        home = rng.choice(busy).area
        cats = {c.category: rng.randint(1, c.count) for c in busy if c.area == home}
        cats = {c: n for c, n in sorted(cats.items(), key=lambda kv: -kv[1]) if rng.random() < 0.8}
        if not cats:
            continue
        hotspots.append(
            HotspotV1(
                name=f"{home}, del {k}",
                areas=[home],
                polygon=[[[15.56, 58.39], [15.57, 58.39], [15.57, 58.40], [15.56, 58.39]]],
                centroid=(58.395, 15.565),
                count=sum(cats.values()),
                previous=rng.randint(0, sum(c.previous for c in cells if c.area == home)),
                baseline_mean=1.0,
                categories=cats,
                cells=2,
                score=5.0 - k,
                trend="ökar",
            )
        )
    coverage = [
        AreaCoverageV1(
            area=a,
            reports={},
            nollrapporter=[],
            status="rapporterat" if any(c.area == a and c.count for c in cells) else "nollrapport",
        )
        for a in areas
    ]
    return make_snapshot([], cells).model_copy(update={"hotspots": hotspots, "coverage": coverage})


@pytest.mark.parametrize("seed", range(12))
def test_attack_on_published_random_weeks(seed: int, tmp_path: Path) -> None:
    assert _attack_public_files(random_week(seed), tmp_path) == []


@pytest.mark.parametrize("seed", range(12, 200))
def test_attack_on_the_public_summary_of_random_weeks(seed: int) -> None:
    snapshot = random_week(seed)
    marks, relations = _relations_of_summary(public_summary(snapshot))
    nonzero = _with_meeting_pack(marks, relations, snapshot)
    assert _attack(marks, relations, nonzero) == []


def test_same_numbers_give_the_same_pattern() -> None:
    """Last week's columns are suppressed on last week's numbers alone, as that week's
    own publication was (without hotspots on either side)."""
    week = random_week(7).model_copy(update={"hotspots": []})
    shifted = week.model_copy(
        update={
            "cells": [
                AreaCount(area=c.area, category=c.category, count=c.previous, previous=0)
                for c in week.cells
            ]
        }
    )
    before, own = public_counts(week), public_counts(shifted)
    assert {k: c.previous for k, c in before.cells.items()} == {
        k: c.count for k, c in own.cells.items()
    }
    assert {k: c.previous for k, c in before.areas.items()} == {
        k: c.count for k, c in own.areas.items()
    }
