"""The aggregate's plans (versioned TOML texts) and the meeting's decisions."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.aggregate.followup import RECENT_WEEKS
from services.aggregate.models import DecisionRow, PlanRow
from shared.contracts import DecisionV1
from shared.decisions import (
    PlanActivity,
    activities_in_plan,
    decision_from_record,
    merged_decision,
)
from shared.plan import Plan
from shared.weeks import shift_week


def save_plan(engine: Engine, plan: Plan, text: str, now: datetime) -> tuple[PlanRow, bool]:
    """Keep `text` as the plan's newest version; the same text again adds nothing."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    latest = plan_version(engine, plan.kommun, plan.plan_id)
    if latest is not None and latest.content_hash == digest:
        return latest, False
    row = PlanRow(
        kommun=plan.kommun,
        plan_id=plan.plan_id,
        version=(latest.version + 1) if latest else 1,
        title=plan.title,
        toml_text=text,
        content_hash=digest,
        loaded_at=now,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row, True


def plan_version(
    engine: Engine, kommun: str, plan_id: str, version: int | None = None
) -> PlanRow | None:
    """The plan's newest version, or the given one."""
    query = select(PlanRow).where(PlanRow.kommun == kommun, PlanRow.plan_id == plan_id)
    if version is not None:
        query = query.where(PlanRow.version == version)
    with Session(engine) as session:
        return session.exec(query.order_by(col(PlanRow.version).desc()).limit(1)).first()


def current_plans(engine: Engine, kommun: str | None = None) -> list[PlanRow]:
    """The newest version of every plan (of one kommun): what the lägesbild links to."""
    newest = (
        select(PlanRow.kommun, PlanRow.plan_id, func.max(PlanRow.version).label("v"))
        .group_by(PlanRow.kommun, PlanRow.plan_id)
        .subquery()
    )
    query = select(PlanRow).join(
        newest,
        (PlanRow.kommun == newest.c.kommun)  # type: ignore[arg-type]
        & (PlanRow.plan_id == newest.c.plan_id)
        & (PlanRow.version == newest.c.v),
    )
    if kommun is not None:
        query = query.where(PlanRow.kommun == kommun)
    with Session(engine) as session:
        return list(session.exec(query.order_by(PlanRow.kommun, PlanRow.plan_id)).all())


def plan_versions(engine: Engine, kommun: str, plan_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(PlanRow.kommun == kommun, PlanRow.plan_id == plan_id)
        return int(session.exec(query).one())


# --- decisions ----------------------------------------------------------------------------
def _row(d: DecisionV1) -> DecisionRow:
    return DecisionRow(
        decision_id=d.decision_id,
        message_id=d.message_id,
        kommun=d.kommun,
        measure=d.measure,
        activity_id=d.activity_id,
        target=d.target,
        categories_json=json.dumps(d.categories, ensure_ascii=False),
        responsible_json=json.dumps(d.responsible, ensure_ascii=False),
        from_week=d.from_week,
        until_week=d.until_week,
        status=d.status,
        decided_at=d.decided_at,
        closed_at=d.decided_at if d.status == "closed" else None,
        note=d.note,
        owner=d.owner,
        progress=d.progress,
        reports_json=json.dumps([r.model_dump(mode="json") for r in d.reports], ensure_ascii=False),
    )


def add_decision(engine: Engine, event: DecisionV1) -> bool:
    """Store a decision once per decision_id; later events add report-backs, owner and
    progress as every reader merges them (`shared.decisions.merged_decision`), and a
    'closed' event closes it for good (a redelivered 'open' never reopens it). What was
    decided (measure, target, weeks) stays as first stored. Returns whether anything changed."""
    with Session(engine) as session:
        row = session.get(DecisionRow, event.decision_id)
        if row is None:
            session.add(_row(event))
        else:
            old = decision_from_row(row)
            new = merged_decision(old, event)
            if new.status == old.status and (new.owner, new.progress, new.reports) == (
                old.owner,
                old.progress,
                old.reports,
            ):
                return False
            if new.status == "closed" and row.status != "closed":
                row.status, row.closed_at = "closed", event.decided_at
                row.note = event.note or row.note
            merged = _row(new)
            row.owner, row.progress = merged.owner, merged.progress
            row.reports_json = merged.reports_json
            session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another instance stored it first: theirs is the same event
            return False
    return True


def decisions(
    engine: Engine, kommun: str | None = None, status: str | None = None
) -> list[DecisionV1]:
    query = select(DecisionRow)
    if kommun is not None:
        query = query.where(DecisionRow.kommun == kommun)
    if status is not None:
        query = query.where(DecisionRow.status == status)
    with Session(engine) as session:
        rows = session.exec(query.order_by(DecisionRow.from_week, DecisionRow.decision_id))
        return [decision_from_row(r) for r in rows]


def decisions_near(
    engine: Engine, kommun: str, first_week: str, last_week: str
) -> list[DecisionV1]:
    """Decisions that began by `last_week` and did not end before `first_week`."""
    query = select(DecisionRow).where(
        DecisionRow.kommun == kommun,
        DecisionRow.from_week <= last_week,
        DecisionRow.until_week >= first_week,
    )
    with Session(engine) as session:
        return [decision_from_row(r) for r in session.exec(query.order_by(DecisionRow.decision_id))]


def week_decisions(engine: Engine, kommun: str, iso_week: str) -> list[DecisionV1]:
    """What the week's lägesbild follows up: active in the week or ended recently. Bounded
    by those weeks, not by how many decisions the meeting has ever taken."""
    return decisions_near(engine, kommun, shift_week(iso_week, -RECENT_WEEKS), iso_week)


def decision_from_row(row: DecisionRow) -> DecisionV1:
    """A stored decision as the event it was (scrubbed)."""
    return decision_from_record(row.model_dump())


def stored_decision(engine: Engine, decision_id: str) -> DecisionV1 | None:
    with Session(engine) as session:
        row = session.get(DecisionRow, decision_id)
        return decision_from_row(row) if row else None


def open_decisions(engine: Engine, kommun: str) -> list[DecisionV1]:
    query = select(DecisionRow).where(DecisionRow.kommun == kommun, DecisionRow.status == "open")
    with Session(engine) as session:
        rows = session.exec(
            query.order_by(col(DecisionRow.from_week), col(DecisionRow.decision_id))
        )
        return [decision_from_row(r) for r in rows]


def plan_activities(engine: Engine, kommun: str) -> list[PlanActivity]:
    """The activities of the newest version of each of the kommun's plans."""
    return [a for row in current_plans(engine, kommun) for a in activities_in_plan(row.toml_text)]
