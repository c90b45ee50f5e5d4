"""What the multi-process benchmarks share: a service's health, a fresh database, stopping."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path

from tests.support.postgres import TempPostgres


def healthy(port: int) -> bool:
    """The service on `port` answers its /healthz (it consumes)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def new_database(kind: str, workdir: Path, postgres: TempPostgres | None) -> str:
    """A new empty database of `kind` ("sqlite" or "postgresql") for one round."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'lagesbild.db'}"
    assert postgres is not None
    return postgres.create_database(f"bench_{uuid.uuid4().hex[:10]}")


def stop_all(procs: Iterable[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """SIGTERM every process first (they stop in parallel), then wait; kill the stragglers."""
    procs = list(procs)
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
