"""The access registry, a shared platform table set: organisations with their hashed tokens
and the audit log. Every service that takes a token (intake, TiB, archive server) checks it
here through `shared/access.py` and writes who did what to the audit log; the `lagesbild
org …` commands manage it. docs/architecture.md says why this is shared and not one
service's: one organisation, one token, one revocation for every service.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Organisation(SQLModel, table=True):
    """A reporting or reading organisation. Only the sha256 of its token is kept."""

    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kommun: str
    role: str
    allowed_sources: str = ""  # comma-separated `Source` codes
    token_hash: str = Field(unique=True)
    created_at: datetime
    revoked_at: datetime | None = None
    # may take the TiB's patrol orders (a reporter with guard sources only; shared/access.py)
    guard_company: bool = False
    extra_kommuner: str = ""  # comma-separated further kommuner of an administrator

    @property
    def sources(self) -> list[str]:
        return [s for s in self.allowed_sources.split(",") if s]

    @property
    def kommun_list(self) -> list[str]:
        """The organisation's kommun first, then an administrator's further ones."""
        extra = [k for k in self.extra_kommuner.split(",") if k and k != self.kommun]
        return [self.kommun, *extra]


class AuditEntry(SQLModel, table=True):
    """Who submitted, changed, exported or viewed what, and from where."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    organisation: str
    role: str
    action: str  # submit, view, change, export, denied
    object: str  # e.g. "report:Securitas/abc-1", "open311:requests", "org:Securitas"
    remote_addr: str = ""
    detail: str = ""
