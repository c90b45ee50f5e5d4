"""How fast does `lagesbild` answer? Against a minimal two-command typer app's --help.

    .venv/bin/python bench/bench_cli.py [--runs 15] [--json]

Each round runs, one after the other (so a busy machine slows all alike): the minimal
app's `--help`, `lagesbild --help`, `lagesbild status` with no Redis running (it must say
so at once) and `lagesbild status` against a running Redis and a SQLite file (the full
read). Reported: the median wall time of each and its ratio to the minimal app's median,
from the same run. Target (issue #18): `--help` and `status` within 2× the minimal app.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def timed(argv: list[str], env: dict[str, str], cwd: Path, expect: set[int]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode not in expect:
        raise SystemExit(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed


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
            # first call creates the SQLite schema; not timed
            subprocess.run([*lagesbild_command(), "status"], env=running_env, cwd=work, check=True,
                           capture_output=True)  # fmt: skip
            cases["lagesbild status (running)"] = (
                [*lagesbild_command(), "status"],
                running_env,
                {0},
            )
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (argv, env, expect) in cases.items():
                times[name].append(timed(argv, env, work, expect))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    baseline = statistics.median(times["minimal --help"])
    result = {
        name: {
            "median_s": round(statistics.median(values), 4),
            "min_s": round(min(values), 4),
            "ratio": round(statistics.median(values) / baseline, 2),
        }
        for name, values in times.items()
    }
    if args.json:
        print(json.dumps({"runs": args.runs, "results": result}, indent=2))
        return
    print(f"{args.runs} runs each, interleaved; ratio = median / minimal app's median")
    for name, row in result.items():
        print(
            f"  {name:30s} median {row['median_s'] * 1000:7.1f} ms  "
            f"(min {row['min_s'] * 1000:6.1f} ms)  ratio {row['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
