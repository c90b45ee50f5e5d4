"""The schema comes from Alembic migrations, and they match the models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from shared.db import init_db, make_engine


def test_the_migrations_create_exactly_the_models_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    init_db(engine)  # idempotent: a restart migrates nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == [], f"models and migrations differ: {diff}"
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables
