"""The schema comes from Alembic migrations, and they match the models, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import op
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared.db import init_db, make_engine
from shared.migrations.tables import all_tables


def test_the_migrations_create_exactly_the_models_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    init_db(engine)  # idempotent: a restart migrates nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_tables())
        tables = set(inspect(conn).get_table_names())
    assert diff == [], f"models and migrations differ: {diff}"
    assert set(all_tables().tables) <= tables
    assert "alembic_version" in tables


def test_a_migration_that_fails_half_way_leaves_nothing_behind(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: a migration stopped after some tables were created must not leave
    them without a recorded version (the next start would fail on "already exists")."""
    engine = make_engine(db_url)
    real_create_table = op.create_table

    def create_table(name: str, *columns: Any, **kw: Any) -> object:
        if name == "patrol_event":  # the newest migration's table: everything before ran
            raise RuntimeError("killed half-way")
        return real_create_table(name, *columns, **kw)

    monkeypatch.setattr(op, "create_table", create_table)
    with pytest.raises(RuntimeError, match="killed half-way"):
        init_db(engine)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    monkeypatch.undo()
    init_db(engine)  # the next start migrates from scratch
    with engine.connect() as conn:
        assert "patrol_event" in inspect(conn).get_table_names()
