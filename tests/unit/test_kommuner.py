"""The enabled kommuner every service holds: LAGESBILD_KOMMUNER, the registry and the area
files, seen without a restart (a real SQLite file, migrated as the services migrate it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from shared.areas import OTHER_AREA
from shared.db import init_db, make_engine
from shared.kommun_registry import enable, enabled_rows
from shared.kommuner import LiveKommuner
from shared.national import boundary_collection, national_kommuner
from shared.places import build_places, read_places_csv, write_places


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'lagesbild.db'}")
    init_db(engine)
    return engine


def live(engine: Engine | None, areas_dir: Path, clock: Clock) -> LiveKommuner:
    return LiveKommuner(initial=["0580"], areas_dir=areas_dir, engine=engine, clock=clock)


def test_initial_set_from_settings_with_the_packaged_areas(engine: Engine, tmp_path: Path) -> None:
    kommuner = live(engine, tmp_path / "areas", Clock())
    assert list(kommuner) == ["0580"] and len(kommuner) == 1
    assert "Skäggetorp" in kommuner["0580"].area_names
    assert "0586" not in kommuner and kommuner.get("0586") is None


def test_a_kommun_enabled_in_the_registry_is_seen_at_its_first_use(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    kommuner = live(engine, tmp_path / "areas", clock)  # a running service
    assert "0586" not in kommuner
    assert enable(engine, "0586", name="Mjölby kommun", by="kommun add")
    assert not enable(engine, "0586")  # once
    clock.now += 1.5  # a second after the last look: a miss looks again at once
    assert "0586" in kommuner
    mjolby = kommuner["0586"]
    assert (mjolby.kommun_name, mjolby.areas) == ("Mjölby kommun", ())
    assert mjolby.area_of(58.3243, 15.1296) == OTHER_AREA and mjolby.contains(58.3243, 15.1296)
    assert [r.kommun for r in enabled_rows(engine)] == ["0586"]
    assert list(kommuner) == ["0580", "0586"]
    assert kommuner.registry()["0586"].enabled_by == "kommun add"


def test_area_and_place_files_are_picked_up_and_a_broken_file_keeps_the_last_good(
    engine: Engine, tmp_path: Path
) -> None:
    clock, areas_dir = Clock(), tmp_path / "areas"
    kommuner = live(engine, areas_dir, clock)
    areas_dir.mkdir()
    eskilstuna = national_kommuner()["0484"]
    area_file = areas_dir / "0484.geojson"
    area_file.write_text(
        json.dumps(boundary_collection("0484", "Eskilstuna", eskilstuna.boundary)), "utf-8"
    )
    (areas_dir / "previous").mkdir()
    (areas_dir / "previous" / "0484.20260101T000000Z.geojson").write_text("{}", "utf-8")
    clock.now += 1.5
    assert "0484" in kommuner  # a file in the areas dir enables the kommun
    first = kommuner["0484"]
    assert first.places == ()

    places, _ = build_places(read_places_csv("name,lat,lon\nFristadstorget,59.3706,16.5077\n"))
    write_places(areas_dir, "0484", places)
    clock.now += 2  # within REFRESH_S nothing is looked at again
    assert kommuner["0484"] is first
    clock.now += 5
    assert [p.name for p in kommuner["0484"].places] == ["Fristadstorget"]

    with_places = kommuner["0484"]
    area_file.write_text("{ not json", "utf-8")
    clock.now += 10
    assert kommuner["0484"] is with_places  # a broken file never takes a kommun away


def test_an_unreadable_registry_is_no_crash(tmp_path: Path) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    kommuner = live(unmigrated, tmp_path / "areas", Clock())
    assert list(kommuner) == ["0580"]
