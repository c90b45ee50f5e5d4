"""The aggregate service's stream endpoints: project accepted reports, build weeks on request,
keep the meeting's decisions."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime

from faststream.redis import RedisBroker
from pydantic import ValidationError
from redis.asyncio import Redis

from services.aggregate import plan_store, store
from services.aggregate.builder import UnknownKommunError, WeekBuilder
from shared.contracts import (
    ACCEPTED_STREAM,
    AGGREGATE_GROUP,
    DEAD_LETTER_STREAM,
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    NOLLRAPPORT_STREAM,
    WEEK_BUILD_STREAM,
    AcceptedReportV1,
    DeadLetterV1,
    DecisionV1,
    LagesbildReadyV1,
    NollrapportV1,
    WeekBuildRequestedV1,
)
from shared.streams import RawEntry, payload_text, subscribe_batches

log = logging.getLogger("lagesbild.aggregate")


class Aggregate:
    def __init__(self, broker: RedisBroker, redis: Redis, builder: WeekBuilder) -> None:
        self.broker, self.redis, self.builder = broker, redis, builder

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        events: list[AcceptedReportV1] = []
        for entry in entries:
            try:
                events.append(AcceptedReportV1.model_validate_json(entry.payload))
            except ValidationError as exc:
                await self.dead_letter(entry, f"not an AcceptedReportV1: {exc.errors()[:1]}")
        await asyncio.to_thread(
            store.add_incidents, self.builder.engine, events, self.builder.cell_of
        )
        await self.rebuild_frozen_weeks(events)

    async def rebuild_frozen_weeks(self, events: list[AcceptedReportV1]) -> None:
        """A late report for a week that already has a lägesbild makes a new revision."""
        weeks: dict[str, set[str]] = defaultdict(set)
        for e in events:
            weeks[e.kommun].add(e.iso_week)
        for kommun, candidates in weeks.items():
            frozen = await asyncio.to_thread(
                store.frozen_weeks, self.builder.engine, kommun, candidates
            )
            for week in sorted(frozen):
                await self.build_and_announce(kommun, week, requested_by="revision")

    async def build_and_announce(self, kommun: str, week: str, *, requested_by: str) -> bool:
        snapshot, is_new = await asyncio.to_thread(
            self.builder.build, kommun, week, datetime.now(UTC)
        )
        if is_new or requested_by == "operator":
            await self.broker.publish(
                LagesbildReadyV1(snapshot=snapshot), stream=LAGESBILD_READY_STREAM
            )
        return is_new

    async def settle_nollrapporter(self, entries: list[RawEntry]) -> None:
        events: list[NollrapportV1] = []
        for entry in entries:
            try:
                events.append(NollrapportV1.model_validate_json(entry.payload))
            except ValidationError as exc:
                reason = f"not a NollrapportV1: {exc.errors()[:1]}"
                await self.dead_letter(entry, reason, stream=NOLLRAPPORT_STREAM)
        await asyncio.to_thread(store.add_nollrapporter, self.builder.engine, events)

    async def settle_decisions(self, entries: list[RawEntry]) -> None:
        """Store each decision once; the next week build shows it (and its follow-up)."""
        for entry in entries:
            try:
                event = DecisionV1.model_validate_json(entry.payload)
            except ValidationError as exc:
                reason = f"not a DecisionV1: {exc.errors()[:1]}"
                await self.dead_letter(entry, reason, stream=DECISION_STREAM)
                continue
            await asyncio.to_thread(plan_store.add_decision, self.builder.engine, event)

    async def settle_build_requests(self, entries: list[RawEntry]) -> None:
        for entry in entries:
            try:
                request = WeekBuildRequestedV1.model_validate_json(entry.payload)
                await self.build_and_announce(
                    request.kommun, request.iso_week, requested_by="operator"
                )
            except (ValidationError, UnknownKommunError, ValueError) as exc:
                await self.dead_letter(entry, str(exc)[:500], stream=WEEK_BUILD_STREAM)

    async def dead_letter(
        self, entry: RawEntry, reason: str, stream: str = ACCEPTED_STREAM
    ) -> None:
        log.warning("dead-lettering %s: %s", entry.entry_id, reason)
        letter = DeadLetterV1(
            stream=stream,
            entry_id=entry.entry_id,
            reason=reason,
            payload=payload_text(entry.payload),
            deliveries=entry.deliveries,
            dead_lettered_at=datetime.now(UTC),
        )
        await self.broker.publish(letter, stream=DEAD_LETTER_STREAM)


def register(broker: RedisBroker, aggregate: Aggregate, *, consumer: str, batch_size: int) -> None:
    for stream, settle, name, records, polling_ms in (
        (ACCEPTED_STREAM, aggregate.settle_accepted, "when_reports_are_accepted_count_them",
         batch_size, 100),
        (WEEK_BUILD_STREAM, aggregate.settle_build_requests, "when_a_week_is_requested_build_it",
         10, 200),
        (NOLLRAPPORT_STREAM, aggregate.settle_nollrapporter,
         "when_nothing_was_seen_note_the_coverage", batch_size, 500),
        (DECISION_STREAM, aggregate.settle_decisions,
         "when_the_meeting_decides_keep_the_decision", batch_size, 500),
    ):  # fmt: skip
        subscribe_batches(
            broker,
            stream=stream,
            group=AGGREGATE_GROUP,
            consumer=consumer,
            settle=settle,
            name=name,
            max_records=records,
            polling_ms=polling_ms,
        )
