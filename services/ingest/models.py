"""The ingest service's tables: accepted reports (with the original, restricted free text),
resubmissions with other content, and rejected submissions. Only the ingest writes them;
what other services need of a report travels on the accepted and rejected streams.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class StoredReport(SQLModel, table=True):
    """An accepted report. `description` is the original (restricted) text."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("organisation", "report_id", name="uq_report_org_id"),
        Index("ix_report_dupe_search", "kommun", "category", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation: str
    report_id: str
    kommun: str = Field(index=True)
    source: str
    category: str
    occurred_at: datetime
    iso_week: str = Field(index=True)
    area: str
    lat: float
    lon: float
    location_precision: str = "exact"
    description: str = ""
    description_scrubbed: str = ""
    content_hash: str
    duplicate_of: str | None = None
    entry_id: str
    received_at: datetime


class ReportConflict(SQLModel, table=True):
    """A resubmission of a stored report_id with different content, kept for inspection."""

    __tablename__ = "report_conflict"
    id: int | None = Field(default=None, primary_key=True)
    organisation: str
    report_id: str
    entry_id: str = Field(unique=True)
    payload: str
    received_at: datetime


class RejectedSubmission(SQLModel, table=True):
    """A submission that was not accepted: the reason and the payload as received."""

    __tablename__ = "rejected_submission"
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(unique=True)
    code: str = Field(index=True)
    field_name: str | None = None
    message_sv: str
    message_en: str
    payload: str
    deliveries: int = 1
    rejected_at: datetime
    replayed_at: datetime | None = None
