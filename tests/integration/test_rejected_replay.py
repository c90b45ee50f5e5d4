"""Nothing rejected is dropped: list it, fix the cause, replay it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import cli_json, run_cli, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "ingest"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_report_with_a_new_category_is_stored_after_the_category_is_added(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    report = {
        "report_id": "ny-kategori-1", "kommun": "0580", "source": "fastighetsagare",
        "organisation": "Stångåstaden", "category": "elsparkcyklar", "occurred_at": when,
        "lat": 58.4108, "lon": 15.6214, "description": "Tio elsparkcyklar i entrén",
    }  # fmt: skip
    file = tmp_path / "r.jsonl"
    file.write_text(json.dumps(report, ensure_ascii=False) + "\n", encoding="utf-8")
    ingest = _ingest(service_env, tmp_path / "ingest.log")
    try:
        run_cli(service_env, "submit", str(file))
        rejected = wait_for(lambda: cli_json(service_env, "rejected", "list"), timeout=30)
        assert [r["code"] for r in rejected] == ["unknown_category"]
        assert "elsparkcyklar" in rejected[0]["message_sv"]
    finally:
        ingest.terminate()
        ingest.wait(10)

    fixed = {**service_env, "LAGESBILD_EXTRA_CATEGORIES": '{"elsparkcyklar": "Elsparkcyklar"}'}
    ingest = _ingest(fixed, tmp_path / "ingest.log")
    try:
        out = run_cli(fixed, "rejected", "replay", "--code", "unknown_category")
        assert "Skickade om 1" in out.stdout
        status = wait_for(
            lambda: (s := cli_json(fixed, "status"))["stored_reports"] == 1 and s, timeout=30
        )
        assert status["rejected_reports"] == 1  # the original rejection stays, marked replayed
        assert cli_json(fixed, "rejected", "list") == []
        assert len(cli_json(fixed, "rejected", "list", "--all")) == 1
    finally:
        ingest.terminate()
        ingest.wait(10)
