"""What `lagesbild status` shows, and the services' own reports of their numbers.

Each pipeline service that owns numbers (the ingest its stored, rejected and conflicting
reports; the aggregate its counted reports and week versions) keeps them in a small Redis
hash, `lagesbild:status:<service>`: the counts from its own store (one definition each,
in the service's `status.py`), when they were taken, and where its consumer groups stood
just before (each group's last delivered entry and pending count). It refreshes them as
soon as a group has moved (polled every `REFRESH_S`) and at least every `HEARTBEAT_S`, and
deletes the hash when it stops. Every service also writes the stream table's rows
(`STREAM_TABLE_KEY`), so that the command needs neither the contracts nor a database
driver: it reads Redis only, with redis-py.

The counts are *current* when the groups stand where they stood when the counts were
taken: nothing was delivered or acknowledged since, so every acknowledged entry was
committed before the count (an entry is acknowledged only after its rows are committed).
The command waits briefly for a service that is catching up. Rows changed without a
stream message (a purge, the weekly build) show at the next heartbeat.

This module imports no contract, no database library and no Redis client library: the
command reads with `shared.redis_lite` (redis-py for a TLS address), the services write
with their redis-py client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("lagesbild.status")

STATUS_KEY_PREFIX = "lagesbild:status:"
STREAM_TABLE_KEY = "lagesbild:status:stream-table"
REFRESH_S = 1.0  # how often a service looks whether its groups have moved
HEARTBEAT_S = 5.0  # and counts again at least this often
STALE_AFTER_S = 30.0  # a report older than this is not used (the service is not running)
KEY_TTL_S = 120  # a crashed service's report disappears on its own

COUNT_OWNERS = ("ingest", "aggregate")  # the services whose numbers `status` shows
COUNT_KEYS = (  # what they count (services/ingest/status.py, services/aggregate/status.py)
    "stored_reports",
    "linked_duplicates",
    "rejected_reports",
    "conflicts",
    "aggregated_reports",
    "counted_reports",
    "week_snapshots",
)

Position = tuple[str, int]  # a group's last delivered entry id and its pending count


def status_key(service: str) -> str:
    return f"{STATUS_KEY_PREFIX}{service}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class StreamRow:
    """One row of the stream table, as far as `status` needs it (plain data)."""

    stream: str
    groups: tuple[str, ...]  # the consumer groups the table names
    pipeline_groups: tuple[str, ...]  # those of ingest, aggregate, maps
    dead_letters: bool = False  # the dead-letter stream: its length is the dead letters

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "groups": list(self.groups),
            "pipeline_groups": list(self.pipeline_groups),
            "dead_letters": self.dead_letters,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StreamRow:
        return cls(
            str(doc["stream"]),
            tuple(doc["groups"]),
            tuple(doc["pipeline_groups"]),
            bool(doc.get("dead_letters", False)),
        )


@dataclass
class StreamState:
    stream: str
    length: int
    groups: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> pending, lag
    # the table's groups that do not exist yet (their service has never started)
    missing_groups: list[str] = field(default_factory=list)
    # group -> its last delivered entry id (whether a service's report is current)
    delivered: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "length": self.length,
            "groups": self.groups,
            "missing_groups": self.missing_groups,
        }


@dataclass
class ServiceReport:
    """A service's last report, as `status` judged it."""

    service: str
    at: datetime | None  # None: no report (not running, or stopped)
    counts: dict[str, int]
    current: bool  # its groups stand where they stood when it counted

    def as_dict(self) -> dict[str, Any]:
        return {
            "reported_at": self.at.isoformat() if self.at else None,
            "current": self.current,
        }


@dataclass
class Status:
    stored_reports: int
    linked_duplicates: int
    rejected_reports: int
    conflicts: int
    aggregated_reports: int
    counted_reports: int  # händelser: the aggregate's reports that are not likely duplicates
    week_snapshots: int
    pending: int
    unread: int
    dead_letters: int
    streams: list[StreamState]
    source: str = "database"  # "services": their reports in Redis; "database": counted here
    reports: dict[str, ServiceReport] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        counts: dict[str, int],
        totals: dict[str, int],
        streams: list[StreamState],
        source: str,
        reports: dict[str, ServiceReport] | None = None,
    ) -> Status:
        """The status from the services' counts (COUNT_KEYS) and the streams' totals."""
        named = {key: counts[key] for key in COUNT_KEYS}
        pipeline = {key: totals[key] for key in ("pending", "unread", "dead_letters")}
        return cls(**named, **pipeline, streams=streams, source=source, reports=reports or {})

    def as_dict(self) -> dict[str, Any]:
        names = (*COUNT_KEYS, "pending", "unread", "dead_letters")
        doc: dict[str, Any] = {name: getattr(self, name) for name in names}
        doc["streams"] = [s.as_dict() for s in self.streams]
        doc["source"] = self.source
        doc["reports"] = {name: r.as_dict() for name, r in self.reports.items()}
        return doc


class Reader(Protocol):
    """The read commands `status` needs (shared.redis_lite.LiteRedis, or `PyReader`)."""

    def get(self, key: str) -> bytes | None: ...
    def hgetall(self, key: str) -> dict[bytes, bytes]: ...
    def exists(self, key: str) -> int: ...
    def xlen(self, key: str) -> int: ...
    def xinfo_groups(self, key: str) -> list[dict[str, Any]]: ...
    def xrange_count(self, key: str, after: str, count: int) -> int: ...
    def close(self) -> None: ...


class PyReader:
    """`Reader` on redis-py, for an address `shared.redis_lite` does not speak (TLS)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=timeout)

    def get(self, key: str) -> bytes | None:
        value = self.client.get(key)
        return value if isinstance(value, bytes) else None

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.client.hgetall(key))  # type: ignore[arg-type]

    def exists(self, key: str) -> int:
        return int(self.client.exists(key))

    def xlen(self, key: str) -> int:
        return int(self.client.xlen(key))

    def xinfo_groups(self, key: str) -> list[dict[str, Any]]:
        return [dict(g) for g in self.client.xinfo_groups(key)]

    def xrange_count(self, key: str, after: str, count: int) -> int:
        return len(self.client.xrange(key, min=after, count=count) or [])

    def close(self) -> None:
        self.client.close()


def open_reader(url: str, timeout: float = 10.0) -> Reader:
    from shared.redis_lite import connect

    return connect(url, timeout) or PyReader(url, timeout)


def stream_states(redis: Reader, rows: Sequence[StreamRow]) -> list[StreamState]:
    """Every stream of the table: its length, and each consumer group's pending and unread
    entries: the table's groups (a missing one is listed as such) and those added at run
    time (a guard company's on the orders stream)."""
    states = []
    for row in rows:
        state = StreamState(row.stream, 0)
        if redis.exists(row.stream):
            state.length = redis.xlen(row.stream)
            for g in redis.xinfo_groups(row.stream):
                name = _text(g["name"])
                lag = g.get("lag")
                delivered = _text(g["last-delivered-id"])
                if lag is None:  # Redis < 7 (or an inexact lag): count what is after it
                    lag = redis.xrange_count(row.stream, f"({delivered}", 100_000)
                state.groups[name] = {"pending": int(g["pending"]), "lag": int(lag)}
                state.delivered[name] = delivered
        state.missing_groups = [g for g in row.groups if g not in state.groups]
        states.append(state)
    return states


def positions(states: Sequence[StreamState], pairs: Mapping[str, str]) -> dict[str, Position]:
    """Where the groups in `pairs` (stream -> group) stand: "stream|group" -> (last
    delivered id, pending); a group that does not exist yet stands at ("", 0)."""
    by_stream = {s.stream: s for s in states}
    out: dict[str, Position] = {}
    for stream, group in sorted(pairs.items()):
        state = by_stream.get(stream)
        if state is None or group not in state.groups:
            out[f"{stream}|{group}"] = ("", 0)
        else:
            out[f"{stream}|{group}"] = (state.delivered[group], state.groups[group]["pending"])
    return out


def pipeline_totals(rows: Sequence[StreamRow], states: Sequence[StreamState]) -> dict[str, int]:
    """Pending and unread over the pipeline's groups only (ingest, aggregate, maps): a web
    service or a guard company that is not running must not make the pipeline look busy
    (each group is listed); and the dead letters."""
    wanted = {r.stream: r.pipeline_groups for r in rows}
    core = [
        g for st in states for name, g in st.groups.items() if name in wanted.get(st.stream, ())
    ]
    dead = {r.stream for r in rows if r.dead_letters}
    return {
        "pending": sum(g["pending"] for g in core),
        "unread": sum(g["lag"] for g in core),
        "dead_letters": sum(st.length for st in states if st.stream in dead),
    }


# --- the services' side ------------------------------------------------------------------


async def own_positions(redis: Redis, own_groups: Mapping[str, str]) -> dict[str, Position]:
    """Where the service's groups stand, as `positions` reads them for the command."""
    out: dict[str, Position] = {}
    for stream, group in sorted(own_groups.items()):
        out[f"{stream}|{group}"] = ("", 0)
        if await redis.exists(stream):
            for g in await redis.xinfo_groups(stream):
                if _text(g["name"]) == group:
                    out[f"{stream}|{group}"] = (_text(g["last-delivered-id"]), int(g["pending"]))
    return out


async def write_report(
    redis: Redis,
    service: str,
    counts: Mapping[str, int],
    at: Mapping[str, Position],
    rows: Sequence[StreamRow],
) -> None:
    """One report: the counts, where the groups stood before they were taken, and when."""
    doc: dict[Any, Any] = {
        "counts": json.dumps(dict(counts)),
        "positions": json.dumps({k: list(v) for k, v in at.items()}),
        "at": datetime.now(UTC).isoformat(),
    }
    pipe = redis.pipeline(transaction=True)
    pipe.hset(status_key(service), mapping=doc)
    pipe.expire(status_key(service), KEY_TTL_S)
    pipe.set(STREAM_TABLE_KEY, json.dumps([r.as_json() for r in rows]), ex=KEY_TTL_S)
    await pipe.execute()


async def keep_reporting(
    redis: Redis,
    service: str,
    count: Callable[[], Mapping[str, int]],
    rows: Sequence[StreamRow],
    own_groups: Mapping[str, str],
    *,
    refresh_s: float = REFRESH_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> None:
    """Report `service`'s counts until cancelled: again whenever one of its groups
    (`own_groups`: stream -> group) has moved, and at least every `heartbeat_s`. `count`
    runs in a worker thread (it reads the service's store). A failure is logged and
    retried at the next round: the status report never stops a service."""
    last: dict[str, Position] | None = None
    written = 0.0
    while True:
        try:
            now = await own_positions(redis, own_groups)
            if now != last or time.monotonic() - written >= heartbeat_s:
                counts = await asyncio.to_thread(count)
                await write_report(redis, service, counts, now, rows)
                last, written = now, time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s: status report failed; next try in %.0f s", service, refresh_s)
        await asyncio.sleep(refresh_s)


def report_status(
    app: Any,
    redis: Redis,
    service: str,
    count: Callable[[], Mapping[str, int]],
    rows: Sequence[StreamRow],
    own_groups: Mapping[str, str],
) -> None:
    """Hook `keep_reporting` into a FastStream app's life cycle; the report is deleted on
    a graceful stop (`status` then counts in the database itself)."""
    tasks: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_reporting() -> None:
        tasks.append(asyncio.create_task(keep_reporting(redis, service, count, rows, own_groups)))

    @app.on_shutdown
    async def stop_reporting() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await redis.delete(status_key(service))


# --- the command's side ------------------------------------------------------------------


def read_table(redis: Reader) -> list[StreamRow] | None:
    """The stream table's rows as the services wrote them; None when none has."""
    raw = redis.get(STREAM_TABLE_KEY)
    if raw is None:
        return None
    return [StreamRow.from_json(doc) for doc in json.loads(raw)]


def read_report(
    redis: Reader, service: str, states: Sequence[StreamState], now: datetime
) -> ServiceReport:
    raw = {_text(k): _text(v) for k, v in redis.hgetall(status_key(service)).items()}
    if not raw:
        return ServiceReport(service, None, {}, current=False)
    at = datetime.fromisoformat(raw["at"])
    if (now - at).total_seconds() > STALE_AFTER_S:
        return ServiceReport(service, None, {}, current=False)
    stood = {k: (str(v[0]), int(v[1])) for k, v in json.loads(raw["positions"]).items()}
    pairs = dict(key.split("|", 1) for key in stood)
    counts = {k: int(v) for k, v in json.loads(raw["counts"]).items()}
    return ServiceReport(service, at, counts, current=positions(states, pairs) == stood)


def status_from_reports(
    redis: Reader, *, wait_s: float = 3.0, poll_s: float = 0.1
) -> tuple[Status | None, list[str]]:
    """The status from the services' reports, waiting up to `wait_s` for a service that is
    catching up. Returns (None, the services without a report) when a service whose
    numbers are shown has not reported (then the caller counts in the database)."""
    deadline = time.monotonic() + wait_s
    while True:
        rows = read_table(redis)
        if rows is None:
            return None, list(COUNT_OWNERS)
        states = stream_states(redis, rows)
        now = datetime.now(UTC)
        reports = {s: read_report(redis, s, states, now) for s in COUNT_OWNERS}
        silent = [s for s, r in reports.items() if r.at is None]
        if silent:
            return None, silent
        if all(r.current for r in reports.values()) or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    counts: dict[str, int] = {}
    for report in reports.values():
        counts.update(report.counts)
    if set(counts) != set(COUNT_KEYS):  # a service of another version: count here
        return None, [s for s, r in reports.items() if not set(r.counts) <= set(COUNT_KEYS)]
    totals = pipeline_totals(rows, states)
    return (
        Status.of(counts, totals, states, "services", reports),
        [],
    )


def reported_status(redis_url: str) -> tuple[Status | None, list[str]]:
    """`status_from_reports` on a connection of its own (the command's fast path)."""
    reader = open_reader(redis_url)
    try:
        return status_from_reports(reader)
    finally:
        reader.close()
