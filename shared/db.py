"""Database engine set-up: one SQLAlchemy URL, SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the readers (status, maps) run beside the one writer; NORMAL is durable
    # across a process crash, which is the failure this product must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer waits at most 5 s for another: a batch that times out stays pending and is
    # retried, which is better than a consumer frozen for half a minute.
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


_SCHEMA_LOCK = 580_001  # any constant: one advisory lock id for schema changes


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic), all or nothing. Serialised across
    processes: services starting together on an empty database would otherwise race to
    create the same tables (a PostgreSQL advisory lock; for SQLite a lock file beside the
    database)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with open(f"{engine.url.database}.migrate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            migrating = _transactional_sqlite(engine)
            try:
                _upgrade(migrating)
            finally:
                migrating.dispose()
        return
    _upgrade(engine)


def _transactional_sqlite(engine: Engine) -> Engine:
    """An engine on the same file whose transactions include DDL. Python's sqlite3 module
    commits CREATE TABLE at once, so a migration killed half-way used to leave tables
    without a recorded version, and the next start failed on "table already exists"."""
    migrating = create_engine(engine.url, connect_args={"timeout": 30})

    @event.listens_for(migrating, "connect")
    def _manual(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves

    @event.listens_for(migrating, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


def _upgrade(engine: Engine) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def insert_ignoring_conflicts(engine: Engine, table: type[SQLModel]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for SQLite and PostgreSQL: redelivery-safe writes."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
