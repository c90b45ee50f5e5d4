"""Alembic environment: the schema is SQLModel's metadata; the connection is handed in by
`shared.db.migrate` (or built from LAGESBILD_DATABASE_URL when run by the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import shared.models
import shared.models_access
import shared.models_tib  # noqa: F401
from shared.config import Settings
from shared.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(Settings().resolved_database_url)
        with engine.begin() as connection:
            _migrate(connection)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
