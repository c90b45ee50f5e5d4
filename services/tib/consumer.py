"""The TiB's stream consumers: accepted reports (the live window), lägesbild-ready (the
newest snapshot per kommun) and decisions, each with the TiB's own group "tib".

One plain XREADGROUP loop reads all three streams. Entries are acknowledged after their
rows are committed; a bad entry is logged, dead-lettered and acknowledged (it never stops
the loop); a batch whose write failed stays pending for the `Reclaimer`, which retries it
entry by entry. New reports are pushed to the page's open event streams (`Hub`) after the
commit. The push is per process: run one TiB process (a second one would share the
group, and so the entries, and each would push only its own share).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from sqlalchemy.engine import Engine

from services.tib import store
from shared.contracts import (
    ACCEPTED_STREAM,
    DEAD_LETTER_STREAM,
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    AcceptedReportV1,
    DeadLetterV1,
    DecisionV1,
    LagesbildReadyV1,
)
from shared.streams import RawEntry, Reclaimer, entry_payload, payload_text

log = logging.getLogger("lagesbild.tib")

TIB_GROUP = "tib"
TIB_GROUPS = {s: (TIB_GROUP,) for s in (ACCEPTED_STREAM, LAGESBILD_READY_STREAM, DECISION_STREAM)}


class Hub:
    """Fan-out of new reports to the open event streams of this process, per kommun."""

    def __init__(self, max_queued: int = 1000) -> None:
        self._queues: dict[asyncio.Queue[dict[str, Any]], str] = {}
        self.max_queued = max_queued

    def subscribe(self, kommun: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.max_queued)
        self._queues[queue] = kommun
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.pop(queue, None)

    def publish(self, kommun: str, item: dict[str, Any]) -> None:
        for queue, wanted in list(self._queues.items()):
            if wanted == kommun:
                with contextlib.suppress(asyncio.QueueFull):  # a stalled page misses some
                    queue.put_nowait(item)


class TibConsumer:
    def __init__(
        self, engine: Engine, redis: Redis, hub: Hub, consumer: str, history_days: int
    ) -> None:
        self.engine, self.redis, self.hub, self.consumer = engine, redis, hub, consumer
        self.history = timedelta(days=history_days)
        self.settlers: dict[str, Callable[[list[RawEntry]], Awaitable[None]]] = {
            ACCEPTED_STREAM: self.settle_accepted,
            LAGESBILD_READY_STREAM: self.settle_ready,
            DECISION_STREAM: self.settle_decisions,
        }

    # --- settling: validate, write, then (by the caller) acknowledge ---------------------

    async def _valid(self, stream: str, entries: list[RawEntry], model: type[Any]) -> list[Any]:
        out = []
        for entry in entries:
            try:
                out.append(model.model_validate_json(entry.payload))
            except (ValidationError, ValueError) as exc:
                await self.dead_letter(stream, entry, f"ogiltig / invalid: {str(exc)[:300]}")
        return out

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        reports: list[AcceptedReportV1] = await self._valid(
            ACCEPTED_STREAM, entries, AcceptedReportV1
        )
        cutoff = datetime.now(UTC) - self.history
        rows = [store.report_row(r) for r in reports if r.occurred_at >= cutoff]
        new = await anyio.to_thread.run_sync(store.save_reports, self.engine, rows)
        for row in new:
            self.hub.publish(row["kommun"], store.public(row))

    async def settle_ready(self, entries: list[RawEntry]) -> None:
        for ready in await self._valid(LAGESBILD_READY_STREAM, entries, LagesbildReadyV1):
            await anyio.to_thread.run_sync(store.save_snapshot, self.engine, ready.snapshot)
            self.hub.publish(ready.snapshot.kommun, {"type": "snapshot"})

    async def settle_decisions(self, entries: list[RawEntry]) -> None:
        for decision in await self._valid(DECISION_STREAM, entries, DecisionV1):
            await anyio.to_thread.run_sync(store.save_decision, self.engine, decision)
            self.hub.publish(decision.kommun, {"type": "decision"})

    async def dead_letter(self, stream: str, entry: RawEntry, reason: str) -> None:
        log.warning("dead-lettering %s %s: %s", stream, entry.entry_id, reason)
        letter = DeadLetterV1(
            stream=stream,
            entry_id=entry.entry_id,
            reason=reason,
            payload=payload_text(entry.payload),
            deliveries=entry.deliveries,
            dead_lettered_at=datetime.now(UTC),
        )
        await self.redis.xadd(DEAD_LETTER_STREAM, _as_fields(letter))

    # --- the loops -----------------------------------------------------------------------

    async def run(self, batch: int = 200, block_ms: int = 1000) -> None:
        """Read, settle and acknowledge for ever (the groups exist: `ensure_groups`)."""
        streams: dict[Any, Any] = dict.fromkeys(self.settlers, ">")
        while True:
            try:
                reply = await self.redis.xreadgroup(
                    TIB_GROUP, self.consumer, streams, count=batch, block=block_ms
                )
                for stream, items in _stream_items(reply):
                    await self._settle_and_ack(stream, items)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("TiB read loop failed; again in 1 s")
                await asyncio.sleep(1)

    async def _settle_and_ack(self, stream: str, items: list[Any]) -> None:
        entries = [RawEntry(_text(i), entry_payload(f)) for i, f in items if f is not None]
        try:
            await self.settlers[stream](entries)
        except Exception:
            log.exception("%d entries of %s left pending for the reclaimer", len(entries), stream)
            return
        await self.redis.xack(stream, TIB_GROUP, *[i for i, _ in items])

    def reclaimers(
        self, min_idle_ms: int, max_failures: int, max_deliveries: int
    ) -> list[Reclaimer]:
        return [
            Reclaimer(
                redis=self.redis,
                stream=stream,
                group=TIB_GROUP,
                consumer=self.consumer,
                settle=settle,
                dead_letter=lambda e, r, s=stream: self.dead_letter(s, e, r),  # type: ignore[misc]
                min_idle_ms=min_idle_ms,
                max_failures=max_failures,
                max_deliveries=max_deliveries,
            )
            for stream, settle in self.settlers.items()
        ]

    async def prune_forever(self, interval_s: float = 600) -> None:
        while True:
            try:
                cutoff = datetime.now(UTC) - self.history
                await anyio.to_thread.run_sync(store.prune, self.engine, cutoff)
            except Exception:
                log.exception("pruning the live window failed")
            await asyncio.sleep(interval_s)


def _stream_items(reply: Any) -> list[tuple[str, list[Any]]]:
    """XREADGROUP's reply as (stream, [(id, fields)]) for RESP2 (a list) and RESP3 (a dict)."""
    if not reply:
        return []
    pairs = reply.items() if isinstance(reply, dict) else reply
    out = []
    for stream, items in pairs:
        if (
            items
            and isinstance(items[0], list)
            and items[0]
            and isinstance(items[0][0], tuple | list)
        ):
            items = items[0]  # RESP3 wraps the entries once more
        out.append((_text(stream), list(items)))
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _as_fields(message: BaseModel) -> dict[Any, Any]:
    # A plain `payload` field: readable by every consumer and by redis-cli.
    return {"payload": message.model_dump_json()}
