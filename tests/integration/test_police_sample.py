"""The police importer over the whole shared sample (500 real events), and re-importing.

The sample lives beside the project (../shared/data), never in it: these tests skip
without it. Run with ``-s`` to see the per-type summary (the evidence in
docs/police-import.md).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from services.ingest.police import (
    EXCLUSION_REASONS,
    LOCATION_PRECISION,
    TYPE_MAP,
    import_summary,
)
from services.ingest.police_cli import kommun_point, register
from shared.areas import KommunAreas, parse_area_collection
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import ReportV1
from shared.validation import ValidReport, validate_submission
from tests.conftest import cli_json, require, service_logs, wait_for

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
POLISEN_DIR = SHARED_DATA / "polisen"
SAMPLE = POLISEN_DIR / "events_snapshot_2026-08-22.json"
KOMMUN_CODES = SHARED_DATA / "areas" / "kommuner_codes.csv"
KOMMUN_SHAPES = SHARED_DATA / "areas" / "sweden_kommuner.geojson"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _require(*paths: Path) -> None:
    for path in paths:
        require(path.is_file(), f"shared data not present (not part of the repository): {path}")


def _all_kommun_names() -> dict[str, str]:
    with KOMMUN_CODES.open(encoding="utf-8", newline="") as f:
        return {row["municipality_name"]: row["municipality_code"] for row in csv.DictReader(f)}


def _all_kommuner() -> dict[str, KommunAreas]:
    shapes = json.loads(KOMMUN_SHAPES.read_text(encoding="utf-8"))
    found = {}
    for feature in shapes["features"]:
        code, name = feature["properties"]["id"], feature["properties"]["kom_namn"]
        boundary = {"type": "Feature", "properties": {"kind": "kommun"}, "geometry": None}
        boundary["geometry"] = feature["geometry"]
        found[code] = parse_area_collection(
            {"type": "FeatureCollection", "kommun": code, "kommun_name": name,
             "features": [boundary]}
        )  # fmt: skip
    return found


def _print_summary(summary: Any) -> None:
    print(f"\nPolice sample {SAMPLE.name}: {summary.total} events")
    print(f"{'type':<34} {'events':>6}  {'category / outcome':<40} {'reports':>7}  skipped")
    for name, t in sorted(summary.by_type.items(), key=lambda kv: (-kv[1].events, kv[0])):
        skipped = ", ".join(f"{n} {r}" for r, n in t.skipped.items())
        print(f"{name:<34} {t.events:>6}  {t.label:<40} {t.converted:>7}  {skipped}")
    print("converted by category:", dict(summary.by_category.most_common()))
    print("excluded by reason:   ", dict(summary.excluded.most_common()))
    print("skipped by reason:    ", dict(summary.skipped.most_common()))


def test_whole_sample_is_converted_or_excluded_or_skipped_with_a_reason() -> None:
    _require(SAMPLE, KOMMUN_CODES)
    events = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert len(events) == 500

    payloads, summary = import_summary(events, _all_kommun_names())
    _print_summary(summary)

    assert summary.total == 500
    assert summary.converted == len(payloads)
    assert summary.converted + summary.excluded_total + summary.skipped_total == 500
    assert sum(t.events for t in summary.by_type.values()) == 500
    assert summary.unknown_types == {}  # every type of the sample is in TYPE_MAP
    assert all(name in TYPE_MAP for name in summary.by_type)
    assert set(summary.excluded) <= set(EXCLUSION_REASONS)
    # With every municipality known, only county-level notices lack a kommun.
    assert set(summary.skipped) <= {"länshändelse (ingen kommun angiven)"}
    assert summary.unconfigured_kommuner == {}
    assert summary.excluded["sammanfattning"] == sum(
        1 for e in events if e["type"].startswith("Sammanfattning")
    )
    for payload in payloads:
        report = ReportV1.model_validate(payload)
        assert report.location_precision == LOCATION_PRECISION
        assert report.report_id.startswith("polisen-")
        assert "(Källa: Polismyndigheten, https://polisen.se/aktuellt/" in report.description
    assert len({p["report_id"] for p in payloads}) == len(payloads)

    # Converting again gives the same payloads: re-submitting is a no-op for ingest.
    again, _ = import_summary(json.loads(SAMPLE.read_text(encoding="utf-8")), _all_kommun_names())
    assert again == payloads


def test_every_converted_sample_event_passes_ingest_validation() -> None:
    """With each municipality's own point (not the county centroid the API gives since
    2026), every report lies inside its kommun and ingest accepts all of them."""
    _require(SAMPLE, KOMMUN_CODES, KOMMUN_SHAPES)
    events = json.loads(SAMPLE.read_text(encoding="utf-8"))
    kommuner = _all_kommuner()
    points = {code: kommun_point(k) for code, k in kommuner.items()}
    payloads, summary = import_summary(events, _all_kommun_names(), points)
    assert summary.converted > 100
    now = datetime(2026, 8, 23, tzinfo=UTC)  # the day after the snapshot
    outcomes: Counter[str] = Counter()
    for payload in payloads:
        result = validate_submission(
            json.dumps(payload), categories=DEFAULT_CATEGORIES, kommuner=kommuner, now=now
        )
        outcomes["accepted" if isinstance(result, ValidReport) else result.code] += 1
    print("\ningest validation of the converted sample:", dict(outcomes))
    assert outcomes == {"accepted": len(payloads)}

    # The county centroid itself would mostly be rejected: why the kommun point is used.
    raw, _ = import_summary(events, _all_kommun_names())
    outside = sum(
        not isinstance(
            validate_submission(p, categories=DEFAULT_CATEGORIES, kommuner=kommuner, now=now),
            ValidReport,
        )
        for p in raw
    )
    assert outside > len(raw) // 2


# --- re-importing adds nothing, over a real redis-server and the running services -----------


MONTHS_SV = "januari februari mars april maj juni juli augusti september oktober november december"


def _linkoping_events(now: datetime) -> list[dict[str, Any]]:
    events = []
    for i, kind in enumerate(["Misshandel", "Stöld", "Brand", "Bråk"]):
        when = (now - timedelta(days=1, hours=3 * i)).astimezone(STOCKHOLM)  # no duplicate links
        month = MONTHS_SV.split()[when.month - 1]
        events.append(
            {
                "id": 900000 + i,
                "datetime": f"{when:%Y-%m-%d} {when.hour}:{when:%M:%S %z}",
                "name": f"{when.day} {month} {when:%H.%M}, {kind}, Linköping",
                "summary": f"Händelse {i}.",
                "url": f"/aktuellt/handelser/test-{i}/",
                "type": kind,
                "location": {"name": "Östergötlands län", "gps": "58.333,15.8"},
            }
        )
    events.append({**events[0], "id": 900099, "type": "Sammanfattning natt"})
    return events


@pytest.mark.redis
@pytest.mark.slow
def test_reimporting_the_same_file_adds_nothing(
    running_services: dict,
    service_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "events.json"
    file.write_text(json.dumps(_linkoping_events(datetime.now(UTC))), encoding="utf-8")
    app = typer.Typer()
    register(app)

    first = CliRunner().invoke(app, ["police", str(file), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["sent"] == 4
    stored = wait_for(
        lambda: (
            (s := cli_json(service_env, "status"))["pending"] == 0
            and s["unread"] == 0
            and s["stored_reports"] == 4
            and s
        ),
        timeout=60,
    )
    assert stored["rejected_reports"] == 0, service_logs(tmp_path)

    second = CliRunner().invoke(app, ["police", str(file), "--json"])
    assert second.exit_code == 0, second.output
    status = wait_for(
        lambda: (s := cli_json(service_env, "status"))["pending"] == 0 and s["unread"] == 0 and s,
        timeout=60,
    )
    assert status["stored_reports"] == 4
    assert status["rejected_reports"] == 0
    assert status["conflicts"] == 0
