"""The ingest service's stream endpoints: thin translators around IngestPipeline."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.ingest.pipeline import IngestPipeline
from services.ingest.store import BatchOutcome
from shared.contracts import (
    ACCEPTED_STREAM,
    INGEST_GROUP,
    REJECTED_STREAM,
    REPORTS_STREAM,
    RejectedReportV1,
)
from shared.observability import ACCEPTED, DEAD_LETTERED, REJECTED
from shared.scrub import scrub
from shared.streams import AckingSettle, DeadLetter, Handler, RawEntry, send

log = logging.getLogger("lagesbild.ingest")


class Ingest:
    """Store-then-announce for one batch; shared by the subscriber and the reclaimer."""

    def __init__(self, broker: RedisBroker, redis: Redis, pipeline: IngestPipeline) -> None:
        self.broker, self.redis, self.pipeline = broker, redis, pipeline

    async def settle(self, entries: list[RawEntry], *, ack: bool = False) -> BatchOutcome:
        # Inline, not in a worker thread: this consumer handles one batch at a time and
        # must commit before it acks, so a thread hop per batch bought only overhead
        # (~8 % of throughput, bench/bench_ingest.py). The loop is blocked for one batch at
        # most: SQLite waits at most 5 s for a lock (shared/db.py) and the stop is bounded
        # (shared/service.py), so SIGTERM is still honoured within the grace period.
        outcome = self.pipeline.process(entries, datetime.now(UTC))
        await self.announce(outcome, [e.entry_id for e in entries] if ack else None)
        record(outcome)
        return outcome

    async def settle_and_ack(self, entries: list[RawEntry]) -> None:
        """The subscriber's form: acked (XACK in the same round trip, after the events)
        only once the rows are committed; a failure leaves the batch pending for the
        reclaimer, which retries it entry by entry."""
        outcome = await self.settle(entries, ack=True)
        log.info(
            "batch %d: %d new, %d redelivered, %d conflicts, %d rejected",
            len(entries),
            outcome.new,
            outcome.redelivered,
            outcome.conflicts,
            len(outcome.rejected),
        )

    def handlers(self) -> dict[str, Handler]:
        """The ingest's handlers by their name in the stream table (shared/contracts.py)."""
        return {
            "when_reports_arrive_store_and_announce": AckingSettle(
                settle=self.settle, settle_and_ack=self.settle_and_ack
            )
        }

    def dead_letters(self) -> dict[str, DeadLetter]:
        """A report that keeps failing is rejected (`processing_failed`), stored and put on
        the rejected stream: the reports stream's dead letters are rejections, so its
        sender learns of it like of any other rejection."""
        return {REPORTS_STREAM: self.dead_letter}

    async def dead_letter(self, entry: RawEntry, reason: str) -> None:
        outcome = await asyncio.to_thread(
            self.pipeline.dead_letter, [entry], reason, datetime.now(UTC)
        )
        await self.announce(outcome)
        record(outcome)
        DEAD_LETTERED.labels("ingest", REPORTS_STREAM).inc()

    async def announce(self, outcome: BatchOutcome, ack: list[str] | None = None) -> None:
        """Publish the batch's events, and XACK `ack` after them, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for event in outcome.accepted:
            await send(pipe, ACCEPTED_STREAM, event)
        for rejected in outcome.rejected:
            await send(pipe, REJECTED_STREAM, rejected)
        if ack:
            pipe.xack(REPORTS_STREAM, INGEST_GROUP, *ack)
        await pipe.execute()


def record(outcome: BatchOutcome) -> None:
    """Count the batch (after it is durable) and log each rejection by its code and the
    field it names: never the rejected value (the message texts quote it), which may be
    personal data. The report id is logged (scrubbed) unless it is the rejected field."""
    ACCEPTED.inc(outcome.new)
    for rejected in outcome.rejected:
        REJECTED.labels(rejected.code).inc()
        field_name = outcome.rejected_fields.get(rejected.entry_id)
        if field_name is not None:  # an unknown field's name is the sender's text too
            field_name = scrub(field_name)[:100]
        report_id = None if field_name == "report_id" else _report_id(rejected)
        if report_id is not None:
            report_id = scrub(report_id)
        log.info(
            "rejected %s (field %s)",
            rejected.code,
            field_name or "-",
            extra={
                "report_id": report_id,
                "entry_id": rejected.entry_id,
                "stream": REPORTS_STREAM,
                "code": rejected.code,
                "field": field_name,
            },
        )


def _report_id(rejected: RejectedReportV1) -> str | None:
    # Only rejections are parsed again, so the accepted path pays nothing for this.
    try:
        payload = json.loads(rejected.payload)
    except (ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        return None
    value = payload.get("report_id") if isinstance(payload, dict) else None
    return str(value)[:128] if isinstance(value, str | int) else None
