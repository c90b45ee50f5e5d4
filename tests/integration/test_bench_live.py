"""`bench/bench_live.py --quick` runs end to end (the real services, Redis, Chromium) and
produces numbers: every report submitted reaches the TiB page and has a latency. Not a
timing assertion: the machine may be busy; the figures are the bench's to report."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import require_chromium

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.browser]


def test_the_live_bench_measures_submission_to_page(tmp_path: Path) -> None:
    require_chromium()
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_live.py"), "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [row] = json.loads(out.read_text(encoding="utf-8"))
    assert row["rate"] == 50 and row["sent"] == 150
    assert row["refused"] == 0 and row["missing"] == 0 and row["arrived"] == row["sent"]
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row)
    assert row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    # where the time goes: every hop measured for every report that arrived
    assert row["refused_by"] == {}
    for hop in ("intake", "ingest", "tib", "browser"):
        spans = row["hops_ms"][hop]
        assert spans["n"] == row["arrived"] and spans["p50"] <= spans["p99"], (hop, row)
    assert "where the time goes" in proc.stdout
    assert "p99 ms" in proc.stdout and "rate/s" in proc.stdout  # the printed table
