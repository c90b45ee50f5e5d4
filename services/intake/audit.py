"""The audit log: who submitted, changed, exported or viewed what, when and from where."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.intake.context import in_thread
from shared.models_access import AuditEntry

ACTIONS = ("submit", "view", "change", "export", "denied")


def record(
    engine: Engine,
    organisation: str,
    role: str,
    action: str,
    obj: str | list[str],
    remote_addr: str = "",
    detail: str = "",
) -> None:
    """One entry per object (a list: one transaction for a whole batch of reports)."""
    with Session(engine) as s:
        add(s, organisation, role, action, obj, remote_addr, detail)
        s.commit()


def add(
    session: Session,
    organisation: str,
    role: str,
    action: str,
    obj: str | list[str],
    remote_addr: str = "",
    detail: str = "",
) -> None:
    """`record`'s entries, added to `session`: committed with the caller's own writes (the
    intake's receipts), in the same transaction."""
    at = datetime.now(UTC)
    rows = [
        {
            "at": at,
            "organisation": organisation,
            "role": role,
            "action": action,
            "object": one[:500],
            "remote_addr": remote_addr,
            "detail": detail[:2000],
        }
        for one in ([obj] if isinstance(obj, str) else obj)
    ]
    if rows:  # one multi-row statement: a batch's entries cost one write, not one each
        session.connection().execute(insert(AuditEntry), rows)


async def record_async(
    engine: Engine,
    organisation: str,
    role: str,
    action: str,
    obj: str | list[str],
    remote_addr: str = "",
    detail: str = "",
) -> None:
    await in_thread(record, engine, organisation, role, action, obj, remote_addr, detail)


def entries(
    engine: Engine,
    *,
    limit: int = 100,
    organisation: str | None = None,
    action: str | None = None,
    organisations: Collection[str] | None = None,
) -> list[AuditEntry]:
    """The newest entries first (only those of `organisations` when given)."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if organisation:
        query = query.where(AuditEntry.organisation == organisation)
    if organisations is not None:
        query = query.where(col(AuditEntry.organisation).in_(list(organisations)))
    if action:
        query = query.where(AuditEntry.action == action)
    with Session(engine) as s:
        return list(s.exec(query).all())


def as_dict(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": entry.at.isoformat(),
        "organisation": entry.organisation,
        "role": entry.role,
        "action": entry.action,
        "object": entry.object,
        "remote_addr": entry.remote_addr,
        "detail": entry.detail,
    }
