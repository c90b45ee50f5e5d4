"""Suppression, the public version, the exports and the archive layout (services/maps)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from services.maps.exports import (
    export_counts_csv,
    export_geojson,
    export_incidents_csv,
    export_incidents_machine_csv,
)
from services.maps.public import public_summary
from services.maps.publish import PUBLIC_DIR, publish_week
from services.maps.suppress import shown_change, shown_count
from tests.support.snapshots import (
    ACTIVITY,
    DESCRIPTIONS,
    MEASURE,
    ORGANISATIONS,
    PATROL_PLACE,
    STATEMENT,
    incident,
    make_areas,
    make_snapshot,
    rich_snapshot,
)

RESTRICTED = (
    "karta.html",
    "motesunderlag.html",
    "sammanfattning.json",
    "export.geojson",
    "export.csv",
    "export-omraden.csv",
    "export-rfc4180.csv",
)
PUBLIC = ("karta.html", "motesunderlag.html", "sammanfattning.json")


def test_suppression_known_answers() -> None:
    assert [shown_count(n) for n in (0, 1, 2, 3, 17)] == ["<3", "<3", "<3", 3, 17]
    assert shown_change(5, 3) == 2 and shown_change(3, 5) == -2
    assert shown_change(4, 2) is None and shown_change(2, 9) is None
    assert shown_change(0, 0) is None


def test_public_summary_known_answers() -> None:
    summary = public_summary(rich_snapshot())
    assert (summary["total"], summary["previous_total"], summary["change"]) == (10, 5, 5)
    areas = {a["area"]: a for a in summary["areas"]}
    assert areas["Centrum"]["total"] == 6 and areas["Centrum"]["previous"] == "<3"
    assert areas["Centrum"]["change"] is None
    # complementary suppression: "Centrum 6, klotter 6" would say the other 14
    # categories had 0 (and the hotspot's 6 klotter would pin the cell): withheld
    assert areas["Centrum"]["categories"] == {
        "klotter": {"count": "≥3", "previous": "<3", "change": None}
    }
    # last week: kommun 5 = Norr 4 + <3 would pin the other areas' sum to 1
    assert areas["Norr"]["previous"] == "≥3"
    assert areas["Norr"]["categories"] == {
        "skadegorelse": {"count": "<3", "previous": 4, "change": None}
    }
    assert areas["Ryd & <Lambohov>"]["categories"] == {}  # 1 vs 0: nothing to show
    klotter = next(c for c in summary["categories"] if c["category"] == "klotter")
    assert klotter == {
        "category": "klotter",
        "label": "Klotter",
        "count": 7,
        "previous": "<3",
        "change": None,
    }
    skadegorelse = next(c for c in summary["categories"] if c["category"] == "skadegorelse")
    assert (skadegorelse["count"], skadegorelse["previous"]) == ("<3", "≥3")
    assert [h["count"] for h in summary["hotspots"]] == [6, "<3"]
    assert "≥3" in summary["suppression"]
    assert summary["alerts"] == [{"area": "Centrum", "category": "klotter"}]


# --- exports ----------------------------------------------------------------------------


def test_exports_scrub_text_and_keep_centroids_off_the_map() -> None:
    snap = make_snapshot(
        [
            incident("a/1", "klotter", "Centrum", 58.39, 15.56, description="Ring 070-123 45 67"),
            incident("a/2", "klotter", "Norr", 58.43, 15.57, description="=HYPERLINK(x)"),
            incident("p/1", "vald", "Norr", 58.42, 15.58, precision="centroid"),
        ]
    )
    machine = export_incidents_machine_csv(snap)
    assert not machine.startswith("\ufeff") and machine.split("\r\n")[0].startswith("vecka,tid,")
    rows = list(csv.DictReader(io.StringIO(machine)))
    assert [r["omrade"] for r in rows] == ["Centrum", "Norr", "Norr"]
    assert rows[0]["tid"] == "2026-11-16T12:00:00+01:00"  # ISO 8601, Stockholm with offset
    assert [r["trolig_dubblett"] for r in rows] == ["false"] * 3
    assert rows[0]["beskrivning"] == "Ring [telefon]"
    assert rows[1]["beskrivning"] == "'=HYPERLINK(x)"  # no formula in a spreadsheet
    assert rows[0]["lat"] == "58.39" and rows[0]["kalla"] == "Väktare"
    assert rows[2]["lat"] == "" and rows[2]["precision"] == "centroid"
    assert all("a/1" not in v for r in rows for v in r.values())  # no reporter identity

    features = json.loads(export_geojson(snap, make_areas()))["features"]
    incidents = [f for f in features if f["properties"]["typ"] == "händelse"]
    areas = {f["properties"]["omrade"]: f for f in features if f["properties"]["typ"] == "område"}
    assert [f["geometry"] is None for f in incidents] == [False, False, True]
    assert incidents[0]["geometry"]["coordinates"] == [15.56, 58.39]
    assert areas["Norr"]["properties"]["antal"] == 2
    assert areas["Norr"]["properties"]["kategorier"] == {"klotter": 1, "vald": 1}

    # For people: Swedish Excel (BOM, ";", Swedish headers, decimal commas, local time)
    excel = export_incidents_csv(snap)
    assert excel.startswith("\ufeffVecka;Tid;Område;") and excel.endswith("\r\n")
    people = list(csv.DictReader(io.StringIO(excel.removeprefix("\ufeff")), delimiter=";"))
    assert [r["Beskrivning"] for r in people][:2] == ["Ring [telefon]", "'=HYPERLINK(x)"]
    assert people[0]["Latitud"] == "58,39" and people[0]["Tid"] == "2026-11-16 12:00 +01:00"
    assert [r["Trolig dubblett"] for r in people] == ["nej"] * 3

    text = export_counts_csv(snap).removeprefix("\ufeff")
    counts = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [(r["Område"], r["Kategorikod"], r["Händelser"]) for r in counts] == [
        ("Centrum", "klotter", "1"),
        ("Norr", "klotter", "1"),
        ("Norr", "vald", "1"),
    ]


# --- publish: two trees, revisions, the archive index -----------------------------------


def _publish(out: Path, revision: int) -> None:
    snap = rich_snapshot().model_copy(update={"revision": revision})
    publish_week(out, snap, make_areas(), tiles=None)


def test_publish_writes_restricted_and_public_trees_with_revisions(tmp_path: Path) -> None:
    _publish(tmp_path, 1)
    _publish(tmp_path, 2)
    week = tmp_path / "0580" / "2026-W47"
    public_week = tmp_path / PUBLIC_DIR / "0580" / "2026-W47"
    for name in RESTRICTED:
        assert (week / name).is_file() and (week / "r1" / name).is_file(), name
    for name in PUBLIC:
        assert (public_week / name).is_file() and (public_week / "r2" / name).is_file(), name
    assert not (public_week / "export.csv").exists()
    assert (tmp_path / "assets" / "leaflet.js").is_file()
    assert (tmp_path / PUBLIC_DIR / "assets" / "leaflet.js").is_file()
    assert 'src="../../assets/leaflet.js"' in (week / "karta.html").read_text()
    assert 'src="../../../assets/leaflet.js"' in (week / "r1" / "karta.html").read_text()

    # a late event for revision 1 keeps revision 2 as the week's main files
    _publish(tmp_path, 1)
    assert json.loads((week / "sammanfattning.json").read_text())["revision"] == 2
    (entry,) = json.loads((tmp_path / "index.json").read_text())
    assert entry["revision"] == 2 and entry["revisions"] == [1, 2]
    index = (tmp_path / "index.html").read_text()
    assert 'href="0580/2026-W47/r1/karta.html"' in index
    assert 'href="0580/2026-W47/motesunderlag.html"' in index
    assert 'href="0580/2026-W47/export.csv"' in index
    public_index = (tmp_path / PUBLIC_DIR / "index.html").read_text()
    assert 'href="0580/2026-W47/karta.html"' in public_index and "export" not in public_index


def _numbers_shown(page: str) -> list[str]:
    """Every count the public pages show: table cells, hotspot categories, map tooltips."""
    # the map embeds its tooltips as JSON strings: \\u003c, \\u00f6 …
    page = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m[1], 16)), page)
    page = page.replace("&lt;3", "<3").replace("&ge;3", "≥3")
    shown = re.findall(r'<td class="num">(<3|[^<]*)</td>', page)
    shown += re.findall(r'<span class="n">(<3|[^<]*)</span>', page)
    shown += re.findall(r"<br>(\S+) händelser vecka", page)
    shown += re.findall(r"lb-total\\?\">(\S+) händelser", page)
    shown += re.findall(r"[Ff]örra veckan:? ([^\s<\",)]+)", page)
    return shown


def _json_counts(node: Any, key: str = "") -> list[Any]:
    if isinstance(node, dict):
        return [v for k, child in node.items() for v in _json_counts(child, k)]
    if isinstance(node, list):
        return [v for child in node for v in _json_counts(child, key)]
    return [node] if key in ("count", "previous", "total", "previous_total", "change") else []


def test_public_files_hold_no_text_names_or_small_counts(tmp_path: Path) -> None:
    _publish(tmp_path, 1)
    public = tmp_path / PUBLIC_DIR
    files = [p for p in public.rglob("*") if p.is_file() and "assets" not in p.parts]
    assert len(files) == 2 * len(PUBLIC) + 2  # main + r1 copies + index + statement
    secrets: tuple[str, ...] = (
        *DESCRIPTIONS,
        "Polisen: bråk",
        *ORGANISATIONS,
        MEASURE,
        ACTIVITY,
        STATEMENT,
    )
    secrets += (PATROL_PLACE, "Väktarnas närvaro", "Väktartimmar")  # no patrol pattern
    for path in files:
        text = path.read_text("utf-8")
        for secret in secrets:
            assert secret not in text, (path, secret)
            assert json.dumps(secret)[1:-1] not in text, (path, secret)
        assert "ovanligt hög" not in text  # the stats' text is left out too
        # no points: no clusters, no heat, no incident coordinates
        assert "markerClusterGroup" not in text and "heatLayer" not in text
        assert "58.431" not in text and "15.561" not in text
        assert '"total"' not in text or path.suffix == ".json"  # no raw counts in pages
    for name in ("karta.html", "motesunderlag.html"):
        page = (public / "0580" / "2026-W47" / name).read_text("utf-8")
        shown = _numbers_shown(page)
        assert len(shown) >= (6 if name == "karta.html" else 10), (name, shown)
        for value in shown:
            assert value in ("<3", "≥3", "–") or int(value.lstrip("+−")) >= 3, (name, value)
    summary = json.loads((public / "0580" / "2026-W47" / "sammanfattning.json").read_text())
    for value in _json_counts(summary):
        assert value is None or value in ("<3", "≥3") or abs(value) >= 3, value
