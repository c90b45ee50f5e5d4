"""Two maps workers publish into one folder at once: every week reaches the manifest and
the index (the manifest is changed under a lock; rendering runs in parallel)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.aggregate import store
from services.aggregate.builder import WeekBuilder
from services.maps.publish import publish_week
from shared.areas import OTHER_AREA
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1, WeekSnapshotV1
from shared.db import init_db, make_engine
from shared.national import boundary_only

WEEK = "2026-W47"
MONDAY = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
KOMMUNER = ("0114", "0115", "0117", "0120", "0123", "0125", "0126", "0127")


def _snapshots(tmp_path: Path) -> list[WeekSnapshotV1]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    init_db(engine)
    areas = {k: boundary_only(k) for k in KOMMUNER}
    builder = WeekBuilder(engine, areas, DEFAULT_CATEGORIES)
    events = []
    for k in KOMMUNER:
        point = areas[k].boundary.representative_point()
        events += [
            AcceptedReportV1(
                report_id=f"{k}-{i}",
                organisation="Bevakning",
                kommun=k,
                source="vaktare",
                category="klotter",
                occurred_at=MONDAY + timedelta(hours=i),
                iso_week=WEEK,
                area=OTHER_AREA,
                lat=point.y,
                lon=point.x,
                accepted_at=MONDAY + timedelta(days=2),
            )
            for i in range(3)
        ]
    store.add_incidents(engine, events, builder.grid_cell_of)
    snapshots = [builder.build(k, WEEK, MONDAY + timedelta(days=8))[0] for k in KOMMUNER]
    engine.dispose()
    return snapshots


def test_concurrent_publishers_lose_no_week(tmp_path: Path) -> None:
    out = tmp_path / "out"
    snapshots = _snapshots(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(lambda s: publish_week(out, s, boundary_only(s.kommun), tiles=None), snapshots)
        )
    manifest = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert sorted(e["kommun"] for e in manifest) == sorted(KOMMUNER)
    assert all(e["total"] == 3 for e in manifest)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(boundary_only(k).kommun_name in index for k in KOMMUNER)
