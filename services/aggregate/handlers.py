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
    DECISION_STREAM,
    LAGESBILD_READY_STREAM,
    NOLLRAPPORT_STREAM,
    PLAN_STREAM,
    TIB_ORDER_STREAM,
    WEEK_BUILD_STREAM,
    AcceptedReportV1,
    DecisionV1,
    LagesbildReadyV1,
    NollrapportV1,
    PatrolOrderEventV1,
    PlanV1,
    WeekBuildRequestedV1,
)
from shared.plan import PlanError, parse_plan
from shared.streams import Handler, RawEntry, dead_letter, invalid_reason, send, valid_messages
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

    def handlers(self) -> dict[str, Handler]:
        """The aggregate's handlers by their name in the stream table (shared/contracts.py)."""
        return {
            "when_reports_are_accepted_count_them": self.settle_accepted,
            "when_a_week_is_requested_build_it": self.settle_build_requests,
            "when_nothing_was_seen_note_the_coverage": self.settle_nollrapporter,
            "when_the_meeting_decides_keep_the_decision": self.settle_decisions,
            "when_guards_check_out_note_where_they_were": self.settle_patrol_events,
            "when_a_plan_is_loaded_keep_it": self.settle_plans,
        }

    async def parse(self, entries: list[RawEntry], model: type[M], stream: str) -> list[M]:
        """The entries that are a `model`; the others are dead-lettered, never retried."""
        return await valid_messages(self.redis, stream, AGGREGATE_GROUP, entries, model)

    async def settle_accepted(self, entries: list[RawEntry]) -> None:
        events = await self.parse(entries, AcceptedReportV1, ACCEPTED_STREAM)
        await asyncio.to_thread(
            store.add_incidents, self.builder.engine, events, self.builder.grid_cell_of
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
                await send(self.redis, LAGESBILD_READY_STREAM, LagesbildReadyV1(snapshot=snapshot))

    async def build_and_announce(
        self,
        kommun: str,
        week: str,
        *,
        requested_by: str,
        public: bool = True,
        request_id: str | None = None,
    ) -> bool:
        """Build the week; announce it when it changed, or always when someone asked for it
        (`request_id`: the request it answers, which `lagesbild week build` waits for)."""
        snapshot, is_new = await asyncio.to_thread(
            self.builder.build, kommun, week, datetime.now(UTC)
        )
        if is_new or requested_by == "operator":
            ready = LagesbildReadyV1(
                snapshot=snapshot, public=public, request_id=request_id, new_revision=is_new
            )
            await send(self.redis, LAGESBILD_READY_STREAM, ready)
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

    async def settle_plans(self, entries: list[RawEntry]) -> None:
        """Keep each loaded plan as its next version (the same text again adds nothing).
        The text is parsed again here: only a plan the format accepts is stored."""
        for entry in entries:
            try:
                event = PlanV1.model_validate_json(entry.payload)
                plan = parse_plan(event.toml_text)
            except ValidationError as exc:
                await self.dead_letter(entry, invalid_reason(PlanV1, exc), stream=PLAN_STREAM)
                continue
            except PlanError as exc:  # the paths and texts name fields, never values
                reason = f"not a valid plan: {len(exc.problems)} problems"
                await self.dead_letter(entry, reason, stream=PLAN_STREAM)
                continue
            await asyncio.to_thread(
                plan_store.save_plan, self.builder.engine, plan, event.toml_text, event.loaded_at
            )

    async def settle_build_requests(self, entries: list[RawEntry]) -> None:
        for entry in entries:
            try:
                request = WeekBuildRequestedV1.model_validate_json(entry.payload)
                # An absurd week (9999-W01) is dead-lettered with the reason, not built.
                await asyncio.to_thread(
                    self.builder.check_week, request.kommun, request.iso_week, datetime.now(UTC)
                )
                await self.build_and_announce(
                    request.kommun,
                    request.iso_week,
                    requested_by="operator",
                    request_id=request.message_id,
                )
            except ValidationError as exc:
                reason = invalid_reason(WeekBuildRequestedV1, exc)
                await self.dead_letter(entry, reason, stream=WEEK_BUILD_STREAM)
            except (UnknownKommunError, ValueError) as exc:  # our own messages, no input
                await self.dead_letter(entry, str(exc)[:500], stream=WEEK_BUILD_STREAM)

    async def dead_letter(
        self, entry: RawEntry, reason: str, stream: str = ACCEPTED_STREAM
    ) -> None:
        await dead_letter(self.redis, stream, entry, reason, group=AGGREGATE_GROUP)
