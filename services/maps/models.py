"""The archive server's tables (`lagesbild maps-serve`): its projection of the meeting's
decisions and the loaded plans, from lagesbild.decisions.v1 and lagesbild.plans.v1, for the
decision page. The maps service proper (the renderer) has no tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ArchiveDecision(SQLModel, table=True):
    """A decision as last heard on the decision stream (closed is final), scrubbed."""

    __tablename__ = "archive_decision"

    decision_id: str = Field(primary_key=True)
    kommun: str = Field(index=True)
    status: str
    from_week: str
    decided_at: datetime
    decision_json: str


class ArchivePlan(SQLModel, table=True):
    """The newest loaded version of a plan: its linkable items (åtgärder, medborgarlöften),
    as `lagesbild plan load` parsed them; no TOML text."""

    __tablename__ = "archive_plan"

    kommun: str = Field(primary_key=True)
    plan_id: str = Field(primary_key=True)
    title: str
    content_hash: str
    loaded_at: datetime
    activities_json: str
