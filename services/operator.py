"""What the operator commands do, apart from printing: submit, status, wait, request builds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.contracts import (
    ALL_STREAMS,
    CONSUMER_GROUPS,
    DEAD_LETTER_STREAM,
    PUBLISHED_STREAM,
    REPORTS_STREAM,
    WEEK_BUILD_STREAM,
    LagesbildPublishedV1,
    WeekBuildRequestedV1,
)
from shared.models import (
    RejectedSubmission,
    ReportConflict,
    StoredReport,
    WeekIncident,
    WeekSnapshotRow,
)
from shared.streams import ensure_groups, entry_payload

SUBMIT_CHUNK = 500


async def submit_lines(redis_url: str, lines: Iterable[bytes], on_chunk: Any = None) -> int:
    """Publish each non-empty line, as is, as one raw report; returns how many."""
    broker = RedisBroker(redis_url, socket_timeout=30)
    sent = 0
    async with broker:
        redis = Redis.from_url(redis_url)
        try:
            await ensure_groups(redis, CONSUMER_GROUPS)
            pipe = redis.pipeline(transaction=False)
            for line in lines:
                line = line.strip()
                if not line:
                    continue
                await broker.publish(line, stream=REPORTS_STREAM, pipeline=pipe)
                sent += 1
                if sent % SUBMIT_CHUNK == 0:
                    await pipe.execute()
                    if on_chunk:
                        on_chunk(SUBMIT_CHUNK)
            await pipe.execute()
            if on_chunk:
                on_chunk(sent % SUBMIT_CHUNK)
        finally:
            await redis.aclose()
    return sent


@dataclass
class StreamState:
    stream: str
    length: int
    groups: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> pending, lag


@dataclass
class Status:
    stored_reports: int
    linked_duplicates: int
    rejected_reports: int
    conflicts: int
    aggregated_reports: int
    week_snapshots: int
    pending: int
    unread: int
    dead_letters: int
    streams: list[StreamState]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


async def stream_states(redis: Redis) -> list[StreamState]:
    states = []
    for stream in ALL_STREAMS:
        if not await redis.exists(stream):
            continue
        state = StreamState(stream, int(await redis.xlen(stream)))
        for g in await redis.xinfo_groups(stream):
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            lag = g.get("lag")
            if lag is None:  # Redis < 7 has no lag field: count what is after last-delivered
                lag = len(
                    await redis.xrange(
                        stream, min=f"({_decode(g['last-delivered-id'])}", count=100_000
                    )
                )
            state.groups[name] = {"pending": int(g["pending"]), "lag": int(lag)}
        states.append(state)
    return states


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def status(engine: Engine, redis_url: str) -> Status:
    redis = Redis.from_url(redis_url)
    try:
        streams = await stream_states(redis)
    finally:
        await redis.aclose()
    with Session(engine) as s:
        counts = {
            "stored_reports": _count(s, StoredReport),
            "linked_duplicates": _count(s, StoredReport, StoredReport.duplicate_of.is_not(None)),  # type: ignore[union-attr]
            "rejected_reports": _count(s, RejectedSubmission),
            "conflicts": _count(s, ReportConflict),
            "aggregated_reports": _count(s, WeekIncident),
            "week_snapshots": _count(s, WeekSnapshotRow),
        }
    dead_letters = sum(st.length for st in streams if st.stream == DEAD_LETTER_STREAM)
    # The core pipeline's groups only: an optional consumer (the TiB) that is not running
    # must not make the pipeline look busy.
    core = [
        (st, g)
        for st in streams
        for name, g in st.groups.items()
        if name in CONSUMER_GROUPS.get(st.stream, ())
    ]
    pending = sum(g["pending"] for _st, g in core)
    unread = sum(g["lag"] for _st, g in core)
    return Status(
        **counts, pending=pending, unread=unread, dead_letters=dead_letters, streams=streams
    )


async def wait_until_idle(engine: Engine, redis_url: str, timeout_s: float = 300) -> Status:
    """Wait until every group has read and acknowledged everything on its streams."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = await status(engine, redis_url)
        if current.pending == 0 and current.unread == 0:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {current.pending} pending, {current.unread} unread")
        await asyncio.sleep(0.2)


async def request_builds(redis_url: str, kommun: str, weeks: list[str]) -> str:
    """Ask the aggregate service to build weeks; returns the published stream's id before."""
    redis = Redis.from_url(redis_url)
    try:
        last = await redis.xrevrange(PUBLISHED_STREAM, count=1)
        since = _decode(last[0][0]) if last else "0-0"
    finally:
        await redis.aclose()
    broker = RedisBroker(redis_url)
    async with broker:
        for week in weeks:
            await broker.publish(
                WeekBuildRequestedV1(kommun=kommun, iso_week=week), stream=WEEK_BUILD_STREAM
            )
    return since


async def wait_for_published(
    redis_url: str, since: str, expected: set[tuple[str, str]], timeout_s: float = 300
) -> list[LagesbildPublishedV1]:
    """Read the published stream from `since` until every (kommun, week) has been seen."""
    redis = Redis.from_url(redis_url)
    seen: dict[tuple[str, str], LagesbildPublishedV1] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while set(seen) < expected or not expected:
            reply = await redis.xread({PUBLISHED_STREAM: since}, block=500, count=100)
            streams = reply.items() if isinstance(reply, dict) else (reply or [])
            for _stream, entries in streams:
                for entry_id, fields in entries:
                    since = _decode(entry_id)
                    event = LagesbildPublishedV1.model_validate_json(entry_payload(fields))
                    seen[(event.kommun, event.iso_week)] = event
            if not expected and seen:
                break
            if time.monotonic() > deadline:
                missing = sorted(expected - set(seen))
                raise TimeoutError(f"not published within {timeout_s:.0f} s: {missing}")
    finally:
        await redis.aclose()
    return list(seen.values())


def rejected_rows(
    engine: Engine, *, code: str | None = None, include_replayed: bool = False, limit: int = 1000
) -> list[RejectedSubmission]:
    with Session(engine) as s:
        query = select(RejectedSubmission).order_by(RejectedSubmission.id)  # type: ignore[arg-type]
        if code:
            query = query.where(RejectedSubmission.code == code)
        if not include_replayed:
            query = query.where(RejectedSubmission.replayed_at.is_(None))  # type: ignore[union-attr]
        return list(s.exec(query.limit(limit)).all())


async def replay_rejected(engine: Engine, redis_url: str, rows: list[RejectedSubmission]) -> int:
    """Submit rejected payloads again (after the cause was fixed) and mark them replayed."""
    from datetime import UTC, datetime

    sent = await submit_lines(
        redis_url, [r.payload.encode("utf-8", "surrogateescape") for r in rows]
    )
    now = datetime.now(UTC)
    with Session(engine) as s:
        for row in rows:
            stored = s.get(RejectedSubmission, row.id)
            if stored is not None:
                stored.replayed_at = now
                s.add(stored)
        s.commit()
    return sent


async def publish(redis_url: str, stream: str, message: Any) -> None:
    """Publish one message (a contract model) on a stream."""
    async with RedisBroker(redis_url) as broker:
        await broker.publish(message, stream=stream)
