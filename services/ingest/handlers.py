"""The ingest service's stream endpoints: thin translators around IngestPipeline."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage
from redis.asyncio import Redis

from services.ingest.pipeline import IngestPipeline
from services.ingest.store import BatchOutcome
from shared.contracts import ACCEPTED_STREAM, INGEST_GROUP, REJECTED_STREAM, REPORTS_STREAM
from shared.streams import RawEntry, keep_raw_entries, raw_entries

log = logging.getLogger("lagesbild.ingest")


class Ingest:
    """Store-then-announce for one batch; shared by the subscriber and the reclaimer."""

    def __init__(self, broker: RedisBroker, redis: Redis, pipeline: IngestPipeline) -> None:
        self.broker, self.redis, self.pipeline = broker, redis, pipeline

    async def settle(self, entries: list[RawEntry]) -> BatchOutcome:
        outcome = await asyncio.to_thread(self.pipeline.process, entries, datetime.now(UTC))
        await self.announce(outcome)
        return outcome

    async def dead_letter(self, entry: RawEntry, reason: str) -> None:
        outcome = await asyncio.to_thread(
            self.pipeline.dead_letter, [entry], reason, datetime.now(UTC)
        )
        await self.announce(outcome)

    async def announce(self, outcome: BatchOutcome) -> None:
        """Publish the batch's accepted and rejected events in one round trip."""
        if not (outcome.accepted or outcome.rejected):
            return
        pipe = self.redis.pipeline(transaction=False)
        for event in outcome.accepted:
            await self.broker.publish(event, stream=ACCEPTED_STREAM, pipeline=pipe)
        for rejected in outcome.rejected:
            await self.broker.publish(rejected, stream=REJECTED_STREAM, pipeline=pipe)
        await pipe.execute()


def register(broker: RedisBroker, ingest: Ingest, *, consumer: str, batch_size: int) -> None:
    @broker.subscriber(
        stream=StreamSub(
            REPORTS_STREAM, group=INGEST_GROUP, consumer=consumer, batch=True,
            max_records=batch_size, polling_interval=100,
        ),
        parser=keep_raw_entries,
        ack_policy=AckPolicy.MANUAL,
    )  # fmt: skip
    async def when_reports_arrive_store_and_announce(msg: RedisBatchStreamMessage) -> None:
        entries = raw_entries(msg.raw_message)
        try:
            outcome = await ingest.settle(entries)
        except Exception:
            # Not acked: the entries stay pending and the reclaimer retries them one by
            # one, dead-lettering any that keep failing.
            log.exception("batch of %d failed; left pending for the reclaimer", len(entries))
            return
        # Acked only now that the rows are committed and the events published.
        await msg.ack()
        log.info(
            "batch %d: %d new, %d redelivered, %d conflicts, %d rejected",
            len(entries), outcome.new, outcome.redelivered, outcome.conflicts, len(outcome.rejected),
        )  # fmt: skip
