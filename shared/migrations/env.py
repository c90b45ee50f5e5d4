"""Alembic environment: the schema is SQLModel's metadata; the connection is handed in by
`shared.db.init_db` (or built from LAGESBILD_DATABASE_URL when run by the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from shared.config import Settings
from shared.db import make_engine
from shared.migrations.tables import all_tables

config = context.config
target_metadata = all_tables()


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
