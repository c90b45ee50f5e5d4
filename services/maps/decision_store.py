"""What the archive server's decision page reads: the open decisions and the current plans'
activities of a kommun, from the archive server's own projection (services/maps/models.py).

The projection is filled by the server's stream handlers (`DecisionProjection`, run in its
lifespan) from lagesbild.decisions.v1 and lagesbild.plans.v1, and, for a decision the page
itself records, at once after it is on the stream (`save_decision`), so the page lists it
as soon as it is recorded. Nothing of the aggregate's tables is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

import anyio.to_thread
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.maps.models import ArchiveDecision, ArchivePlan
from shared.contracts import (
    ARCHIVE_GROUP,
    DECISION_STREAM,
    PLAN_STREAM,
    DecisionV1,
    PlanActivityV1,
    PlanV1,
)
from shared.decisions import PlanActivity, merged_decision, scrub_decision
from shared.streams import Handler, RawEntry, valid_messages

E = TypeVar("E")

# --- reading (the page) ------------------------------------------------------------------


def stored_decision(engine: Engine, decision_id: str) -> DecisionV1 | None:
    with Session(engine) as s:
        row = s.get(ArchiveDecision, decision_id)
    return DecisionV1.model_validate_json(row.decision_json) if row else None


def open_decisions(engine: Engine, kommun: str) -> list[DecisionV1]:
    query = (
        select(ArchiveDecision)
        .where(ArchiveDecision.kommun == kommun, ArchiveDecision.status == "open")
        .order_by(col(ArchiveDecision.from_week), col(ArchiveDecision.decision_id))
    )
    with Session(engine) as s:
        return [DecisionV1.model_validate_json(r.decision_json) for r in s.exec(query).all()]


def plan_activities(engine: Engine, kommun: str) -> list[PlanActivity]:
    """The activities of the newest version of each of the kommun's plans."""
    query = select(ArchivePlan).where(ArchivePlan.kommun == kommun).order_by(ArchivePlan.plan_id)
    with Session(engine) as s:
        rows = s.exec(query).all()
    return [
        _activity(PlanActivityV1.model_validate(item), row.plan_id)
        for row in rows
        for item in json.loads(row.activities_json)
    ]


def _activity(item: PlanActivityV1, plan_id: str) -> PlanActivity:
    return PlanActivity(
        activity_id=item.activity_id,
        what=item.what,
        focus=item.focus,
        plan_id=plan_id,
        responsible=tuple(item.responsible),
        categories=tuple(item.categories),
    )


# --- writing (the stream handlers, and the page after it published) ----------------------


def save_decision(engine: Engine, event: DecisionV1) -> bool:
    """Keep the decision as last heard, with every report-back heard (`merged_decision`);
    closed is final (a redelivered 'open' event never reopens it, as in the aggregate).
    Returns whether anything changed."""
    event = scrub_decision(event)  # a hand-written stream entry did not pass the page
    with Session(engine) as s:
        row = s.get(ArchiveDecision, event.decision_id)
        if row is not None:
            old = DecisionV1.model_validate_json(row.decision_json)
            merged = merged_decision(old, event)
            if merged.model_dump_json(exclude={"message_id"}) == old.model_dump_json(
                exclude={"message_id"}
            ) or (old.status == "closed" and merged.reports == old.reports):
                return False
            event = merged
        s.merge(
            ArchiveDecision(
                decision_id=event.decision_id,
                kommun=event.kommun,
                status=event.status,
                from_week=event.from_week,
                decided_at=event.decided_at,
                decision_json=event.model_dump_json(),
            )
        )
        try:
            s.commit()
        except IntegrityError:  # stored at the same moment by the page or the handler
            return False
    return True


def save_plan(engine: Engine, event: PlanV1) -> bool:
    """Keep the plan's newest version (by when it was loaded)."""
    with Session(engine) as s:
        row = s.get(ArchivePlan, (event.kommun, event.plan_id))
        if row is not None and row.loaded_at >= event.loaded_at:
            return False
        s.merge(
            ArchivePlan(
                kommun=event.kommun,
                plan_id=event.plan_id,
                title=event.title,
                content_hash=event.content_hash,
                loaded_at=event.loaded_at,
                activities_json=json.dumps(
                    [a.model_dump(mode="json") for a in event.activities], ensure_ascii=False
                ),
            )
        )
        s.commit()
    return True


class DecisionProjection:
    """The archive server's stream handlers (their names are the stream table's)."""

    def __init__(self, engine: Engine, redis: Redis) -> None:
        self.engine, self.redis = engine, redis

    def handlers(self) -> dict[str, Handler]:
        return {
            "when_the_meeting_decides_list_the_decision": self.settle_decisions,
            "when_a_plan_is_loaded_offer_its_activities": self.settle_plans,
        }

    async def settle_decisions(self, entries: list[RawEntry]) -> None:
        events = await valid_messages(
            self.redis, DECISION_STREAM, ARCHIVE_GROUP, entries, DecisionV1
        )
        await anyio.to_thread.run_sync(_save_all, self.engine, save_decision, events)

    async def settle_plans(self, entries: list[RawEntry]) -> None:
        events = await valid_messages(self.redis, PLAN_STREAM, ARCHIVE_GROUP, entries, PlanV1)
        await anyio.to_thread.run_sync(_save_all, self.engine, save_plan, events)


def _save_all(engine: Engine, save: Callable[[Engine, E], bool], events: Sequence[E]) -> None:
    for event in events:
        save(engine, event)
