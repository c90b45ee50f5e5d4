"""Known places: the file format, lookups for the form and Open311, decision targets, and
hotspot names after the nearest place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from shapely.geometry import Point, box

from services.aggregate.hotspots import find_hotspots
from shared.areas import OTHER_AREA, KommunAreas, parse_area_collection
from shared.decisions import target_known
from shared.places import (
    Place,
    PlaceFileError,
    build_places,
    load_places,
    nearest_place,
    place_area,
    places_for,
    read_places_csv,
    resolve_place,
    search_places,
    target_names,
    write_places,
)
from tests.unit.test_hotspots import EAST, WEST, _cluster, _incidents, _square

CSV = """name;aliases;lat;lon
Torget;Stora torget|Torg;58.41;15.575
Skolan;;58.44;15.68
Parken;Stadsparken;58.395;15.625
"""


@pytest.fixture
def testby(kommun: KommunAreas) -> KommunAreas:
    places, problems = build_places(read_places_csv(CSV))
    assert problems == []
    return dataclasses.replace(kommun, places=tuple(places))


@pytest.fixture
def kommun() -> KommunAreas:
    """The synthetic kommun of test_hotspots.py: Väster and Öster inside a square."""
    features = [
        {"type": "Feature", "properties": {"kind": kind, "name": name}, "geometry": _square(*b)}
        for kind, b, name in (
            ("kommun", (15.5, 58.37, 15.7, 58.45), "Testby"),
            ("area", WEST, "Väster"),
            ("area", EAST, "Öster"),
        )
    ]
    data = {"type": "FeatureCollection", "kommun": "9999", "kommun_name": "Testby"}
    return parse_area_collection({**data, "features": features})


def test_csv_rows_become_places_with_aliases() -> None:
    places, problems = build_places(read_places_csv(CSV))
    assert problems == []
    assert [(p.name, p.aliases, p.lat, p.lon) for p in places] == [
        ("Torget", ("Stora torget", "Torg"), 58.41, 15.575),
        ("Skolan", (), 58.44, 15.68),
        ("Parken", ("Stadsparken",), 58.395, 15.625),
    ]


def test_bad_rows_are_all_reported() -> None:
    with pytest.raises(PlaceFileError) as bad:
        read_places_csv("namn,lat,lon\nA,58.4,abc\nB,1558.4,15.6\n")
    assert bad.value.problems == [
        "Rad 2: lat/lon är inga tal.",
        "Rad 3: lat/lon utanför WGS 84 (omkastade eller i meter?).",
    ]
    rows = read_places_csv(
        "namn,alias,lat,lon\n,,58.4,15.6\nTorget,Parken,58.4,15.6\nParken,,58.5,15.6\n"
    )
    _, problems = build_places(rows)
    assert problems == [
        "Rad 2: platsen saknar namn.",
        "Rad 4: namnet 'Parken' finns redan (rad 3); varje namn och alias får bara peka ut en "
        "plats.",
    ]
    with pytest.raises(PlaceFileError, match="ingen kolumn name eller namn"):
        read_places_csv("plats,lat,lon\nA,58.4,15.6\n")


def test_written_places_read_back_and_changes_are_reported(tmp_path: Path) -> None:
    places, _ = build_places(read_places_csv(CSV))
    first = write_places(tmp_path, "9999", places)
    assert first.added == ["Parken", "Skolan", "Torget"] and first.previous_saved is None
    assert load_places(first.written or Path()) == sorted(places, key=lambda p: p.name)

    moved = [p if p.name != "Skolan" else dataclasses.replace(p, lat=58.43) for p in places[1:]]
    polygon, _ = build_places(
        [{"number": 9, "name": "Hamnen", "aliases": "", "geometry": box(15.6, 58.4, 15.61, 58.41)}]
    )
    second = write_places(tmp_path, "9999", moved + polygon)
    assert (second.added, second.removed, second.changed) == (["Hamnen"], ["Torget"], ["Skolan"])
    assert second.previous_saved is not None and second.previous_saved.is_file()
    hamnen = next(p for p in load_places(second.written or Path()) if p.name == "Hamnen")
    assert hamnen.distance_to(58.405, 15.605) == 0.0  # inside the polygon
    assert 500 < hamnen.distance_to(58.405, 15.62) < 700


def test_nearest_place_within_reach(testby: KommunAreas) -> None:
    assert nearest_place(testby.places, 58.4105, 15.5755, 400) == testby.places[0]
    assert nearest_place(testby.places, 58.42, 15.575, 400) is None  # 1.1 km from Torget


def test_form_search_and_open311_resolution(testby: KommunAreas) -> None:
    items = places_for(testby)
    assert [(i["name"], i["kind"]) for i in items] == [
        ("Parken", "plats"),
        ("Skolan", "plats"),
        ("Torget", "plats"),
        ("Väster", "område"),
        ("Öster", "område"),
    ]
    # Names and aliases that start with it first, then those that contain it.
    found = [i["name"] for i in search_places(testby, "st")]
    assert found == ["Parken", "Torget", "Väster", "Öster"]
    assert [i["name"] for i in search_places(testby, "ÖST")] == ["Öster"]
    assert search_places(testby, "  ") == []
    assert resolve_place(testby, "Stora Torget, Testby") == (58.41, 15.575)
    assert resolve_place(testby, "stadsparken") == (58.395, 15.625)
    west = resolve_place(testby, "Väster")
    assert west is not None and testby.area_of(*west) == "Väster"
    assert resolve_place(testby, "Storgatan 4") is None
    assert resolve_place(testby, "s") is None  # ambiguous: Skolan, Stora torget, Stadsparken


def test_places_are_decision_targets(testby: KommunAreas) -> None:
    names = target_names(testby)
    assert target_known("Stadsparken", names) and target_known("Torget", names)
    assert target_known(f"{OTHER_AREA}, vid Skolan", names)
    assert not target_known("Månen", names)
    assert place_area(testby, "Stadsparken") == "Öster"
    assert place_area(testby, "Väster") is None


def test_hotspots_are_named_after_the_nearest_known_place(testby: KommunAreas) -> None:
    [at_school] = find_hotspots(_incidents(testby, _cluster(58.44, 15.68, 5, seed=9)), [], testby)
    assert at_school.name == f"{OTHER_AREA}, vid Skolan"
    [at_torget] = find_hotspots(_incidents(testby, _cluster(58.41, 15.575, 5, seed=10)), [], testby)
    assert at_torget.name == "Väster, vid Torget" and at_torget.areas == ("Väster",)
    # Without a place in reach, the compass names it as before.
    [north] = find_hotspots(_incidents(testby, _cluster(58.428, 15.565, 5, seed=12)), [], testby)
    assert north.name == "Väster, norra delen"


def test_place_point_geometry_defaults() -> None:
    place = Place("Torget", 58.41, 15.575)
    assert place.names == ("Torget",) and place.distance_to(58.41, 15.575) == 0.0
    assert Point(15.575, 58.41).equals(Point(place.lon, place.lat))
