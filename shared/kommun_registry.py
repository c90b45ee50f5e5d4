"""The enabled-kommuner registry: a shared platform table, like the access registry.

Which kommuner this installation serves is not one service's business: the ingest accepts
their reports, the aggregate builds their weeks, the maps service draws them, the intake and
the TiB show their forms and maps. So the set lives in one small table, `enabled_kommun`,
written by `lagesbild kommun add` (and `lagesbild import police --enable-kommuner`) and read
by every service through `shared.kommuner.LiveKommuner`, which looks again every few seconds
and at once when it meets a kommun it does not know yet. `LAGESBILD_KOMMUNER` stays the
initial set; it needs no row here.

Why a table and not an event stream: the set is configuration, read far more often than it
changes, and every service already has the database connection the access registry uses;
a stream would need a projection table or an in-memory replay in each of five services, and
a Redis `FLUSHALL` would lose the set. docs/areas.md says more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, select

log = logging.getLogger("lagesbild.kommuner")


class EnabledKommun(SQLModel, table=True):
    """A kommun this installation serves, besides those in LAGESBILD_KOMMUNER."""

    __tablename__ = "enabled_kommun"

    kommun: str = Field(primary_key=True, max_length=4)
    name: str = ""  # a display name that overrides the packaged one ("" = packaged)
    enabled_at: datetime
    enabled_by: str = ""  # "kommun add", "police import", …


@dataclass(frozen=True)
class Enabled:
    kommun: str
    name: str
    enabled_at: datetime | None
    enabled_by: str


def enabled_rows(engine: Engine) -> list[Enabled]:
    """Every registered kommun, by code. Raises SQLAlchemyError if the table is unreadable."""
    with Session(engine) as session:
        rows = session.exec(select(EnabledKommun).order_by(EnabledKommun.kommun)).all()
        return [Enabled(r.kommun, r.name, r.enabled_at, r.enabled_by) for r in rows]


def try_enabled_rows(engine: Engine) -> list[Enabled] | None:
    """`enabled_rows`, or None when the database cannot be read (logged, never raised)."""
    try:
        return enabled_rows(engine)
    except SQLAlchemyError as exc:
        log.warning("kan inte läsa registret över anslutna kommuner: %s", str(exc)[:200])
        return None


def enable(
    engine: Engine, kommun: str, *, name: str = "", by: str = "", now: datetime | None = None
) -> bool:
    """Register a kommun; True if it is new. An existing row keeps its date; a given name
    replaces the stored one."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        row = session.get(EnabledKommun, kommun)
        if row is not None:
            if name and name != row.name:
                row.name = name
                session.add(row)
                session.commit()
            return False
        session.add(EnabledKommun(kommun=kommun, name=name, enabled_at=now, enabled_by=by))
        session.commit()
        return True
