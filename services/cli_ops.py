"""What the operator commands do, apart from printing: status, wait, request builds, replay.

A composition root like `services/cli.py` (see pyproject's import-linter contracts): it
counts in several services' tables for `lagesbild status --db` (each service's own
definitions, `services/*/status.py`) and calls the ingest's rejected store for `rejected
replay`. No service imports it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from sqlalchemy.engine import Engine

from services.aggregate import retention as aggregate_retention
from services.aggregate import status as aggregate_status
from services.ingest import retention as ingest_retention
from services.ingest import status as ingest_status
from services.ingest.models import RejectedSubmission
from services.ingest.rejected import mark_replayed
from services.intake import retention as intake_retention
from services.tib import retention as tib_retention
from shared.contracts import (
    DEAD_LETTER_STREAM,
    LAGESBILD_READY_STREAM,
    PUBLISHED_STREAM,
    WEEK_BUILD_STREAM,
    DeadLetterV1,
    LagesbildPublishedV1,
    LagesbildReadyV1,
    WeekBuildRequestedV1,
)
from shared.report_submit import submit_lines
from shared.retention import purge
from shared.service_status import Status, open_reader, pipeline_totals, stream_states
from shared.status_table import stream_rows
from shared.streams import entry_payload, send


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def status(engine: Engine, redis_url: str) -> Status:
    """The status counted here, in the database (each number as its service defines it:
    services/ingest/status.py, services/aggregate/status.py), with the streams' state.
    `lagesbild status` uses the services' reports instead when they have reported
    (shared/service_status.py: status_from_reports)."""
    rows = stream_rows()
    reader = open_reader(redis_url)
    try:
        streams = stream_states(reader, rows)
    finally:
        reader.close()
    counts = {**ingest_status.counts(engine), **aggregate_status.counts(engine)}
    totals = pipeline_totals(rows, streams)
    return Status.of(counts, totals, streams, "database")


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
        for week in weeks:
            request = WeekBuildRequestedV1(kommun=kommun, iso_week=week)
            await send(redis, WEEK_BUILD_STREAM, request)
    finally:
        await redis.aclose()
    return since


class BuildRefused(ValueError):
    """The aggregate refused a build request (its dead letter's reason, in Swedish)."""


async def build_week(redis_url: str, kommun: str, week: str, timeout_s: float) -> LagesbildReadyV1:
    """Ask the aggregate service to build a week and wait for its answer: the ready event
    that names this request (`request_id`), or the dead letter of this request entry
    (`BuildRefused` with the aggregate's reason). TimeoutError when neither came within
    `timeout_s` (the aggregate is not running; the request stays on the stream)."""
    redis = Redis.from_url(redis_url, socket_timeout=30)
    try:
        since = {s: await _last_id(redis, s) for s in (LAGESBILD_READY_STREAM, DEAD_LETTER_STREAM)}
        request = WeekBuildRequestedV1(kommun=kommun, iso_week=week, requested_by="operator")
        entry_id = await send(redis, WEEK_BUILD_STREAM, request)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            reply: Any = await redis.xread(since, block=500, count=100)  # type: ignore[arg-type]
            for stream, entries in reply.items() if isinstance(reply, dict) else reply or []:
                name = _decode(stream)
                for found_id, fields in entries:
                    since[name] = _decode(found_id)
                    payload = entry_payload(fields)
                    if name == LAGESBILD_READY_STREAM:
                        ready = LagesbildReadyV1.model_validate_json(payload)
                        if ready.request_id == request.message_id:
                            return ready
                    else:
                        letter = DeadLetterV1.model_validate_json(payload)
                        if letter.stream == WEEK_BUILD_STREAM and letter.entry_id == entry_id:
                            raise BuildRefused(letter.reason)
        raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    finally:
        await redis.aclose()


async def _last_id(redis: Redis, stream: str) -> str:
    last = await redis.xrevrange(stream, count=1)
    return _decode(last[0][0]) if last else "0-0"


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
                    payload = entry_payload(cast(Mapping[bytes, bytes], fields))
                    event = LagesbildPublishedV1.model_validate_json(payload)
                    seen[(event.kommun, event.iso_week)] = event
            if not expected and seen:
                break
            if time.monotonic() > deadline:
                missing = sorted(expected - set(seen))
                raise TimeoutError(f"not published within {timeout_s:.0f} s: {missing}")
    finally:
        await redis.aclose()
    return list(seen.values())


async def replay_rejected(engine: Engine, redis_url: str, rows: list[RejectedSubmission]) -> int:
    """Submit rejected payloads again (after the cause was fixed) and mark them replayed."""
    sent = await submit_lines(
        redis_url, [r.payload.encode("utf-8", "surrogateescape") for r in rows]
    )
    mark_replayed(engine, [r.id for r in rows], datetime.now(UTC))
    return sent


async def send_message(redis_url: str, stream: str, message: Any) -> None:
    """Send one message (the stream's contract) on a stream."""
    redis = Redis.from_url(redis_url, socket_timeout=30)
    try:
        await send(redis, stream, message)
    finally:
        await redis.aclose()


def purge_all(
    engine: Engine,
    *,
    now: datetime,
    retention_days: int,
    dry_run: bool,
    run_by: str,
    data_dir: Path | None = None,
) -> dict[str, int]:
    """`lagesbild purge`: every service's purges (each names its own tables) in one
    transaction with one audit entry; with `data_dir`, the reports' photos too."""
    purges = {
        **ingest_retention.PURGES,
        **aggregate_retention.PURGES,
        **tib_retention.PURGES,
        **intake_retention.PURGES,
        **(intake_retention.photo_purges(data_dir) if data_dir is not None else {}),
    }
    return purge(
        engine, purges, now=now, retention_days=retention_days, dry_run=dry_run, run_by=run_by
    )
