"""One set of numbers (issue #14): every published artefact of every demo week tells the
same story as the stored reports.

The real `lagesbild demo` runs once (its own services on a real redis-server, a SQLite
file): six weeks of Linköping, Mjölby and Eskilstuna. For every week the truth comes from
the aggregate's stored reports by hand (every report not linked as a likely duplicate);
then every artefact is parsed back — the map (title, area tooltips from the embedded
GeoJSON, the labels under the area names, the layer list, the points of each layer, the
tables under the map), the meeting pack, the public map and pack, both
`sammanfattning.json`, the three CSVs, the GeoJSON, both index pages, the TiB's API and the
CLI (`week show`, `status`, `plan followup-promises`) — and each must show the same total,
the same per area and the same per category (the public version: the same, or "<3"/"≥3").
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.maps.summary import SCHEMA_PATH
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, run_cli
from tests.support.artefacts import (
    Seen,
    Truth,
    area_fills,
    check,
    counts_csv_seen,
    excel_csv_seen,
    geojson_seen,
    index_totals,
    machine_csv_seen,
    map_points,
    map_seen,
    number,
    pack_seen,
    summary_seen,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WEEKS = 6


@dataclass
class Demo:
    out: Path
    db: Path
    env: dict[str, str]
    redis_url: str
    weeks: list[tuple[str, str]]  # (kommun, iso_week), every published week


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    server = EmbeddedRedis(free_port(), root / "redis").start()
    env = {
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATA_DIR": str(root / "data"),
        "LAGESBILD_MAP_TILES": "",
    }
    try:
        run_cli(env, "demo", "--out", str(root / "out"), "--weeks", str(WEEKS))
        index = json.loads((root / "out" / "index.json").read_text("utf-8"))
        weeks = sorted((e["kommun"], e["iso_week"]) for e in index)
        assert len(weeks) == 3 * WEEKS
        yield Demo(root / "out", root / "data" / "lagesbild.db", env, server.url, weeks)
    finally:
        server.stop()


def truth_of(demo: Demo, kommun: str, week: str) -> Truth:
    """The week's numbers straight from the aggregate's stored reports (plain SQL)."""
    with sqlite3.connect(demo.db) as db:
        rows = db.execute(
            "SELECT area, category, duplicate_of IS NOT NULL FROM week_incident "
            "WHERE kommun = ? AND iso_week = ?",
            (kommun, week),
        ).fetchall()
    return Truth.of([(area, category, bool(dup)) for area, category, dup in rows])


def _labels(summary: dict[str, Any]) -> dict[str, str]:
    return {c["label"]: c["category"] for c in summary["categories"]}


def test_every_artefact_of_every_demo_week_tells_the_same_story(demo: Demo) -> None:
    restricted_index = index_totals((demo.out / "index.html").read_text("utf-8"))
    public_index = index_totals((demo.out / "offentlig" / "index.html").read_text("utf-8"))
    manifest = {(e["kommun"], e["iso_week"]): e for e in json.loads(
        (demo.out / "index.json").read_text("utf-8"))}  # fmt: skip
    checked = 0
    duplicates_seen = 0
    for kommun, week in demo.weeks:
        truth = truth_of(demo, kommun, week)
        assert truth.total > 0, (kommun, week)
        folder = demo.out / kommun / week
        public = demo.out / "offentlig" / kommun / week
        summary = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
        labels = _labels(summary)

        # the restricted tree: every number is the truth, every area and category listed
        seen: list[Seen] = [summary_seen(summary)]
        assert (summary["reports"], summary["duplicates_linked"]) == (
            truth.reports,
            truth.duplicates,
        )
        page = (folder / "karta.html").read_text("utf-8")
        on_map = map_seen(page, labels)
        if kommun == "0580":  # Linköping's named areas: tooltips, labels and table shown
            assert all(s.areas for s in on_map if "område" in s.name or "tooltip" in s.name)
        seen += on_map
        points = map_points(page)
        with_point = {c["category"]: c["with_point"] for c in summary["categories"]}
        assert {c: n for c, n in points.items() if c != "dubblett"} == {
            c: n for c, n in with_point.items() if n
        }, (kommun, week, "points per category layer")
        # the likely duplicates: a layer of their own, in no category's count
        assert points.get("dubblett", 0) <= truth.duplicates
        duplicates_seen += points.get("dubblett", 0)
        seen += pack_seen((folder / "motesunderlag.html").read_text("utf-8"), labels)
        excel, rows, dups = excel_csv_seen((folder / "export.csv").read_bytes())
        assert (rows, dups) == (truth.reports, truth.duplicates), "export.csv rows"
        machine, rows, dups = machine_csv_seen((folder / "export-rfc4180.csv").read_bytes())
        assert (rows, dups) == (truth.reports, truth.duplicates), "export-rfc4180.csv rows"
        seen += [excel, machine, counts_csv_seen((folder / "export-omraden.csv").read_bytes())]
        seen += list(geojson_seen((folder / "export.geojson").read_text("utf-8")))
        seen.append(Seen("index.html", total=restricted_index[(kommun, week)]))
        seen.append(Seen("index.json", total=manifest[(kommun, week)]["total"]))
        for s in seen:
            check(s, truth)

        # the public tree: the same numbers, or "<3" / "≥3" where they are withheld
        public_summary = json.loads((public / "sammanfattning.json").read_text("utf-8"))
        shown: list[Seen] = [summary_seen(public_summary)]
        public_page = (public / "karta.html").read_text("utf-8")
        shown += map_seen(public_page, labels, public=True)
        shown += pack_seen((public / "motesunderlag.html").read_text("utf-8"), labels, public=True)
        shown.append(Seen("offentlig index.html", total=public_index[(kommun, week)]))
        for s in shown:
            check(s, truth, public=True, complete=False)
        # both maps class an area the same way wherever the public map shows its number
        public_totals = {a["area"]: a["total"] for a in public_summary["areas"]}
        restricted_fill, public_fill = area_fills(page), area_fills(public_page)
        for area, colour in public_fill.items():
            if isinstance(public_totals.get(area), int):
                assert colour == restricted_fill[area], (kommun, week, area)
        checked += 1
    assert checked == 3 * WEEKS
    assert duplicates_seen > 0  # the demo has likely duplicates, and they are shown apart


def test_every_summary_matches_the_published_schema(demo: Demo) -> None:
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for kommun, week in demo.weeks:
        for tree in (demo.out, demo.out / "offentlig"):
            for folder in [tree / kommun / week, *sorted((tree / kommun / week).glob("r*"))]:
                data = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
                errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
                assert not errors, (folder, [f"{list(e.path)}: {e.message}" for e in errors])


def test_comparisons_say_what_they_cover(demo: Demo) -> None:
    """The first week has nothing to compare with and says why; later weeks' means name
    the weeks they cover ("snitt 4 v", never "52 v"), in the JSON, the pack and its text."""
    first = min(w for k, w in demo.weeks if k == "0580")
    later = sorted(w for k, w in demo.weeks if k == "0580")
    summary = json.loads((demo.out / "0580" / first / "sammanfattning.json").read_text("utf-8"))
    assert summary["previous_total"] is None and summary["change"] is None
    assert re.fullmatch(r"jämförelse saknas: data från \d+ \w+", summary["comparison"]["reason"])
    pack = (demo.out / "0580" / first / "motesunderlag.html").read_text("utf-8")
    assert summary["comparison"]["reason"] in pack
    assert "Snitt 52 v" not in pack and "Snitt 8 v" not in pack
    for n, week in enumerate(later):
        data = json.loads((demo.out / "0580" / week / "sammanfattning.json").read_text("utf-8"))
        comparison = data["comparison"]
        assert (comparison["short_weeks"], comparison["long_weeks"]) == (n, n), week
        pack = (demo.out / "0580" / week / "motesunderlag.html").read_text("utf-8")
        if n:
            assert f"Snitt {n} v" in pack and "Snitt 52 v" not in pack
            assert all(" / 52 v" not in c["text"] for c in data["cells"])
            assert data["previous_total"] is not None


def test_the_cli_tells_the_same_numbers(demo: Demo) -> None:
    totals: dict[str, int] = {"reports": 0, "duplicates": 0, "counted": 0}
    for kommun, week in demo.weeks:
        truth = truth_of(demo, kommun, week)
        for key, n in (("reports", truth.reports), ("duplicates", truth.duplicates),
                       ("counted", truth.total)):  # fmt: skip
            totals[key] += n
    status = json.loads(run_cli(demo.env, "status", "--json").stdout)
    assert status["aggregated_reports"] == totals["reports"]
    assert status["counted_reports"] == totals["counted"]
    assert status["linked_duplicates"] == totals["duplicates"]

    for kommun, week in [w for w in demo.weeks if w[0] == "0580"]:
        truth = truth_of(demo, kommun, week)
        line = " ".join(run_cli(demo.env, "week", "show", "--week", week).stdout.split())
        match = re.search(
            r"vecka \d+ \(.*?\) revision \d+: ([\d\u202f]+) händelser(?: \(([\d\u202f]+) "
            r"rapporter, varav ([\d\u202f]+) troliga dubbletter\))?",
            line,
        )
        assert match, line
        assert number(match[1]) == truth.total, line
        if truth.duplicates:
            assert (number(match[2]), number(match[3])) == (truth.reports, truth.duplicates)
        assert re.search(r"byggd \d{4}-\d\d-\d\d \d\d:\d\d \+0[12]:00", line), line
        shown = json.loads(run_cli(demo.env, "week", "show", "--week", week, "--json").stdout)
        check(summary_seen(shown), truth)


def test_the_tib_api_counts_the_same(demo: Demo, tmp_path: Path) -> None:
    """The TiB service, fed by the demo's own ready stream, shows the newest week's
    händelser (total, areas, categories) and its hotspots' counts as the week's summary."""
    from fastapi.testclient import TestClient

    from services.tib.config import TibSettings
    from services.tib.main import create_app
    from shared.access import create_organisation
    from shared.db import init_db, make_engine
    from tests.conftest import wait_for

    db_url = f"sqlite:///{demo.db}"
    engine = make_engine(db_url)
    init_db(engine)
    tokens = {
        kommun: create_organisation(engine, f"TiB {kommun} (test)", kommun, "tib", ["ovrig"])[1]
        for kommun in {k for k, _ in demo.weeks}
    }
    engine.dispose()
    settings = TibSettings(redis_url=demo.redis_url, data_dir=tmp_path, database_url=db_url,
                           tib_tile_url="")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        for kommun, token in sorted(tokens.items()):
            newest = max(w for k, w in demo.weeks if k == kommun)
            headers = {"Authorization": f"Bearer {token}"}

            def live(
                kommun: str = kommun, headers: dict[str, str] = headers, newest: str = newest
            ) -> Any:
                data = client.get(f"/api/v1/tib/live?kommun={kommun}", headers=headers).json()
                return data if (data.get("lagesbild") or {}).get("iso_week") == newest else None

            data = wait_for(live, timeout=60)["lagesbild"]
            truth = truth_of(demo, kommun, newest)
            counts = data["counts"]
            seen = Seen("TiB API", total=counts["total"], areas=counts["areas"],
                        categories=counts["categories"])  # fmt: skip
            check(seen, truth)
            assert (counts["reports"], counts["duplicates"]) == (truth.reports, truth.duplicates)
            summary = json.loads(
                (demo.out / kommun / newest / "sammanfattning.json").read_text("utf-8")
            )
            by_name = {h["name"]: h["count"] for h in summary["hotspots"]}
            assert {h["name"]: h["count"] for h in data["hotspots"]} == by_name


def test_followup_of_promises_does_not_compare_a_partial_month(demo: Demo) -> None:
    """The demo's data starts mid-October: November is not compared with October as if
    October were complete ("+159 %" before), and the output says why."""
    first = min(w for _, w in demo.weeks)
    first_day = run_cli(demo.env, "week", "show", "--week", first, "--json").stdout
    data_from = json.loads(first_day)["comparison"]["data_from"]
    year, month, day = (int(x) for x in data_from.split("-"))
    following = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    out = json.loads(
        run_cli(demo.env, "plan", "followup-promises", "--month", following, "--json").stdout
    )
    assert out, "the demo plan has medborgarlöften"
    for promise in out:
        if day == 1:  # the month before starts with the data: a fair comparison
            assert promise["comparison_missing"] is None
            continue
        assert promise["comparison_missing"].startswith("jämförelse saknas: data från ")
        assert "%" not in promise["statement"], promise["statement"]
