"""The benchmark's baseline: the ingest's work with hand-written I/O and no framework.

It calls the same domain functions as the service (validation, scrubbing, duplicate
finder), so the ratio measures what FastStream, SQLAlchemy and the event contracts
cost, not a difference in what is checked.

    python bench/baseline_consumer.py REDIS_URL DB_PATH
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.ingest.duplicates import DuplicateFinder, Observation
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import ACCEPTED_STREAM, INGEST_GROUP, REPORTS_STREAM
from shared.scrub import scrub
from shared.validation import ValidReport, validate_submission

SCHEMA = """CREATE TABLE IF NOT EXISTS baseline_report (organisation TEXT, report_id TEXT,
kommun TEXT, category TEXT, occurred_at TEXT, iso_week TEXT, area TEXT, lat REAL, lon REAL,
description TEXT, scrubbed TEXT, hash TEXT, duplicate_of TEXT,
PRIMARY KEY (organisation, report_id))"""
WINDOW = timedelta(minutes=60)


def main(url: str, db_path: str) -> None:
    client = redis.Redis.from_url(url, protocol=2)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    kommuner = load_kommuner()
    while True:
        reply = client.xreadgroup(
            INGEST_GROUP, "baseline", {REPORTS_STREAM: ">"}, count=200, block=100
        )
        for _stream, entries in cast(list[tuple[bytes, list[Any]]], reply or []):
            handle(client, db, kommuner, entries)


def handle(client: redis.Redis, db: sqlite3.Connection, kommuner: dict, entries: list) -> None:
    now = datetime.now(UTC)
    valid = []
    for _entry_id, fields in entries:
        result = validate_submission(
            fields[b"payload"], categories=DEFAULT_CATEGORIES, kommuner=kommuner, now=now
        )
        if isinstance(result, ValidReport):
            valid.append(result)
    times = [v.report.occurred_at for v in valid]
    finder = DuplicateFinder(max_distance_m=75, window=WINDOW)
    if valid:
        lo, hi = (min(times) - WINDOW).isoformat(), (max(times) + WINDOW).isoformat()
        for org, rid, cat, at, lat, lon, dup in db.execute(
            "SELECT organisation, report_id, category, occurred_at, lat, lon, duplicate_of "
            "FROM baseline_report WHERE occurred_at BETWEEN ? AND ?",
            (lo, hi),
        ):
            finder.add(
                Observation(f"{org}/{rid}", "0580", cat, datetime.fromisoformat(at), lat, lon, dup)
            )
    # Idempotency as the service does it: a resubmitted key is compared by content hash.
    orgs = sorted({v.report.organisation for v in valid})
    ids = [v.report.report_id for v in valid]
    sql = (
        f"SELECT organisation, report_id, hash FROM baseline_report WHERE organisation IN "
        f"({','.join('?' * len(orgs))}) AND report_id IN ({','.join('?' * len(ids))})"
    )
    existing = {(org, rid): digest for org, rid, digest in db.execute(sql, [*orgs, *ids])}
    rows = []
    for v in valid:
        r = v.report
        obs = Observation(
            f"{r.organisation}/{r.report_id}", r.kommun, r.category, r.occurred_at, r.lat, r.lon
        )
        dup = finder.original_of(obs)
        finder.add(obs)
        digest = hashlib.sha256(r.model_dump_json().encode()).hexdigest()
        if (r.organisation, r.report_id) in existing:
            continue  # the service would re-announce or record a conflict; rare here
        rows.append(
            (
                r.organisation,
                r.report_id,
                r.kommun,
                r.category,
                r.occurred_at.isoformat(),
                v.iso_week,
                v.area,
                r.lat,
                r.lon,
                r.description,
                scrub(r.description),
                digest,
                dup,
            )
        )
    db.executemany("INSERT OR IGNORE INTO baseline_report VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    pipe = client.pipeline(transaction=False)
    for row in rows:
        event = {
            "report_id": row[1],
            "organisation": row[0],
            "kommun": row[2],
            "source": "vaktare",
            "category": row[3],
            "occurred_at": row[4],
            "iso_week": row[5],
            "area": row[6],
            "lat": row[7],
            "lon": row[8],
            "location_precision": "exact",
            "description": row[10],
            "duplicate_of": row[12],
            "accepted_at": now.isoformat(),
        }
        pipe.xadd(ACCEPTED_STREAM, {"payload": json.dumps(event)})
    pipe.xack(REPORTS_STREAM, INGEST_GROUP, *[entry_id for entry_id, _ in entries])
    pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
