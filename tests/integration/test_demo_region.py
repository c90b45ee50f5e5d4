"""`lagesbild demo` as a region: Linköping, Mjölby and Eskilstuna enabled, each with its
example plan and reports, every week published and the index listing all three. The real
command in a subprocess, with its own service processes on a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.redis_runtime import EmbeddedRedis
from tests.conftest import run_cli

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_the_demo_builds_three_kommuner(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    out = tmp_path / "out"
    env = {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_MAP_TILES": "",
    }
    done = run_cli(env, "demo", "--out", str(out), "--weeks", "2")
    assert "Linköping, Mjölby, Eskilstuna" in done.stdout
    assert "Samverkansöverenskommelse Mjölby kommun och Polisen" in done.stdout
    assert "Samverkansöverenskommelse Eskilstuna kommun och Polisen" in done.stdout

    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    weeks = {(e["kommun"], e["kommun_name"]) for e in index}
    assert weeks == {("0580", "Linköping"), ("0586", "Mjölby"), ("0484", "Eskilstuna")}
    assert len(index) == 6  # two weeks each
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(name in page for name in ("Linköping", "Mjölby", "Eskilstuna"))
    for kommun, total in {(e["kommun"], e["total"]) for e in index}:
        assert total > 0, kommun

    # Mjölby has no named areas: its hotspots are named after its plan's places.
    newest = max(e["iso_week"] for e in index)
    mjolby_map = (out / "0586" / newest / "karta.html").read_text(encoding="utf-8")
    assert "Övriga kommunen, vid G" in mjolby_map  # Gallerian or Gästisparken
    listed = json.loads(run_cli(env, "kommun", "list", "--json").stdout)
    plans = {r["kommun"]: r["plans"] for r in listed}
    assert plans == {
        "0580": ["linkoping-samverkan v1"],
        "0586": ["mjolby-2018-2020 v1"],
        "0484": ["eskilstuna-2022 v1"],
    }
