"""Run the three services as child processes for `lagesbild up` and `lagesbild demo`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SERVICES = ("ingest", "aggregate", "maps")


def start_services(
    env: dict[str, str], log_dir: Path | None = None
) -> dict[str, subprocess.Popen[bytes]]:
    """Start each service as `python -m services.cli <name>` with the given environment."""
    procs = {}
    for name in SERVICES:
        out = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            out = (log_dir / f"{name}.log").open("ab")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", name],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
    return procs


def stop_services(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM lets each service finish its batch and close; SIGKILL only as a last resort."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exited(procs: dict[str, subprocess.Popen[bytes]]) -> list[str]:
    return [f"{name} (exit {p.returncode})" for name, p in procs.items() if p.poll() is not None]
