"""Run services as child processes, for `lagesbild up`, `lagesbild demo` and the tests.

Each service is `python -m services.cli <command>`, started in its own session (so a
Ctrl-C in the terminal reaches only the supervising process, which then stops the
services in order and the Redis it started last) and, on Linux, set to get SIGTERM should
the supervisor die without stopping it (no orphans left running).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from shared.redis_runtime import die_with_parent

# The stream consumers: what `lagesbild demo` and the tests run.
SERVICES = ("ingest", "aggregate", "maps")
# Every long-running service and its `lagesbild` command (`lagesbild up` runs them all).
COMMANDS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest",),
    "aggregate": ("aggregate",),
    "maps": ("maps",),
    "intake": ("intake",),
    "tib": ("tib", "serve"),
    "maps-serve": ("maps-serve",),
}
ALL_SERVICES = tuple(COMMANDS)
# The services that serve /metrics and /healthz on LAGESBILD_METRICS_PORT.
METRICS_SERVICES = SERVICES
# The HTTP services and the setting that names their port.
HTTP_PORT_SETTINGS = {
    "intake": "LAGESBILD_INTAKE_PORT",
    "tib": "LAGESBILD_TIB_PORT",
    "maps-serve": "LAGESBILD_MAPS_PORT",
}


def start_services(
    env: Mapping[str, str],
    log_dir: Path | None = None,
    services: Iterable[str] = SERVICES,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, subprocess.Popen[bytes]]:
    """Start each service with the given environment (plus its own extra variables).

    With `log_dir`, each writes to `<log_dir>/<name>.log`; else to this process's output.
    """
    procs: dict[str, subprocess.Popen[bytes]] = {}
    setup = die_with_parent()
    try:
        for name in services:
            out = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                out = (log_dir / f"{name}.log").open("ab")
            extra = (per_service_env or {}).get(name, {})
            try:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "services.cli", *COMMANDS[name]],
                    env={**os.environ, **env, **extra},
                    stdout=out,
                    stderr=subprocess.STDOUT if out else None,
                    start_new_session=True,
                    preexec_fn=setup,
                )
            finally:
                if out is not None:
                    out.close()  # the child has its own copy
    except BaseException:
        stop_services(procs)
        raise
    return procs


def stop_services(procs: Mapping[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
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


def exited(procs: Mapping[str, subprocess.Popen[bytes]]) -> list[str]:
    return [f"{name} (kod {p.returncode})" for name, p in procs.items() if p.poll() is not None]
