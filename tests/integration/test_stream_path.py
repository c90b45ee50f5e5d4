"""The whole path over a real redis-server and SQLite file: submit → ingest → DB →
aggregate → lägesbild-ready → maps, driven only through the `lagesbild` CLI."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.areas import OTHER_AREA, load_kommuner
from shared.weeks import last_complete_week, week_bounds
from tests.conftest import cli_json, run_cli, service_logs, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LINKOPING = load_kommuner()["0580"]


def _report(n: int, area: str | None, category: str, when: datetime) -> dict:
    if area is None:  # inside the kommun, outside every named area
        lat, lon = 58.5010, 15.5200  # Ljungsbro direction
    else:
        point = next(a for a in LINKOPING.areas if a.name == area).geometry.representative_point()
        lat, lon = point.y, point.x
    return {
        "version": 1,
        "report_id": f"t-{n}",
        "kommun": "0580",
        "source": "vaktare",
        "organisation": f"Bevakning Linköping {n % 3}",
        "category": category,
        "occurred_at": when.isoformat(),
        "lat": lat,
        "lon": lon,
        "description": f"Observation {n}",
    }


def _reports(week_start: datetime) -> list[dict]:
    plan = (
        [("Innerstaden", "klotter")] * 4 + [("Skäggetorp", "skadegorelse")] * 3 + [(None, "brand")]
    )
    # Spread in time by days so none is linked as a duplicate of another.
    return [
        _report(i, area, cat, week_start + timedelta(days=i % 7, hours=i))
        for i, (area, cat) in enumerate(plan)
    ]


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reports_flow_through_the_streams_into_the_weekly_lagesbild(
    running_services: dict, service_env: dict[str, str], tmp_path: Path
) -> None:
    week = last_complete_week(datetime.now(UTC))
    start, _end = week_bounds(week)
    reports = _reports(start + timedelta(hours=1))
    assert LINKOPING.area_of(58.5010, 15.5200) == OTHER_AREA  # the test's own premise
    broken = [
        '{"report_id": "x"',
        json.dumps({**reports[0], "report_id": "bad", "category": "ufo"}),
    ]
    file = _write_jsonl(tmp_path / "in.jsonl", [json.dumps(r) for r in reports] + broken)

    out = run_cli(service_env, "submit", str(file))
    assert "Skickade 10 rapporter" in out.stdout

    status = wait_for(
        lambda: (
            (s := cli_json(service_env, "status"))["stored_reports"] == 8
            and s["rejected_reports"] == 2
            and s["pending"] == 0
            and s["unread"] == 0
            and s
        ),
        timeout=60,
    )
    assert status["aggregated_reports"] == 8, service_logs(tmp_path)
    assert status["dead_letters"] == 0, service_logs(tmp_path)

    summary = cli_json(service_env, "week", "build", "--week", week)
    by_area = {a["area"]: a for a in summary["areas"]}
    assert summary["total"] == 8
    assert by_area["Innerstaden"]["categories"]["klotter"]["count"] == 4
    assert by_area["Skäggetorp"]["categories"]["skadegorelse"]["count"] == 3
    assert by_area[OTHER_AREA]["total"] == 1

    # The maps service renders what the build announced.
    week_dir = Path(service_env["LAGESBILD_OUTPUT_DIR"]) / "0580" / week
    index = Path(service_env["LAGESBILD_OUTPUT_DIR"]) / "index.html"
    # The week's files are written first, the archive index last: wait for the index.
    wait_for(lambda: index.exists() and f"0580/{week}/karta.html" in index.read_text("utf-8"), 30)
    assert (week_dir / "karta.html").exists()
    published = json.loads((week_dir / "sammanfattning.json").read_text("utf-8"))
    assert published["total"] == 8

    # A report submitted while the services run shows in status and in the next build.
    late = _report(99, "Innerstaden", "klotter", start + timedelta(days=6, hours=20))
    run_cli(service_env, "submit", str(_write_jsonl(tmp_path / "late.jsonl", [json.dumps(late)])))
    wait_for(lambda: cli_json(service_env, "status")["aggregated_reports"] == 9, timeout=30)
    rebuilt = cli_json(service_env, "week", "build", "--week", week)
    assert rebuilt["total"] == 9
    assert rebuilt["revision"] > summary["revision"]
    counts = Counter(
        (a["area"], c)
        for a in rebuilt["areas"]
        for c, v in a["categories"].items()
        for _ in range(v["count"])
    )
    assert counts[("Innerstaden", "klotter")] == 5


def test_submit_without_redis_says_how_to_start_it(tmp_path: Path) -> None:
    env = {"LAGESBILD_DATA_DIR": str(tmp_path), "LAGESBILD_EMBEDDED_REDIS_PORT": "1"}
    file = _write_jsonl(tmp_path / "x.jsonl", ["{}"])
    proc = run_cli(env, "submit", str(file), check=False)
    assert proc.returncode == 3
    assert "lagesbild up" in proc.stderr
