"""Schemathesis against the running intake, TiB and archive server (issue #17): each app's
own OpenAPI document, every operation, a fixed seed; checks for server errors, status
codes, content types and response schemas. Real uvicorn processes (`lagesbild intake`,
`tib serve`, `maps-serve`) on free ports, a real redis-server and a SQLite file; tokens go
in as the documents' bearer security scheme. Zero failures is the bar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, run_cli

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ST = Path(sys.executable).parent / "st"
SEED = 17
MAX_EXAMPLES = 15
CHECKS = ",".join((
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance",
))  # fmt: skip
WEEK = "2026-W47"

# app -> (CLI command, port variable, role of the token, OpenAPI path)
APPS = {
    "intake": (("intake",), "LAGESBILD_INTAKE_PORT", ("reporter", "vaktare"), "/openapi.json"),
    "tib": (("tib", "serve"), "LAGESBILD_TIB_PORT", ("tib", "polis"), "/openapi.json"),
    "maps-serve": (
        ("maps-serve",),
        "LAGESBILD_MAPS_PORT",
        ("meeting", None),
        "/api/v1/openapi.json",
    ),
}


def _token(env: dict[str, str], name: str, role: str, source: str | None) -> str:
    args = ["org", "add", name, "--kommun", "0580", "--role", role]
    args += ["--source", source] if source else []
    return run_cli(env, *args).stdout.strip().splitlines()[-1].strip()


def _wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                json.loads(r.read())
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def apps(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[dict[str, tuple[str, str]]]:
    env = {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "LAGESBILD_OUTPUT_DIR": str(tmp_path / "out"),
        "LAGESBILD_MAP_TILES": "",
        "LAGESBILD_INTAKE_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    run_cli(env, "db", "upgrade")
    # A published week (as the maps service writes it), so the week API has a 200 too.
    for folder in (
        tmp_path / "out" / "0580" / WEEK,
        tmp_path / "out" / "offentlig" / "0580" / WEEK,
    ):
        folder.mkdir(parents=True)
        (folder / "sammanfattning.json").write_text('{"kommun": "0580", "total": 0}', "utf-8")
    procs, out = [], {}
    try:
        for name, (command, port_var, (role, source), doc) in APPS.items():
            port = free_port()
            token = _token(env, f"Kontrakt {name}", role, source)
            log = (tmp_path / f"{name}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "services.cli", *command],
                env={**os.environ, **env, port_var: str(port)},
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            out[name] = (base + doc, token)
        for url, _token_value in out.values():
            _wait_up(url)
        yield out
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


@pytest.mark.parametrize("app", list(APPS))
def test_schemathesis_finds_nothing(
    apps: dict[str, tuple[str, str]], app: str, tmp_path: Path
) -> None:
    url, token = apps[app]
    proc = subprocess.run(
        [str(ST), "run", url, "--seed", str(SEED), "-n", str(MAX_EXAMPLES), "-c", CHECKS,
         "--phases", "examples,coverage,fuzzing", "-H", f"Authorization: Bearer {token}",
         "--no-color", "--report-dir", str(tmp_path / "st")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-12000:]
    assert " passed" in summary and "failure" not in summary.split("SUMMARY")[-1], summary
