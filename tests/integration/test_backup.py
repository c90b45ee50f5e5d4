"""Backup and restore as docs/operations.md describes them, once per database: dump, wipe,
restore, and the rebuilt week is the same snapshot (same content hash)."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url
from sqlmodel import Session, delete

from services.aggregate import store
from services.aggregate.builder import WeekBuilder
from services.aggregate.models import WeekSnapshotRow
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1
from shared.db import init_db, make_engine
from shared.weeks import iso_week_of
from tests.support.postgres import pg_bin_dir

WEEKS = ["2026-W45", "2026-W46", "2026-W47"]
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # Monday of 2026-W45
AREAS = ["Innerstaden", "Skäggetorp", "Ryd"]
CATEGORIES = ["klotter", "skadegorelse", "stold"]


def _events() -> list[AcceptedReportV1]:
    events = []
    for n in range(120):
        when = START + timedelta(hours=4 * n + n % 3)
        events.append(
            AcceptedReportV1(
                report_id=f"b{n}",
                organisation="Väktarbolaget",
                kommun="0580",
                source="vaktare",
                category=CATEGORIES[n % 3],
                occurred_at=when,
                iso_week=iso_week_of(when),
                area=AREAS[n % 3],
                lat=58.4108 + (n % 7) * 0.001,
                lon=15.6214 + (n % 5) * 0.001,
                description=f"händelse {n}",
                accepted_at=when + timedelta(minutes=5),
            )
        )
    return events


def _builder(db_url: str) -> WeekBuilder:
    engine = make_engine(db_url)
    init_db(engine)
    return WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)


def _build_all(builder: WeekBuilder) -> dict[str, str]:
    now = START + timedelta(days=30)
    return {week: builder.build("0580", week, now)[0].content_hash for week in WEEKS}


# --- SQLite: the backup API (what `.backup` in the sqlite3 shell does) -----------------
def _sqlite_file(db_url: str) -> Path:
    database = make_url(db_url).database
    assert database, f"not a SQLite file: {db_url}"
    return Path(database)


def _sqlite_dump(db_url: str, dump: Path) -> None:
    with sqlite3.connect(_sqlite_file(db_url)) as src, sqlite3.connect(dump) as dst:
        src.backup(dst)


def _sqlite_wipe(db_url: str) -> None:
    path = _sqlite_file(db_url)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _sqlite_restore(db_url: str, dump: Path) -> None:
    with sqlite3.connect(dump) as src, sqlite3.connect(_sqlite_file(db_url)) as dst:
        src.backup(dst)


# --- PostgreSQL: pg_dump -Fc / pg_restore, from the server's own bin directory ---------
def _pg(tool: str, db_url: str, *args: str) -> None:
    url = make_url(db_url)
    bin_dir = pg_bin_dir()
    assert bin_dir is not None
    conn = ["-h", str(url.host), "-p", str(url.port), "-U", str(url.username)]
    subprocess.run([str(bin_dir / tool), *conn, *args], check=True, capture_output=True)


def _pg_wipe(db_url: str) -> None:
    url = make_url(db_url)
    admin = f"host={url.host} port={url.port} user={url.username} dbname=lagesbild"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')


def test_dump_wipe_restore_and_the_rebuilt_weeks_are_the_same(db_url: str, tmp_path: Path) -> None:
    builder = _builder(db_url)
    store.add_incidents(builder.engine, _events(), builder.grid_cell_of)
    before = _build_all(builder)
    for week in WEEKS:  # real weeks, not empty ones
        built = store.latest_snapshot(builder.engine, "0580", week)
        assert built is not None and sum(c.count for c in built.cells) > 0
    builder.engine.dispose()  # a backup of a live database is fine; the wipe needs it closed

    dump = tmp_path / "lagesbild.backup"
    postgres = db_url.startswith("postgresql")
    if postgres:
        _pg("pg_dump", db_url, "-Fc", "-f", str(dump), str(make_url(db_url).database))
        _pg_wipe(db_url)
    else:
        _sqlite_dump(db_url, dump)
        _sqlite_wipe(db_url)
    wiped = _builder(db_url)  # an empty database: no weeks
    assert store.latest_snapshot(wiped.engine, "0580", WEEKS[-1]) is None
    wiped.engine.dispose()

    if postgres:
        _pg_wipe(db_url)  # pg_restore into an empty database, as after a lost server
        _pg("pg_restore", db_url, "--no-owner", "-d", str(make_url(db_url).database), str(dump))
    else:
        _sqlite_wipe(db_url)
        _sqlite_restore(db_url, dump)

    restored = _builder(db_url)
    for week, content_hash in before.items():
        snapshot = store.latest_snapshot(restored.engine, "0580", week)
        assert snapshot is not None and snapshot.content_hash == content_hash
    assert _build_all(restored) == before  # unchanged: no new revision either
    # And from the restored reports alone, without the frozen snapshots:
    with Session(restored.engine) as session:
        session.exec(delete(WeekSnapshotRow))
        session.commit()
    assert _build_all(restored) == before
    restored.engine.dispose()
