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
from services.aggregate.jobs import revision_due_at
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
from shared.streams import RawEntry, invalid_reason, payload_text, subscribe_batches
from shared.weeks import weeks_between

# The events after which a visit exists or changes (an outcome may follow the check-out).
PRESENCE_EVENTS = ("checked_out", "outcome")
# Built weeks waiting for a debounced revision: "kommun|week" -> due time (epoch seconds).
REVISIONS_DUE = "lagesbild:aggregate:revisions-due"
# Revised weeks whose public version waits for the next scheduled weekly build.
PUBLIC_PENDING = "lagesbild:aggregate:public-pending"

log = logging.getLogger("lagesbild.aggregate")
M = TypeVar("M", bound=BaseModel)


class Aggregate:
    def __init__(
        self,
        broker: RedisBroker,
        redis: Redis,
        builder: WeekBuilder,
        *,
        revision_min_interval_s: float = 300,
    ) -> None:
        self.broker, self.redis, self.builder = broker, redis, builder
        self.revision_min_interval_s = revision_min_interval_s

    async def parse(self, entries: list[RawEntry], model: type[M], stream: str) -> list[M]:
        """The entries that are a `model`; the others are dead-lettered, never retried."""
        events: list[M] = []
        for entry in entries:
            try:
                events.append(model.model_validate_json(entry.payload))
            except ValidationError as exc:
                await self.dead_letter(entry, invalid_reason(model, exc), stream=stream)
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
        """Revise built weeks now, or note them as due when the newest revision is recent.

        The due list lives in Redis (a sorted set by due time) so that a restart or another
        aggregate instance finishes it; `build_due_revisions` runs it."""
        now = datetime.now(UTC)
        for kommun, candidates in weeks.items():
            built = await asyncio.to_thread(
                store.last_built, self.builder.engine, kommun, candidates
            )
            for week, built_at in sorted(built.items()):
                due = revision_due_at(built_at, now, self.revision_min_interval_s)
                if due <= now:
                    await self.build_revision(kommun, week)
                else:  # NX: a later report never postpones a revision already due
                    member = f"{kommun}|{week}"
                    await self.redis.zadd(REVISIONS_DUE, {member: due.timestamp()}, nx=True)

    async def build_due_revisions(self) -> list[tuple[str, str]]:
        """Build the revisions whose time has come; a lease keeps two instances apart and
        the entry is removed only after the build, so a crash leaves it for the next run."""
        done = []
        due = await self.redis.zrangebyscore(REVISIONS_DUE, "-inf", datetime.now(UTC).timestamp())
        for raw in due:
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            lease = f"lagesbild:lease:revision:{member}"
            if not await self.redis.set(lease, "1", nx=True, ex=600):
                continue
            kommun, week = member.split("|", 1)
            await self.build_revision(kommun, week)
            await self.redis.zrem(REVISIONS_DUE, member)
            await self.redis.delete(lease)
            done.append((kommun, week))
        return done

    async def build_revision(self, kommun: str, week: str) -> None:
        """A revision after late input: restricted artefacts now, the public version at the
        next scheduled weekly build (`announce_public_revisions`)."""
        if await self.build_and_announce(kommun, week, requested_by="revision", public=False):
            await self.redis.sadd(PUBLIC_PENDING, f"{kommun}|{week}")

    async def announce_public_revisions(self) -> None:
        """On the weekly schedule: let the public versions catch up with revised weeks."""
        while member := await self.redis.spop(PUBLIC_PENDING):
            text = member.decode() if isinstance(member, bytes) else str(member)
            kommun, week = text.split("|", 1)
            snapshot = await asyncio.to_thread(
                store.latest_snapshot, self.builder.engine, kommun, week
            )
            if snapshot is not None:
                await self.broker.publish(
                    LagesbildReadyV1(snapshot=snapshot), stream=LAGESBILD_READY_STREAM
                )

    async def build_and_announce(
        self, kommun: str, week: str, *, requested_by: str, public: bool = True
    ) -> bool:
        snapshot, is_new = await asyncio.to_thread(
            self.builder.build, kommun, week, datetime.now(UTC)
        )
        if is_new or requested_by == "operator":
            await self.broker.publish(
                LagesbildReadyV1(snapshot=snapshot, public=public), stream=LAGESBILD_READY_STREAM
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
                # An absurd week (9999-W01) is dead-lettered with the reason, not built.
                await asyncio.to_thread(
                    self.builder.check_week, request.kommun, request.iso_week, datetime.now(UTC)
                )
                await self.build_and_announce(
                    request.kommun, request.iso_week, requested_by="operator"
                )
            except ValidationError as exc:
                reason = invalid_reason(WeekBuildRequestedV1, exc)
                await self.dead_letter(entry, reason, stream=WEEK_BUILD_STREAM)
            except (UnknownKommunError, ValueError) as exc:  # our own messages, no input
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
