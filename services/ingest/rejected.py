"""The ingest's rejected submissions, for `lagesbild rejected list/replay`: read them and
mark them replayed once they have been submitted again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.ingest.models import RejectedSubmission


def rejected_rows(
    engine: Engine, *, code: str | None = None, include_replayed: bool = False, limit: int = 1000
) -> list[RejectedSubmission]:
    with Session(engine) as s:
        query = select(RejectedSubmission).order_by(col(RejectedSubmission.id))
        if code:
            query = query.where(RejectedSubmission.code == code)
        if not include_replayed:
            query = query.where(col(RejectedSubmission.replayed_at).is_(None))
        return list(s.exec(query.limit(limit)).all())


def mark_replayed(engine: Engine, row_ids: Iterable[int | None], at: datetime) -> None:
    with Session(engine) as s:
        for row_id in row_ids:
            stored = s.get(RejectedSubmission, row_id) if row_id is not None else None
            if stored is not None:
                stored.replayed_at = at
                s.add(stored)
        s.commit()
