"""A kommun enabled while the services run: its first report is stored at once, without a
restart; the police importer stores events of every enabled kommun and enables the kommuner
it meets with --enable-kommuner. Real redis-server, service processes, SQLite/PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from services.ingest.models import RejectedSubmission, StoredReport
from shared.areas import OTHER_AREA
from shared.db import make_engine
from tests.conftest import cli_json, run_cli, service_logs, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SAMPLE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "polisen"
    / "events_snapshot_2026-08-22.json"
)


def _report(report_id: str, kommun: str, lat: float, lon: float) -> dict:
    return {
        "version": 1,
        "report_id": report_id,
        "kommun": kommun,
        "source": "vaktare",
        "organisation": "Bevakning Mjölby",
        "category": "klotter",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "lat": lat,
        "lon": lon,
        "description": "Klotter på busskuren vid Gallerian",
    }


def _submit(env: dict[str, str], path: Path, reports: list[dict]) -> None:
    path.write_text("\n".join(json.dumps(r) for r in reports) + "\n", encoding="utf-8")
    run_cli(env, "submit", str(path))


def _settled(env: dict[str, str]) -> dict:
    return wait_for(
        lambda: (s := cli_json(env, "status"))["pending"] == 0 and s["unread"] == 0 and s,
        timeout=60,
    )


def test_a_kommun_enabled_while_the_services_run_stores_its_first_report(
    running_services: dict, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = service_env
    engine = make_engine(env["LAGESBILD_DATABASE_URL"])
    # Before: Mjölby is not served; its report is rejected as an unknown kommun.
    _submit(env, tmp_path / "before.jsonl", [_report("m-0", "0586", 58.3243, 15.1296)])
    _settled(env)
    with Session(engine) as s:
        rejected = s.exec(select(RejectedSubmission.code)).all()
    assert rejected == ["unknown_kommun"], service_logs(tmp_path)

    out = run_cli(env, "kommun", "add", "0586")
    assert "Mjölby (0586) ansluten." in out.stdout

    # The same services, not restarted: the first report is stored, in "Övriga kommunen".
    _submit(env, tmp_path / "after.jsonl", [_report("m-1", "0586", 58.3243, 15.1296)])
    status = _settled(env)
    assert status["stored_reports"] == 1, service_logs(tmp_path)
    with Session(engine) as s:
        stored = s.exec(select(StoredReport)).one()
    assert (stored.kommun, stored.area, stored.report_id) == ("0586", OTHER_AREA, "m-1")

    listed = run_cli(env, "kommun", "list", "--json").stdout
    rows = {r["kommun"]: r for r in json.loads(listed)}
    assert set(rows) == {"0580", "0586"}
    assert rows["0586"]["enabled_by"] == ["kommun add"] and rows["0586"]["areas"] == []
    assert rows["0580"]["enabled_by"] == ["LAGESBILD_KOMMUNER"]

    # A week for the new kommun is built and published by the running aggregate and maps.
    week = stored.iso_week
    run_cli(env, "week", "build", "--kommun", "0586", "--week", week)
    published = Path(env["LAGESBILD_OUTPUT_DIR"]) / "0586" / week / "sammanfattning.json"
    wait_for(published.is_file, timeout=90)
    summary = json.loads(published.read_text(encoding="utf-8"))
    assert summary["kommun"] == "0586"
    engine.dispose()


def test_police_import_stores_events_of_enabled_kommuner_and_enables_those_it_meets(
    running_services: dict, service_env: dict[str, str], tmp_path: Path
) -> None:
    if not SAMPLE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the police sample: {SAMPLE}")
        pytest.skip(f"police sample absent: {SAMPLE}")
    env = service_env
    engine = make_engine(env["LAGESBILD_DATABASE_URL"])
    plain = cli_json(env, "import", "police", str(SAMPLE))
    assert plain["enabled_kommuner"] == [] and plain["sent"] == plain["converted"]
    assert sum(plain["unconfigured_kommuner"].values()) > 100  # only 0580 is enabled
    _settled(env)

    enabling = cli_json(env, "import", "police", str(SAMPLE), "--enable-kommuner")
    assert len(enabling["enabled_kommuner"]) > 50 and enabling["unconfigured_kommuner"] == {}
    assert "1280" in enabling["enabled_kommuner"]  # Malmö
    status = _settled(env)
    with Session(engine) as s:
        by_kommun = dict(
            s.exec(select(StoredReport.kommun, func.count()).group_by(StoredReport.kommun)).all()
        )
        registered = s.exec(text("SELECT count(*) FROM enabled_kommun")).one()[0]  # type: ignore[call-overload]
    # Every converted event is stored once (the first run's are not sent again as new rows).
    assert status["stored_reports"] == enabling["converted"] == sum(by_kommun.values())
    assert status["rejected_reports"] == 0, service_logs(tmp_path)
    assert set(by_kommun) <= {"0580", *enabling["enabled_kommuner"]} and len(by_kommun) > 50
    assert by_kommun["1280"] >= 10 and registered == len(enabling["enabled_kommuner"])
    engine.dispose()
