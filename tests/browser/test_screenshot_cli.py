"""`lagesbild screenshot` as a user runs it: a process, the published week, the system's
Chromium found without being named (Playwright is a normal dependency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.maps.publish import publish_week
from services.maps.screenshot import find_chromium
from tests.conftest import require
from tests.support.snapshots import make_areas, rich_snapshot

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_screenshot_command_finds_chromium_by_itself(tmp_path: Path) -> None:
    require(
        find_chromium() is not None, "no Chromium or Chrome installed; apt-get install chromium"
    )
    published = tmp_path / "out"
    publish_week(published, rich_snapshot(), make_areas(), tiles=None)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LAGESBILD_")}
    env["LAGESBILD_OUTPUT_DIR"] = str(published)
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "screenshot", "--week", "2026-W47", "--out", "png"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    written = [Path(line) for line in proc.stdout.split()]
    assert [p.name for p in written] == [
        "karta-0580-2026-W47.png",
        "motesunderlag-0580-2026-W47.png",
        "offentlig-karta-0580-2026-W47.png",
    ]
    for path in written:
        data = (tmp_path / path).read_bytes()
        assert data.startswith(b"\x89PNG") and int.from_bytes(data[16:20], "big") == 1600
