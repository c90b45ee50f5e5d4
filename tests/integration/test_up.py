"""`lagesbild up` for real: every service and an embedded redis-server start, answer, and
all stop on SIGTERM and on a terminal's Ctrl-C (SIGINT to the foreground process group),
leaving no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.healthcheck import probe
from services.supervisor import ALL_SERVICES, HTTP_PORT_SETTINGS, METRICS_SERVICES
from tests.conftest import free_port, run_cli, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _consecutive_free_ports(count: int) -> int:
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        try:
            socks = []
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, start time, state), from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry)] = (int(fields[1]), fields[19], fields[0])
    return table


def _descendants(root: int) -> dict[int, str]:
    """Every live process under `root`: pid -> start time (to tell a reused pid apart)."""
    table = _processes()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start, _) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _still_running(processes: dict[int, str]) -> list[str]:
    table = _processes()
    left = []
    for pid, start in processes.items():
        row = table.get(pid)
        if row and row[1] == start and row[2] != "Z":
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            left.append(f"{pid}: {cmdline.decode(errors='replace')}")
    return left


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_up_runs_every_service_and_stops_them_all(tmp_path: Path, how: str) -> None:
    metrics = _consecutive_free_ports(len(METRICS_SERVICES))
    http = {name: free_port() for name in HTTP_PORT_SETTINGS}
    redis_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LAGESBILD_")}
    env |= {
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_EMBEDDED_REDIS_PORT": str(redis_port),
        "LAGESBILD_MAP_TILES": "",
        "LAGESBILD_METRICS_PORT": str(metrics),
        "PYTHONPATH": str(ROOT),
    }
    env |= {setting: str(http[name]) for name, setting in HTTP_PORT_SETTINGS.items()}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a shell's foreground job
    )
    urls = {
        name: f"http://127.0.0.1:{metrics + i}/healthz" for i, name in enumerate(METRICS_SERVICES)
    }
    urls |= {
        "intake": f"http://127.0.0.1:{http['intake']}/rapport",
        "tib": f"http://127.0.0.1:{http['tib']}/tib",
        "maps-serve": f"http://127.0.0.1:{http['maps-serve']}/offentlig/",
    }
    assert set(urls) == set(ALL_SERVICES)

    def up_log() -> str:
        return (tmp_path / "up.log").read_text(errors="replace")[-6000:]

    try:

        def all_healthy() -> bool:
            assert up.poll() is None, f"up exited {up.returncode}:\n{up_log()}"
            return all(
                probe(url, any_answer=name not in METRICS_SERVICES, timeout=2) is None
                for name, url in urls.items()
            )

        try:
            wait_for(all_healthy, timeout=240, interval=1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{up_log()}") from exc
        children = _descendants(up.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        assert sum(b"redis-server" in c for c in commands) == 1, commands
        assert sum(b"services.cli" in c for c in commands) == len(ALL_SERVICES), commands

        if how == "SIGTERM":
            up.send_signal(signal.SIGTERM)
        else:  # the terminal sends SIGINT to the whole foreground process group
            os.killpg(up.pid, signal.SIGINT)
        assert up.wait(timeout=90) == 0, up_log()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()
    deadline = time.monotonic() + 10
    while _still_running(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _still_running(children) == [], up_log()
    output = up_log()
    assert "Stoppar tjänsterna" in output and "Alla tjänster har stoppats." in output
    assert "Traceback" not in output, output
    # Redis was stopped cleanly: its AOF is there and nothing answers on its port any more
    assert (tmp_path / "data" / "redis").is_dir()
    assert any((tmp_path / "data" / "redis").rglob("*.aof"))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()


@pytest.mark.redis
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_status_table_speaks_swedish(service_env: dict[str, str]) -> None:
    run_cli(service_env, "db", "upgrade")
    out = run_cli({**service_env, "COLUMNS": "200"}, "status").stdout
    assert "Lagrade rapporter" in out and "Avvisade rapporter" in out and "Olästa poster" in out
    assert "stored_reports" not in out and "dead_letters" not in out
