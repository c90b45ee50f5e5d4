"""A kommun enabled without areas of its own (the packaged boundary only): its week is built,
its hotspots found on the grid and named after its known places, and the maps service
publishes the map, meeting pack, public version and JSON. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from services.aggregate import store
from services.aggregate.builder import WeekBuilder
from services.maps.publish import publish_week
from shared.areas import OTHER_AREA
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1
from shared.db import init_db, make_engine
from shared.national import boundary_only
from shared.places import build_places, read_places_csv

WEEK = "2026-W47"
MONDAY = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
GALLERIAN = (58.3243, 15.1296)  # plans/mjolby.toml


def _event(n: int, lat: float, lon: float, category: str = "ordningsstorning") -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=f"m{n}",
        organisation=f"Bevakning {n % 3}",
        kommun="0586",
        source="vaktare",
        category=category,
        occurred_at=MONDAY + timedelta(hours=n % 90),
        iso_week=WEEK,
        area=OTHER_AREA,
        lat=lat,
        lon=lon,
        description="",
        accepted_at=MONDAY + timedelta(days=4),
    )


def test_a_kommun_without_areas_gets_grid_hotspots_and_a_published_week(
    db_url: str, tmp_path: Path
) -> None:
    places, _ = build_places(
        read_places_csv(
            f"name,aliases,lat,lon\nGallerian,Köpcentret,{GALLERIAN[0]},{GALLERIAN[1]}\n"
        )
    )
    mjolby = dataclasses.replace(boundary_only("0586"), places=tuple(places))
    engine = make_engine(db_url)
    init_db(engine)
    builder = WeekBuilder(engine, {"0586": mjolby}, DEFAULT_CATEGORIES)
    rng = np.random.default_rng(586)
    cluster = [
        (GALLERIAN[0] + rng.uniform(-4e-4, 4e-4), GALLERIAN[1] + rng.uniform(-7e-4, 7e-4))
        for _ in range(12)
    ]
    minx, miny, maxx, maxy = mjolby.boundary.bounds
    spread: list[tuple[float, float]] = []
    while len(spread) < 40:  # background over the whole kommun
        lat, lon = rng.uniform(miny, maxy), rng.uniform(minx, maxx)
        if mjolby.contains(lat, lon):
            spread.append((lat, lon))
    events = [_event(i, lat, lon) for i, (lat, lon) in enumerate(cluster + spread)]
    store.add_incidents(engine, events, builder.grid_cell_of)

    snapshot, is_new = builder.build("0586", WEEK, MONDAY + timedelta(days=8))
    assert is_new and snapshot.kommun_name == "Mjölby"
    assert snapshot.areas == [OTHER_AREA]
    assert {c.area for c in snapshot.cells} == {OTHER_AREA}
    assert sum(c.count for c in snapshot.cells) == 52
    names = [h.name for h in snapshot.hotspots]
    assert f"{OTHER_AREA}, vid Gallerian" in names

    map_path, summary_path = publish_week(tmp_path / "out", snapshot, mjolby, tiles=None)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["kommun"] == "0586" and summary["total"] == 52
    assert "Gallerian" in map_path.read_text(encoding="utf-8")
    week_dir = map_path.parent
    published = {p.name for p in week_dir.iterdir()}
    assert {"karta.html", "sammanfattning.json"} <= published
    assert (tmp_path / "out" / "offentlig" / "0586" / WEEK / "karta.html").is_file()
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Mjölby" in index
    engine.dispose()
