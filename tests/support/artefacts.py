"""Read a published week back: the numbers every artefact shows, parsed from the files.

Used by the consistency tests (tests/integration/test_one_set_of_numbers.py on the real
demo, tests/unit/test_counting_properties.py on generated weeks): each parser returns what
a reader of that artefact sees — the week's total, per area and per category — so the
tests can assert that every artefact tells the same story. Counts are ints, or the
public version's "<3" / "≥3".
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Shown = int | str  # an int, or "<3" / "≥3"
COUNT = r"([\d\u202f]+|&lt;3|<3|≥3|&ge;3)"


def number(text: str) -> Shown:
    """ "1 234" -> 1234; "&lt;3" -> "<3"; "≥3" stays."""
    plain = html.unescape(text).replace("\u202f", "").replace("\xa0", "").strip()
    return int(plain) if plain.isdigit() else plain


@dataclass
class Seen:
    """What one artefact shows of a week. None / missing keys: not shown there."""

    name: str
    total: Shown | None = None
    areas: dict[str, Shown] = field(default_factory=dict)
    categories: dict[str, Shown] = field(default_factory=dict)  # by category code
    cells: dict[tuple[str, str], Shown] = field(default_factory=dict)
    partial: bool = False  # lists only some areas (e.g. labels only on named areas)


@dataclass(frozen=True)
class Truth:
    """The week's numbers from the stored reports themselves (the counting rule applied by
    hand: every report that is not linked as a likely duplicate)."""

    total: int
    areas: dict[str, int]
    categories: dict[str, int]
    cells: dict[tuple[str, str], int]
    reports: int
    duplicates: int

    @classmethod
    def of(cls, reports: list[tuple[str, str, bool]]) -> Truth:
        """`reports`: (area, category, is a likely duplicate) for every stored report."""
        counted = [(a, c) for a, c, dup in reports if not dup]
        cells = Counter(counted)
        areas: Counter[str] = Counter()
        categories: Counter[str] = Counter()
        for (a, c), n in cells.items():
            areas[a] += n
            categories[c] += n
        return cls(
            total=len(counted),
            areas=dict(areas),
            categories=dict(categories),
            cells=dict(cells),
            reports=len(reports),
            duplicates=len(reports) - len(counted),
        )


def agrees(shown: Shown, true: int) -> bool:
    """A shown count tells the truth: equal, or a public "<3" for 0–2 / "≥3" for 3 or more."""
    if isinstance(shown, int):
        return shown == true
    if shown == "<3":
        return true < 3
    if shown == "≥3":
        return true >= 3
    return False


def check(seen: Seen, truth: Truth, *, public: bool = False, complete: bool = True) -> None:
    """Every number the artefact shows agrees with the truth. `complete`: it lists every
    area and category with händelser (a restricted artefact must; a public one may leave a
    row out); areas or categories it does not list must then have none."""
    where = seen.name
    if seen.total is not None:
        assert agrees(seen.total, truth.total), (where, "total", seen.total, truth.total)
        assert public or isinstance(seen.total, int), (where, seen.total)
    tables: list[tuple[str, dict[Any, Shown], dict[Any, int]]] = [
        ("area", seen.areas, truth.areas),
        ("category", seen.categories, truth.categories),
        ("cell", seen.cells, truth.cells),
    ]
    for kind, shown, true in tables:
        for key, value in shown.items():
            assert agrees(value, true.get(key, 0)), (where, kind, key, value, true.get(key, 0))
            assert public or isinstance(value, int), (where, kind, key, value)
        if complete and shown and not seen.partial:
            missing = {k: n for k, n in true.items() if n and k not in shown}
            assert not missing, (where, kind, "not shown", missing)


# --- pages ----------------------------------------------------------------------------------


def decode_js(page: str) -> str:
    """The page with its JSON/JS string escapes (\\uXXXX, \\") undone, for the regexes."""
    page = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), page)
    return page.replace('\\"', '"').replace("\\/", "/")


def _objects_after(page: str, marker: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(re.escape(marker), page):
        try:
            value, _ = decoder.raw_decode(page, match.end())
        except json.JSONDecodeError:
            continue
        found.append(value)
    return found


def area_features(page: str) -> list[dict[str, Any]]:
    """The area shapes' properties of the map's count layer (tooltip, fill, alert)."""
    features = []
    for collection in _objects_after(page, "_add("):
        if not isinstance(collection, dict):
            continue
        for f in collection.get("features", []):
            props = f.get("properties", {})
            if "tooltip" in props and "alert" in props:
                features.append(props)
    return features


def _tooltip_area(tooltip: str) -> tuple[str, Shown]:
    match = re.match(rf"<b>(.*?)</b><br>{COUNT} händelser?\b", tooltip)
    assert match, tooltip
    return html.unescape(match[1]), number(match[2])


def map_seen(page: str, labels: dict[str, str], *, public: bool = False) -> list[Seen]:
    """Everything the map shows, one `Seen` per place on the page: the title box, the area
    tooltips, the labels under the area names, the layer list, the points in each
    category's layer, and the tables under the map. `labels`: category label -> code. (A
    kommun without named areas has no area shapes, labels or area table.)"""
    name = "offentlig karta" if public else "karta"
    text = decode_js(page)
    out = []

    title = re.search(rf'class="lb-total">{COUNT} händelser?\b', text)
    assert title, f"{name}: no total in the title box"
    out.append(Seen(f"{name}: rubrik", total=number(title[1])))

    tips = Seen(f"{name}: områdenas tooltips")
    for props in area_features(page):
        area, value = _tooltip_area(props["tooltip"])
        tips.areas[area] = value
    out.append(tips)

    named = Seen(f"{name}: siffran vid områdesnamnet", partial=True)  # named areas only
    for area, value in re.findall(
        rf'<span class="lb-area-name">([^<]*)</span><span class="lb-area-n">(?:⚠ )?{COUNT} '
        r"händelser?\b",
        text,
    ):
        named.areas[html.unescape(area)] = number(value)
    out.append(named)

    table = Seen(f"{name}: tabellen per område")
    section = text[text.find('id="lb-t-omraden"') :]
    section = section[: section.find("</table>")]
    for area, value in re.findall(
        rf'<tr><th scope="row">([^<]*)</th><td class="num">{COUNT}</td>', section
    ):
        table.areas[html.unescape(area)] = number(value)
    out.append(table)

    if public:
        return out

    # only categories with points have a layer (`map_points` checks which those are)
    layers = Seen(f"{name}: kartlagrens namn", partial=True)
    overlays = text[text.find("overlays") :]
    overlays = overlays[: overlays.find("}")]
    for label, value in re.findall(r'</span>([^<"]+) \(([\d\u202f]+)[;)]', overlays):
        code = labels.get(html.unescape(label))
        if code is not None:
            layers.categories[code] = number(value)
    out.append(layers)

    listed = Seen(f"{name}: tabellen per kategori")
    for code, value in re.findall(
        r'<details class="lb-list" data-category="([^"]+)">\s*<summary><span[^>]*>[^<]*</span>'
        r" [^<]*? \(([\d\u202f]+)(?:; [^)]*)?\)</summary>",
        text,
    ):
        if code != "dubblett":
            listed.categories[code] = number(value)
    out.append(listed)
    return out


def map_points(page: str) -> dict[str, int]:
    """How many markers each category layer draws (code -> points), from the embedded data
    of every `lagesbild.addCategory` call; the likely duplicates' layer is "dubblett"."""
    decoder = json.JSONDecoder()
    points: dict[str, int] = {}
    for match in re.finditer(r"var data = (?=\[)", page):
        rows, end = decoder.raw_decode(page, match.end())
        call = page.find("lagesbild.addCategory(cluster, ", end)
        style, _ = decoder.raw_decode(page, call + len("lagesbild.addCategory(cluster, "))
        points[style["code"]] = len(rows)
    return points


def area_fills(page: str) -> dict[str, str]:
    """Each area's colour on the map (its colour class)."""
    return {_tooltip_area(p["tooltip"])[0]: p["fill"] for p in area_features(page)}


def pack_seen(page: str, labels: dict[str, str], *, public: bool = False) -> list[Seen]:
    """The meeting pack: its headline, the "Vad har hänt" sentence and the area × category
    table (restricted: every cell with händelser is a row, so its sums are the areas' and
    the categories' totals)."""
    name = "offentligt mötesunderlag" if public else "mötesunderlag"
    text = page  # entities left as they are ("&lt;3"): `number` and `unescape` undo them
    out = []
    headline = re.search(r'<p class="headline"><b>([^<]*?) händelser?\b', text)
    assert headline, f"{name}: no headline"
    out.append(Seen(f"{name}: rubrik", total=number(headline[1])))
    sentence = re.search(r"Vecka \d+ kom ([^ ]+) händelser?\b", text)
    assert sentence, f"{name}: no first sentence"
    out.append(Seen(f"{name}: vad har hänt", total=number(sentence[1])))
    rows = re.findall(
        r'<tr class="cell[^"]*">\s*<td>([^<]*)</td><td>([^<]*)</td>\s*<td class="num">([^<]*)</td>',
        text,
    )
    table = Seen(f"{name}: område och kategori")
    for area, label, value in rows:
        table.cells[(html.unescape(area), labels[html.unescape(label)])] = number(value)
    out.append(table)
    if not public:
        sums = Seen(f"{name}: summor av tabellen")
        by_area: dict[str, int] = defaultdict(int)
        by_category: dict[str, int] = defaultdict(int)
        for (area, code), value in table.cells.items():
            assert isinstance(value, int)
            by_area[area] += value
            by_category[code] += value
        sums.areas, sums.categories = dict(by_area), dict(by_category)
        sums.total = sum(by_area.values())
        out.append(sums)
    return out


def summary_seen(summary: dict[str, Any]) -> Seen:
    """sammanfattning.json (either tree)."""
    name = "offentlig sammanfattning.json" if summary["public"] else "sammanfattning.json"
    seen = Seen(name, total=summary["total"])
    for a in summary["areas"]:
        seen.areas[a["area"]] = a["total"]
        for code, cell in a["categories"].items():
            seen.cells[(a["area"], code)] = cell["count"]
    for c in summary["categories"]:
        seen.categories[c["category"]] = c["count"]
    return seen


# --- exports ---------------------------------------------------------------------------------


def _rows(text: str, delimiter: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def excel_csv_seen(raw: bytes) -> tuple[Seen, int, int]:
    """export.csv for Swedish Excel: (the händelser, rows in all, rows flagged duplicate)."""
    assert raw.startswith(b"\xef\xbb\xbf"), "export.csv: no UTF-8 byte order mark"
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and text.split("\r\n")[0].count(";") >= 10, "export.csv: not ';'/CRLF"
    rows = _rows(text, ";")
    seen = Seen("export.csv")
    counted = [r for r in rows if r["Trolig dubblett"] == "nej"]
    dups = [r for r in rows if r["Trolig dubblett"] == "ja"]
    assert len(counted) + len(dups) == len(rows), "export.csv: a row without a duplicate flag"
    ids = {r["Id"] for r in rows}
    for r in dups:
        assert r["Dubblett av (id)"], "export.csv: a duplicate that names no original"
        assert r["Dubblett av (id)"] != r["Id"]
    assert len(ids) == len(rows)
    _fill(seen, [(r["Område"], r["Kategorikod"]) for r in counted])
    return seen, len(rows), len(dups)


def machine_csv_seen(raw: bytes) -> tuple[Seen, int, int]:
    """export-rfc4180.csv: comma, CRLF, no BOM, ISO times with offset."""
    assert not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8")
    rows = _rows(text, ",")
    for r in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", r["tid"]), r["tid"]
    seen = Seen("export-rfc4180.csv")
    counted = [r for r in rows if r["trolig_dubblett"] == "false"]
    _fill(seen, [(r["omrade"], r["kategori"]) for r in counted])
    return seen, len(rows), len(rows) - len(counted)


def counts_csv_seen(raw: bytes) -> Seen:
    """export-omraden.csv: händelser per area × category (Excel dialect)."""
    assert raw.startswith(b"\xef\xbb\xbf")
    seen = Seen("export-omraden.csv")
    for r in _rows(raw.decode("utf-8-sig"), ";"):
        key = (r["Område"], r["Kategorikod"])
        seen.cells[key] = int(r["Händelser"])
    _sums(seen)
    return seen


def geojson_seen(text: str) -> tuple[Seen, Seen]:
    """export.geojson: (its points typed "händelse", its area features' counts)."""
    features = json.loads(text)["features"]
    points = Seen("export.geojson: händelser")
    counted = [f["properties"] for f in features if f["properties"]["typ"] == "händelse"]
    _fill(points, [(p["omrade"], p["kategori"]) for p in counted])
    areas = Seen("export.geojson: områden", partial=True)  # the named areas have shapes
    for f in features:
        if f["properties"]["typ"] == "område":
            areas.areas[f["properties"]["omrade"]] = f["properties"]["antal"]
    return points, areas


def _fill(seen: Seen, pairs: list[tuple[str, str]]) -> None:
    seen.cells = dict(Counter(pairs))
    _sums(seen)


def _sums(seen: Seen) -> None:
    areas: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    for (a, c), n in seen.cells.items():
        assert isinstance(n, int)
        areas[a] += n
        categories[c] += n
    seen.areas, seen.categories = dict(areas), dict(categories)
    seen.total = sum(areas.values())


# --- the index pages ---------------------------------------------------------------------------


def index_totals(page: str) -> dict[tuple[str, str], Shown]:
    """(kommun, week) -> the total the index page shows."""
    text = page  # entities left as they are: a public "&lt;3" is unescaped by `number`
    rows = re.findall(
        r'<th scope="row" class="week">[^<]*(?:<br>)?'
        r'<span class="code">(\d{4}-W\d\d)</span></th>\s*'
        r'<td class="num">([^<]*)</td>\s*<td><a href="(\d{4})/(\d{4}-W\d\d)/karta.html"',
        text,
    )
    out = {}
    for week, value, kommun, linked in rows:
        assert week == linked
        out[(kommun, week)] = number(value)
    return out


def week_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
