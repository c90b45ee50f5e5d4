"""The packaged Linköping area file: loadable, valid, non-overlapping, plausible."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from shared.areas import OTHER_AREA, PACKAGED_AREAS_DIR, KommunAreas, load_kommuner

AREA_FILE = PACKAGED_AREAS_DIR / "0580.geojson"


@pytest.fixture(scope="module")
def linkoping() -> KommunAreas:
    return load_kommuner()["0580"]


def _km2(geom) -> float:
    # Equirectangular: good to a percent or so at this size and latitude.
    return geom.area * 111.32**2 * math.cos(math.radians(geom.centroid.y))


def test_file_has_kommun_members_and_one_boundary() -> None:
    data = json.loads(AREA_FILE.read_text(encoding="utf-8"))
    assert (data["kommun"], data["kommun_name"]) == ("0580", "Linköping")
    kinds = [f["properties"]["kind"] for f in data["features"]]
    assert kinds.count("kommun") == 1
    assert set(kinds) == {"kommun", "area"}


def test_loads_with_the_main_districts(linkoping: KommunAreas) -> None:
    assert linkoping.kommun_name == "Linköping"
    assert 12 <= len(linkoping.areas) <= 16
    assert {"Innerstaden", "Skäggetorp", "Ryd", "Berga", "Lambohov"} <= set(linkoping.area_names)


def test_boundary_has_the_size_of_linkoping(linkoping: KommunAreas) -> None:
    assert 1300 < _km2(linkoping.boundary) < 1800  # the real kommun is about 1,560 km²
    min_lon, min_lat, max_lon, max_lat = linkoping.boundary.bounds
    assert 58.1 < min_lat < max_lat < 58.7
    assert 15.1 < min_lon < max_lon < 16.1


def test_areas_are_valid_small_polygons_inside_the_boundary(linkoping: KommunAreas) -> None:
    for area in linkoping.areas:
        assert area.geometry.is_valid, area.name
        assert linkoping.boundary.contains(area.geometry), area.name
        assert 6 <= len(area.geometry.exterior.coords) - 1 <= 15, area.name
        assert 0.3 < _km2(area.geometry) < 10, area.name


def test_areas_do_not_overlap(linkoping: KommunAreas) -> None:
    for a, b in itertools.combinations(linkoping.areas, 2):
        assert a.geometry.intersection(b.geometry).area < 1e-9, (a.name, b.name)


def test_area_of_city_centre_and_countryside(linkoping: KommunAreas) -> None:
    assert linkoping.area_of(58.4108, 15.6214) == "Innerstaden"  # Stora torget
    assert linkoping.area_of(58.4245, 15.5815) == "Skäggetorp"
    countryside = (58.30, 15.60)
    assert linkoping.contains(*countryside)
    assert linkoping.area_of(*countryside) == OTHER_AREA


def test_contains_rejects_stockholm(linkoping: KommunAreas) -> None:
    assert linkoping.contains(58.4108, 15.6214)
    assert not linkoping.contains(59.33, 18.06)
    assert not linkoping.contains(59.33, 18.06, tolerance_m=1000)
