"""The ingest's numbers for `lagesbild status` (the one definition of each): reported by
the running service (shared/service_status.py) and counted by the command itself when no
ingest has reported."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.ingest.models import RejectedSubmission, ReportConflict, StoredReport


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            # rapporter: everything stored, likely duplicates included (shared/counting.py)
            "stored_reports": _count(s, StoredReport),
            "linked_duplicates": _count(
                s, StoredReport, col(StoredReport.duplicate_of).is_not(None)
            ),
            "rejected_reports": _count(s, RejectedSubmission),
            "conflicts": _count(s, ReportConflict),
        }
