"""The aggregate service's stream endpoints: project accepted reports, build weeks on request,
keep the meeting's decisions and the guards' patrol visits."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import TypeVar

from faststream.redis import RedisBroker
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from services.aggregate import patrol_store, plan_store, store
from services.aggregate.builder import UnknownKommunError, WeekBuilder
from shared.contracts import (
    ACCEPTED_STREAM,
    AGGREGATE_GROUP,
    DEAD_LETTER_STREAM,
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    NOLLRAPPORT_STREAM,
    TIB_ORDER_STREAM,
    WEEK_BUILD_STREAM,
    AcceptedReportV1,
    DeadLetterV1,
    DecisionV1,
    LagesbildReadyV1,
    NollrapportV1,
    PatrolOrderEventV1,
    WeekBuildRequestedV1,
)
from shared.streams import RawEntry, payload_text, subscribe_batches
from shared.weeks import weeks_between

# The events after which a visit exists or changes (an outcome may follow the check-out).
PRESENCE_EVENTS = ("checked_out", "outcome")

log = logging.getLogger("lagesbild.aggregate")
M = TypeVar("M", bound=BaseModel)


class Aggregate:
    def __init__(self, broker: RedisBroker, redis: Redis, builder: WeekBuilder) -> None:
        self.broker, self.redis, self.builder = broker, redis, builder

    async def parse(self, entries: list[RawEntry], model: type[M], stream: str) -> list[M]:
        """The entries that are a `model`; the others are dead-lettered, never retried."""
        events: list[M] = []
        for entry in entries:
            try:
                events.append(model.model_validate_json(entry.payload))
            except ValidationError as exc:
                reason = f"not a valid {model.__name__}: {exc.errors()[:1]}"
                await self.dead_letter(entry, reason, stream=stream)
        return events

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        events = await self.parse(entries, AcceptedReportV1, ACCEPTED_STREAM)
        await asyncio.to_thread(
            store.add_incidents, self.builder.engine, events, self.builder.cell_of
        )
        await self.rebuild_frozen_weeks(events)

    async def rebuild_frozen_weeks(self, events: list[AcceptedReportV1]) -> None:
        """A late report for a week that already has a lägesbild makes a new revision."""
        weeks: dict[str, set[str]] = defaultdict(set)
        for e in events:
            weeks[e.kommun].add(e.iso_week)
        await self.rebuild_if_frozen(weeks)

    async def rebuild_if_frozen(self, weeks: dict[str, set[str]]) -> None:
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
        events = await self.parse(entries, NollrapportV1, NOLLRAPPORT_STREAM)
        await asyncio.to_thread(store.add_nollrapporter, self.builder.engine, events)

    async def settle_decisions(self, entries: list[RawEntry]) -> None:
        """Store each decision once; the next week build shows it (and its follow-up)."""
        for event in await self.parse(entries, DecisionV1, DECISION_STREAM):
            await asyncio.to_thread(plan_store.add_decision, self.builder.engine, event)

    async def settle_patrol_events(self, entries: list[RawEntry]) -> None:
        """Keep the TiB orders' events; a visit that ends (or gets an outcome) in a week that
        already has a lägesbild makes a new revision of it, as a late report does."""
        events = await self.parse(entries, PatrolOrderEventV1, TIB_ORDER_STREAM)
        engine = self.builder.engine
        new = await asyncio.to_thread(patrol_store.add_events, engine, events)
        kommun_of = {e.order_id: e.kommun for e in new if e.kind in PRESENCE_EVENTS}
        visits = await asyncio.to_thread(patrol_store.order_visits, engine, set(kommun_of))
        weeks: dict[str, set[str]] = defaultdict(set)
        for visit in visits:
            weeks[kommun_of[visit.order_id]].update(weeks_between(visit.start, visit.end))
        await self.rebuild_if_frozen(weeks)

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
        (TIB_ORDER_STREAM, aggregate.settle_patrol_events,
         "when_guards_check_out_note_where_they_were", batch_size, 500),
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
