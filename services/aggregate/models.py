"""The aggregate service's tables: its projection of accepted reports, the week counts, the
frozen weeks, the handlingsplan versions, the meeting's decisions and the guards' patrol
events. Only the aggregate writes them; other services get what they need from streams.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class WeekIncident(SQLModel, table=True):
    """The aggregate's own projection of accepted reports (scrubbed text only)."""

    __tablename__ = "week_incident"
    __table_args__ = (Index("ix_week_incident_week", "kommun", "iso_week"),)

    key: str = Field(primary_key=True)  # "organisation/report_id"
    kommun: str
    iso_week: str
    area: str
    category: str
    source: str
    occurred_at: datetime
    lat: float
    lon: float
    location_precision: str = "exact"
    description: str = ""
    duplicate_of: str | None = None


class WeekCount(SQLModel, table=True):
    """Counted incidents per kommun × week × area × category (linked duplicates excluded),
    kept up to date as reports arrive, so a baseline over 52 weeks reads 52 small rows per
    cell instead of a year of reports."""

    __tablename__ = "week_count"
    kommun: str = Field(primary_key=True)
    iso_week: str = Field(primary_key=True)
    area: str = Field(primary_key=True)
    category: str = Field(primary_key=True)
    count: int = 0


class WeekGridCellCount(SQLModel, table=True):
    """Counted reports per kommun × week × 250 m grid cell (exact places only), so a
    hotspot's earlier weeks cost a few rows, not a scan of every report near it."""

    __tablename__ = "week_cell_count"
    kommun: str = Field(primary_key=True)
    iso_week: str = Field(primary_key=True)
    cell_x: int = Field(primary_key=True)
    cell_y: int = Field(primary_key=True)
    count: int = 0


class NollrapportRow(SQLModel, table=True):
    """ "Nothing to report this week" from an organisation, for an area or the whole kommun."""

    __tablename__ = "nollrapport"
    message_id: str = Field(primary_key=True)
    kommun: str
    iso_week: str
    organisation: str
    source: str
    area: str | None = None
    submitted_at: datetime


class WeekSnapshotRow(SQLModel, table=True):
    """A frozen revision of one week's lägesbild; the newest revision is the current one."""

    __tablename__ = "week_snapshot"
    __table_args__ = (UniqueConstraint("kommun", "iso_week", "revision", name="uq_week_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    kommun: str
    iso_week: str
    revision: int
    content_hash: str
    built_at: datetime
    snapshot_json: str


class PlanRow(SQLModel, table=True):
    """One version of a kommun's handlingsplan, as loaded (the TOML text, validated). Loading
    a plan again makes a new version; the newest is the current one, the earlier ones stay."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("kommun", "plan_id", "version", name="uq_plan_version"),)

    id: int | None = Field(default=None, primary_key=True)
    kommun: str = Field(index=True)
    plan_id: str
    version: int
    title: str
    toml_text: str
    content_hash: str
    loaded_at: datetime


class DecisionRow(SQLModel, table=True):
    """A decision of the weekly meeting (DecisionV1), stored once per decision_id; a later
    event adds its report-backs, owner and progress, a 'closed' one closes it."""

    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_weeks", "kommun", "from_week", "until_week"),)

    decision_id: str = Field(primary_key=True)
    message_id: str
    kommun: str
    measure: str
    activity_id: str | None = None
    target: str
    categories_json: str = "[]"
    responsible_json: str = "[]"
    from_week: str
    until_week: str
    status: str = "open"
    decided_at: datetime
    closed_at: datetime | None = None
    note: str = ""
    owner: str = ""
    progress: str = "planerad"
    reports_json: str = "[]"  # the report-backs (DecisionReportV1), oldest first


class PatrolEventRow(SQLModel, table=True):
    """A TiB patrol order's event as the aggregate heard it on TIB_ORDER_STREAM, without the
    guards' free-text notes: the week's patrol presence is folded from these."""

    __tablename__ = "patrol_event"
    __table_args__ = (
        Index("ix_patrol_event_when", "kommun", "kind", "at"),
        Index("ix_patrol_event_order", "order_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True)
    order_id: str
    kommun: str
    kind: str
    at: datetime
    event_json: str
