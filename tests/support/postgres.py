"""A throw-away PostgreSQL server for tests and benchmarks (Debian's postgresql package).

Production uses a managed or packaged PostgreSQL through `LAGESBILD_DATABASE_URL`; this
only exists so the test suite can prove the same code on a real server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: drop to the postgres user when we are root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@dataclass
class TempPostgres:
    port: int
    directory: Path
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://lagesbild@127.0.0.1:{self.port}/lagesbild"

    def start(self) -> TempPostgres:
        data = self.directory / "data"
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "lagesbild",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.directory / "pg.log"),
                "-o",
                f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-w",
                "start",
            ]
        )
        self._run(
            [
                str(self.bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "lagesbild",
                "lagesbild",
            ]
        )
        return self

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=lagesbild dbname=lagesbild", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        data = self.directory / "data"
        if data.exists():
            subprocess.run(
                _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                capture_output=True,
                timeout=60,
            )

    def _run(self, args: list[str]) -> None:
        proc = subprocess.run(_as_postgres(args), capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {proc.stderr.strip() or proc.stdout}")


def start_temp_postgres(port: int) -> TempPostgres | None:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="lagesbild-pg-"))
    os.chmod(directory, 0o755)
    server = TempPostgres(port, directory / "pg", bin_dir)
    deadline = time.monotonic() + 5
    while True:
        try:
            return server.start()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
