"""How fast does `lagesbild` answer? Against a minimal two-command typer app's --help.

    .venv/bin/python bench/bench_cli.py [--runs 15] [--json]

Each round runs, one after the other (so a busy machine slows all alike): the minimal
app's `--help`, `lagesbild --help`, `lagesbild status` with no Redis running (it must say
so at once), `lagesbild status` against a running Redis and SQLite file with the ingest and
aggregate services running (they keep their numbers in Redis: what an operator sees), and
`lagesbild status --db` (it counts in the database itself, as when no service runs).
Reported: the median wall time of each, and the median CPU time (user + system, which a
busy machine disturbs less), each with its ratio to the minimal app's, from the same run.
Target (issue #18): `--help` and `status` within 2x the minimal app.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MINIMAL_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(f"Hello {name}")


@app.command()
def goodbye(name: str) -> None:
    """Say goodbye."""
    print(f"Bye {name}")


app()
'''


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lagesbild_command() -> list[str]:
    """The installed console script when there is one (what a user runs), else -m."""
    script = Path(sys.executable).with_name("lagesbild")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "services.cli"]


def timed(argv: list[str], env: dict[str, str], cwd: Path, expect: set[int]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in expect:
        raise SystemExit(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed, cpu


def start_services(env: dict[str, str], work: Path) -> list[subprocess.Popen[bytes]]:
    """The ingest and aggregate services, until both have reported their numbers."""
    procs = [
        subprocess.Popen(
            [*lagesbild_command(), name],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=(work / f"{name}.log").open("wb"),
        )
        for name in ("ingest", "aggregate")
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = subprocess.run(
            [*lagesbild_command(), "status", "--json"], env=env, cwd=work, capture_output=True
        )
        if out.returncode == 0 and json.loads(out.stdout)["source"] == "services":
            return procs
        time.sleep(1)
    stop_services(procs)
    raise SystemExit("the services did not report their numbers within 120 s")


def stop_services(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--no-running", action="store_true", help="skip status against a running Redis"
    )
    args = parser.parse_args()

    from shared.redis_runtime import EmbeddedRedis

    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    server = None
    services: list[subprocess.Popen[bytes]] = []
    try:
        (work / "minimal.py").write_text(MINIMAL_APP)
        base_env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LAGESBILD_")}
        base_env["LAGESBILD_DATA_DIR"] = str(work / "data")
        stopped_env = {**base_env, "LAGESBILD_EMBEDDED_REDIS_PORT": str(_free_port())}
        cases: dict[str, tuple[list[str], dict[str, str], set[int]]] = {
            "minimal --help": ([sys.executable, str(work / "minimal.py"), "--help"], base_env, {0}),
            "lagesbild --help": ([*lagesbild_command(), "--help"], base_env, {0}),
            "lagesbild status (no Redis)": ([*lagesbild_command(), "status"], stopped_env, {3}),
        }
        if not args.no_running:
            server = EmbeddedRedis(_free_port(), work / "redis").start()
            running_env = {**base_env, "LAGESBILD_REDIS_URL": server.url}
            services = start_services(running_env, work)
            cases["lagesbild status (services)"] = (
                [*lagesbild_command(), "status"],
                running_env,
                {0},
            )
            cases["lagesbild status --db"] = (
                [*lagesbild_command(), "status", "--db"],
                running_env,
                {0},
            )
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (argv, env, expect) in cases.items():
                times[name].append(timed(argv, env, work, expect))
    finally:
        stop_services(services)
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    wall0 = statistics.median(w for w, _c in times["minimal --help"])
    cpu0 = statistics.median(c for _w, c in times["minimal --help"])
    result = {}
    for name, values in times.items():
        wall = statistics.median(w for w, _c in values)
        cpu = statistics.median(c for _w, c in values)
        result[name] = {
            "median_s": round(wall, 4),
            "min_s": round(min(w for w, _c in values), 4),
            "ratio": round(wall / wall0, 2),
            "cpu_s": round(cpu, 4),
            "cpu_ratio": round(cpu / cpu0, 2),
        }
    if args.json:
        print(json.dumps({"runs": args.runs, "results": result}, indent=2))
        return
    print(f"{args.runs} runs each, interleaved; ratio = median / minimal app's median")
    for name, row in result.items():
        print(
            f"  {name:30s} wall {row['median_s'] * 1000:7.1f} ms (min {row['min_s'] * 1000:6.1f})"
            f" ratio {row['ratio']:.2f}   cpu {row['cpu_s'] * 1000:6.1f} ms"
            f" ratio {row['cpu_ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
