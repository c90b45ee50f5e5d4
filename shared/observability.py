"""Metrics, health and structured logs for every service process.

One call wires a service: `observe_service(app, "aggregate", broker=broker, redis=redis,
engine=engine)` serves `GET /metrics` (Prometheus text) and `GET /healthz` (JSON;
503 unless Redis answers, the database answers and the consumer runs) on
`LAGESBILD_METRICS_PORT` (0 = off), and keeps the pending/lag gauges of the streams the
service's consumer group reads current. Service-specific timings are module-level
histograms, used as decorators or `with` blocks: `WEEK_BUILD_SECONDS.time()`,
`RENDER_SECONDS.time()`.

The server is a few lines of asyncio rather than prometheus_client's own (which cannot
answer /healthz) or uvicorn (which would take over the process's signal handlers, and with
them FastStream's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from shared.config import Settings
from shared.contracts import groups_of

log = logging.getLogger("lagesbild.ops")


# --- metrics ---------------------------------------------------------------------------
# Names say the service where only one service counts the thing; shared ones carry a
# `service` label.
ACCEPTED = Counter("lagesbild_ingest_reports_accepted", "Reports stored for the first time")
REJECTED = Counter("lagesbild_ingest_reports_rejected", "Reports rejected, by code", ["code"])
DEAD_LETTERED = Counter(
    "lagesbild_dead_lettered", "Entries dead-lettered after failures", ["service", "stream"]
)
STREAM_PENDING = Gauge(
    "lagesbild_stream_pending", "Delivered, not yet acknowledged", ["service", "stream", "group"]
)
STREAM_LAG = Gauge(
    "lagesbild_stream_lag", "Entries not yet delivered to the group", ["service", "stream", "group"]
)
WEEK_BUILD_SECONDS = Histogram(
    "lagesbild_aggregate_week_build_seconds",
    "Time to build one week",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RENDER_SECONDS = Histogram(
    "lagesbild_maps_render_seconds",
    "Time to render one week's map and pages",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

LAG_CAP = 10_000  # Redis < 7 has no lag field: count unread entries up to this many


async def group_state(redis: Any, stream: str, group: str) -> tuple[int, int] | None:
    """(pending, lag) of one consumer group, or None if the stream or group is missing."""
    try:
        groups = await redis.xinfo_groups(stream)
    except Exception:  # no such stream yet
        return None
    for g in groups:
        if _text(g["name"]) != group:
            continue
        lag = g.get("lag")
        if lag is None:
            start = f"({_text(g['last-delivered-id'])}"
            lag = len(await redis.xrange(stream, min=start, count=LAG_CAP))
        return int(g["pending"]), int(lag)
    return None


async def update_stream_gauges(redis: Any, service: str, streams: Mapping[str, str]) -> None:
    for stream, group in streams.items():
        state = await group_state(redis, stream, group)
        if state is not None:
            STREAM_PENDING.labels(service, stream, group).set(state[0])
            STREAM_LAG.labels(service, stream, group).set(state[1])


async def watch_streams(
    redis: Any, service: str, streams: Mapping[str, str], interval_s: float
) -> None:
    while True:
        try:
            await update_stream_gauges(redis, service, streams)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: the gauges keep their last value, /healthz says why
            log.warning("could not read stream state: %r", exc)
        await asyncio.sleep(interval_s)


# --- health ----------------------------------------------------------------------------
Health = Callable[[], Awaitable[dict[str, bool]]]


def health_checks(
    redis: Any, engine: Engine | None, consumer_running: Callable[[], bool]
) -> Health:
    """Redis, the database (if the service has one) and the consumer must all work."""

    async def check() -> dict[str, bool]:
        checks = {"redis": await _ok(redis.ping(), 2.0)}
        if engine is not None:
            checks["database"] = await _ok(asyncio.to_thread(_select_one, engine), 5.0)
        checks["consumer"] = bool(consumer_running())
        return checks

    return check


async def _ok(check: Awaitable[Any], timeout_s: float) -> bool:
    try:
        await asyncio.wait_for(check, timeout_s)
        return True
    except Exception:
        return False


def _select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# --- the HTTP server -------------------------------------------------------------------
async def start_ops_server(port: int, health: Health, host: str = "127.0.0.1") -> asyncio.Server:
    """Serve GET /metrics and GET /healthz (HTTP/1.1, one request per connection)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else ""
            status, ctype, body = await _respond(path, health)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def _respond(path: str, health: Health) -> tuple[str, str, bytes]:
    if path == "/metrics":
        return "200 OK", CONTENT_TYPE_LATEST, generate_latest()
    if path == "/healthz":
        checks = await health()
        ok = all(checks.values())
        body = json.dumps({"status": "ok" if ok else "unhealthy", "checks": checks}).encode()
        return ("200 OK" if ok else "503 Service Unavailable"), "application/json", body
    return "404 Not Found", "text/plain", b"not found\n"


# --- the one call per service ----------------------------------------------------------
def observe_service(
    app: Any,
    service: str,
    *,
    broker: Any,
    redis: Any,
    engine: Engine | None = None,
    streams: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> None:
    """Start the ops server and the stream gauges with a FastStream app, stop them with it.

    `streams` maps each stream the service consumes to its consumer group; by default the
    streams the stream table says it reads, with its group. Without `engine`
    (a service with no database) /healthz checks Redis and the consumer only.
    """
    ops = settings or Settings()
    if streams is None:
        streams = {stream: group for stream, (group,) in groups_of(service).items()}
    health = health_checks(redis, engine, lambda: subscribers_running(broker))
    server: list[asyncio.Server] = []
    tasks: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_observing() -> None:
        watch = watch_streams(redis, service, streams, ops.gauge_interval_s)
        tasks.append(asyncio.create_task(watch))
        if ops.metrics_port:
            server.append(await start_ops_server(ops.metrics_port, health, ops.metrics_host))
            log.info("%s: /metrics and /healthz on port %d", service, ops.metrics_port)

    @app.on_shutdown
    async def stop_observing() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for s in server:
            s.close()


def subscribers_running(broker: Any) -> bool:
    subscribers = list(broker.subscribers)
    return bool(subscribers) and all(s.running for s in subscribers)


# --- structured logs -------------------------------------------------------------------
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields (report_id, entry_id, stream …) included."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and value not in ("", None):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


# FastStream's loggers do not propagate and get a coloured stdout handler unless they
# already have one: giving them ours first keeps every line of a service in one format.
FASTSTREAM_LOGGERS = ("faststream", "faststream.access.redis")


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if fmt == "json":
        for name in FASTSTREAM_LOGGERS:
            own = logging.StreamHandler(sys.stdout)
            own.setFormatter(JsonFormatter())
            logging.getLogger(name).handlers = [own]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
