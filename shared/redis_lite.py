"""A small, read-only Redis client for `lagesbild status`, with nothing to import.

redis-py (and the asyncio it imports) costs `lagesbild status` about as much as all the
rest of the command (bench/bench_cli.py); this speaks RESP2 over a plain socket for the
handful of read commands the status needs. The services and every other command use
redis-py. Only `redis://` and `unix://` addresses; for anything else (TLS: `rediss://`)
`connect` returns None and the caller uses redis-py.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class RedisLiteError(Exception):
    """Redis answered with an error."""


class LiteRedis:
    """One connection; commands are sent and answered one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> LiteRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self, *args: str | bytes | int) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self) -> Any:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisLiteError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.reader.read(size + 2)
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")

    # --- the commands `status` uses, answering as redis-py does (bytes, dicts) -----------
    def get(self, key: str) -> bytes | None:
        value = self.command("GET", key)
        return value if isinstance(value, bytes) else None

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        flat = self.command("HGETALL", key) or []
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def exists(self, key: str) -> int:
        return int(self.command("EXISTS", key))

    def xlen(self, key: str) -> int:
        return int(self.command("XLEN", key))

    def xinfo_groups(self, key: str) -> list[dict[str, Any]]:
        groups = self.command("XINFO", "GROUPS", key) or []
        return [{k.decode(): v for k, v in zip(g[::2], g[1::2], strict=True)} for g in groups]

    def xrange_count(self, key: str, after: str, count: int) -> int:
        return len(self.command("XRANGE", key, after, "+", "COUNT", count) or [])


def connect(url: str, timeout: float = 10.0) -> LiteRedis | None:
    """A connection to `url`, authenticated and on its database; None for an address this
    client does not speak (TLS)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(parts.path)
        db = int(query.get("db", ["0"])[0])
    elif parts.scheme == "redis":
        sock = socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
        )
        path = parts.path.strip("/")
        db = int(path or query.get("db", ["0"])[0])
    else:
        return None
    client = LiteRedis(sock)
    try:
        if parts.password is not None:
            user = unquote(parts.username) if parts.username else None
            secret = unquote(parts.password)
            client.command("AUTH", *((user, secret) if user else (secret,)))
        if db:
            client.command("SELECT", db)
    except Exception:
        client.close()
        raise
    return client
