"""The TiB's stream handlers: accepted reports (the live window), lägesbild-ready (the newest
snapshot per kommun) and decisions, each read with the TiB's own group "tib".

Wired like every service's, from the stream table (shared/contracts.py): FastStream batch
subscribers and one Reclaimer per stream (`shared.service.consume_streams`, run by the
app's lifespan). Entries are acknowledged after their rows are committed; a bad entry is
dead-lettered (`shared.streams.dead_letter`) and acknowledged; a batch whose write failed
stays pending for the Reclaimer, which retries it entry by entry. New reports are pushed to
the page's open event streams (`Hub`) after the commit. The push is per process: run one TiB
process (a second one would share the group, and so the entries, and each would push only
its own share).

The tables are the TiB's projection: a TiB started after the others (or restarted) has the
picture at once from its own tables, and its group (created at its first start, at the
streams' beginning) or the streams' time retention gives it what it has not read yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from redis.asyncio import Redis
from sqlalchemy.engine import Engine

from services.tib import store
from shared.contracts import (
    ACCEPTED_STREAM,
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    TIB_GROUP,
    AcceptedReportV1,
    DecisionV1,
    LagesbildReadyV1,
)
from shared.streams import Handler, RawEntry, valid_messages

__all__ = ["TIB_GROUP", "Hub", "TibConsumer"]

log = logging.getLogger("lagesbild.tib")


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

    def broadcast(self, kommun: str, item: dict[str, Any]) -> None:
        for queue, wanted in list(self._queues.items()):
            if wanted == kommun:
                with contextlib.suppress(asyncio.QueueFull):  # a stalled page misses some
                    queue.put_nowait(item)


class TibConsumer:
    def __init__(self, engine: Engine, redis: Redis, hub: Hub, history_days: int) -> None:
        self.engine, self.redis, self.hub = engine, redis, hub
        self.history = timedelta(days=history_days)

    def handlers(self) -> dict[str, Handler]:
        """The TiB's handlers by their name in the stream table (shared/contracts.py)."""
        return {
            "when_reports_are_accepted_show_them_live": self.settle_accepted,
            "when_a_lagesbild_is_ready_keep_the_newest": self.settle_ready,
            "when_the_meeting_decides_show_the_decision": self.settle_decisions,
        }

    # --- settling: validate, write, then (by the caller) acknowledge ---------------------

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        reports = await valid_messages(
            self.redis, ACCEPTED_STREAM, TIB_GROUP, entries, AcceptedReportV1
        )
        cutoff = datetime.now(UTC) - self.history
        rows = [store.report_row(r) for r in reports if r.occurred_at >= cutoff]
        new = await anyio.to_thread.run_sync(store.save_reports, self.engine, rows)
        for row in new:
            self.hub.broadcast(row["kommun"], store.public(row))

    async def settle_ready(self, entries: list[RawEntry]) -> None:
        ready_events = await valid_messages(
            self.redis, LAGESBILD_READY_STREAM, TIB_GROUP, entries, LagesbildReadyV1
        )
        for ready in ready_events:
            await anyio.to_thread.run_sync(store.save_snapshot, self.engine, ready.snapshot)
            self.hub.broadcast(ready.snapshot.kommun, {"type": "snapshot"})

    async def settle_decisions(self, entries: list[RawEntry]) -> None:
        for decision in await valid_messages(
            self.redis, DECISION_STREAM, TIB_GROUP, entries, DecisionV1
        ):
            await anyio.to_thread.run_sync(store.save_decision, self.engine, decision)
            self.hub.broadcast(decision.kommun, {"type": "decision"})

    # --- the live window ----------------------------------------------------------------

    async def prune_forever(self, interval_s: float = 600) -> None:
        """Drop accepted reports older than the history (LAGESBILD_TIB_HISTORY_DAYS)."""
        while True:
            try:
                cutoff = datetime.now(UTC) - self.history
                await anyio.to_thread.run_sync(store.prune, self.engine, cutoff)
            except Exception:
                log.exception("pruning the live window failed")
            await asyncio.sleep(interval_s)
