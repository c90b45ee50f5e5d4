"""projections instead of cross-service reads: the intake's outcomes, the archive server's
decisions and plans

The intake keeps what became of its reports (intake_stored_report, intake_rejection, from
the accepted and rejected streams); the archive server keeps the meeting's decisions and
the plans' activities (archive_decision, archive_plan, from the decision and plan streams).
Filled here once from the tables they replace reading, so an upgraded installation shows
the same statuses, decisions and activities as before; from then on only the streams.

Revision ID: 0007p
Revises: 0006k
Create Date: 2026-12-06 23:00:00.000000
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007p"
down_revision: str | None = "0006k"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_WHEN = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "intake_stored_report",
        sa.Column("organisation", _TEXT(), nullable=False),
        sa.Column("report_id", _TEXT(), nullable=False),
        sa.Column("accepted_at", _WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("organisation", "report_id"),
    )
    op.create_table(
        "intake_rejection",
        sa.Column("entry_id", _TEXT(), nullable=False),
        sa.Column("code", _TEXT(), nullable=False),
        sa.Column("field_name", _TEXT(), nullable=True),
        sa.Column("message_sv", _TEXT(), nullable=False),
        sa.Column("message_en", _TEXT(), nullable=False),
        sa.Column("rejected_at", _WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index("ix_intake_rejection_rejected_at", "intake_rejection", ["rejected_at"])
    op.create_table(
        "archive_decision",
        sa.Column("decision_id", _TEXT(), nullable=False),
        sa.Column("kommun", _TEXT(), nullable=False),
        sa.Column("status", _TEXT(), nullable=False),
        sa.Column("from_week", _TEXT(), nullable=False),
        sa.Column("decided_at", _WHEN(), nullable=False),
        sa.Column("decision_json", _TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
    )
    op.create_index("ix_archive_decision_kommun", "archive_decision", ["kommun"])
    op.create_table(
        "archive_plan",
        sa.Column("kommun", _TEXT(), nullable=False),
        sa.Column("plan_id", _TEXT(), nullable=False),
        sa.Column("title", _TEXT(), nullable=False),
        sa.Column("content_hash", _TEXT(), nullable=False),
        sa.Column("loaded_at", _WHEN(), nullable=False),
        sa.Column("activities_json", _TEXT(), nullable=False),
        sa.PrimaryKeyConstraint("kommun", "plan_id"),
    )
    _fill_intake_outcomes()
    _fill_archive_decisions()
    _fill_archive_plans()


def _fill_intake_outcomes() -> None:
    op.execute(
        "INSERT INTO intake_stored_report (organisation, report_id, accepted_at) "
        "SELECT organisation, report_id, received_at FROM report"
    )
    op.execute(
        "INSERT INTO intake_rejection "
        "(entry_id, code, field_name, message_sv, message_en, rejected_at) "
        "SELECT entry_id, code, field_name, message_sv, message_en, rejected_at "
        "FROM rejected_submission"
    )


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _fill_archive_decisions() -> None:
    from shared.contracts import DecisionV1
    from shared.decisions import scrub_decision

    names = ("decision_id", "message_id", "kommun", "measure", "activity_id", "target",
             "categories_json", "responsible_json", "from_week", "until_week", "status",
             "note")  # fmt: skip
    source = sa.table("decision", *(sa.column(n) for n in names), sa.column("decided_at", _WHEN()))
    target = sa.table(
        "archive_decision",
        *(sa.column(n) for n in ("decision_id", "kommun", "status", "from_week")),
        sa.column("decided_at", _WHEN()),
        sa.column("decision_json"),
    )
    rows = []
    for r in op.get_bind().execute(sa.select(source)).mappings():
        event = scrub_decision(
            DecisionV1(
                message_id=r["message_id"], decision_id=r["decision_id"], kommun=r["kommun"],
                measure=r["measure"], activity_id=r["activity_id"], target=r["target"],
                categories=json.loads(r["categories_json"]),
                responsible=json.loads(r["responsible_json"]), from_week=r["from_week"],
                until_week=r["until_week"], status=r["status"],
                decided_at=_aware(r["decided_at"]), note=r["note"],
            )
        )  # fmt: skip
        rows.append(
            {
                "decision_id": event.decision_id,
                "kommun": event.kommun,
                "status": event.status,
                "from_week": event.from_week,
                "decided_at": event.decided_at,
                "decision_json": event.model_dump_json(),
            }
        )
    if rows:
        op.bulk_insert(target, rows)


def _fill_archive_plans() -> None:
    from shared.contracts import PlanActivityV1
    from shared.decisions import activities_in_plan

    source = sa.table(
        "plan",
        *(sa.column(n) for n in ("kommun", "plan_id", "version", "title", "toml_text")),
        sa.column("content_hash"),
        sa.column("loaded_at", _WHEN()),
    )
    target = sa.table(
        "archive_plan",
        *(sa.column(n) for n in ("kommun", "plan_id", "title", "content_hash")),
        sa.column("loaded_at", _WHEN()),
        sa.column("activities_json"),
    )
    newest: dict[tuple[str, str], Any] = {}
    for r in op.get_bind().execute(sa.select(source).order_by(source.c.version)).mappings():
        newest[(r["kommun"], r["plan_id"])] = r
    rows = []
    for (kommun, plan_id), r in newest.items():
        try:
            activities = activities_in_plan(r["toml_text"])
        except Exception:  # a plan the format no longer reads: offered once loaded again
            continue
        items = [
            PlanActivityV1(
                activity_id=a.activity_id, what=a.what, focus=a.focus,
                responsible=list(a.responsible), categories=list(a.categories),
            ).model_dump(mode="json")
            for a in activities
        ]  # fmt: skip
        rows.append(
            {
                "kommun": kommun,
                "plan_id": plan_id,
                "title": r["title"],
                "content_hash": r["content_hash"],
                "loaded_at": _aware(r["loaded_at"]),
                "activities_json": json.dumps(items, ensure_ascii=False),
            }
        )
    if rows:
        op.bulk_insert(target, rows)


def downgrade() -> None:
    op.drop_table("archive_plan")
    op.drop_index("ix_archive_decision_kommun", table_name="archive_decision")
    op.drop_table("archive_decision")
    op.drop_index("ix_intake_rejection_rejected_at", table_name="intake_rejection")
    op.drop_table("intake_rejection")
    op.drop_table("intake_stored_report")
