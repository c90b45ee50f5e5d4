"""The intake service's table: its receipts of the reports it published."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class IntakeReceipt(SQLModel, table=True):
    """A report the intake published: lets the status endpoint find its stream entry (and
    so its rejection), and lets a retried submission be answered without publishing again.
    Holds no free text but the scrubbed one."""

    __tablename__ = "intake_receipt"
    __table_args__ = (UniqueConstraint("organisation", "report_id", name="uq_receipt_org_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation: str
    report_id: str = Field(index=True)
    kommun: str = Field(index=True)
    channel: str  # api, form, open311
    entry_id: str
    content_hash: str
    category: str
    lat: float
    lon: float
    description_scrubbed: str = ""
    occurred_at: datetime
    submitted_at: datetime


# --- the intake's projection of the ingest's outcomes (accepted and rejected streams) -----


class IntakeStoredReport(SQLModel, table=True):
    """A report the ingest accepted (from lagesbild.reports.accepted.v1): its receipt's
    status is "stored". Any producer's, not only the intake's: the status endpoint answers
    for a report sent another way too."""

    __tablename__ = "intake_stored_report"

    organisation: str = Field(primary_key=True)
    report_id: str = Field(primary_key=True)
    accepted_at: datetime


class IntakeRejection(SQLModel, table=True):
    """A submission the ingest rejected (from lagesbild.reports.rejected.v1), by its stream
    entry: the reason a receipt with that entry id shows. No payload is kept."""

    __tablename__ = "intake_rejection"

    entry_id: str = Field(primary_key=True)
    code: str
    field_name: str | None = None
    message_sv: str
    message_en: str
    rejected_at: datetime = Field(index=True)
