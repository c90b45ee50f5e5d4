"""Tables owned by the TiB service (tjänsteman i beredskap): its live window of accepted
reports, the latest lägesbild per kommun, the meeting's decisions and the patrol orders'
events. Nothing else reads them; what others need travels on TIB_ORDER_STREAM.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class TibLiveReport(SQLModel, table=True):
    """An accepted report of the last weeks (scrubbed; no organisation: only a hash of the
    report key, so a redelivered entry is stored once)."""

    __tablename__ = "tib_live_report"
    __table_args__ = (Index("ix_tib_live_report_when", "kommun", "occurred_at"),)

    key_hash: str = Field(primary_key=True)
    kommun: str
    category: str
    source: str
    area: str
    lat: float
    lon: float
    location_precision: str = "exact"
    description: str = ""
    duplicate: bool = False
    occurred_at: datetime
    accepted_at: datetime


class TibSnapshot(SQLModel, table=True):
    """The newest lägesbild-ready snapshot per kommun (hotspots, time profiles, alerts)."""

    __tablename__ = "tib_snapshot"
    kommun: str = Field(primary_key=True)
    iso_week: str
    revision: int
    built_at: datetime
    snapshot_json: str


class TibDecision(SQLModel, table=True):
    """The meeting's decisions as last heard on DECISION_STREAM (open or closed)."""

    __tablename__ = "tib_decision"
    decision_id: str = Field(primary_key=True)
    kommun: str = Field(index=True)
    status: str
    target: str
    decided_at: datetime
    decision_json: str


class TibOrderEvent(SQLModel, table=True):
    """One event of a patrol order's life; an order's state is derived from its events."""

    __tablename__ = "tib_order_event"
    __table_args__ = (Index("ix_tib_order_event_order", "kommun", "order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True)
    order_id: str
    kommun: str
    kind: str
    at: datetime
    by_organisation: str
    event_json: str
