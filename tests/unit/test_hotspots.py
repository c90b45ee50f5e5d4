"""Hotspots on a synthetic kommun: two square areas side by side inside a square boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from shapely.geometry import Point, shape

from services.aggregate.hotspots import Hotspot, find_hotspots
from services.aggregate.logic import Incident
from shared.areas import OTHER_AREA, KommunAreas, parse_area_collection

# Kommun 15.50–15.70 E, 58.37–58.45 N (about 11.7 × 8.9 km); areas of about 2.9 × 4.5 km.
WEST, EAST = (15.55, 58.39, 15.60, 58.43), (15.60, 58.39, 15.65, 58.43)


def _square(minx: float, miny: float, maxx: float, maxy: float) -> dict:
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def kommun() -> KommunAreas:
    def feature(kind: str, bounds: tuple[float, ...], name: str = "") -> dict:
        props = {"kind": kind, "name": name} if name else {"kind": kind}
        return {"type": "Feature", "properties": props, "geometry": _square(*bounds)}

    features = [
        feature("kommun", (15.5, 58.37, 15.7, 58.45)),
        feature("area", WEST, "Väster"),
        feature("area", EAST, "Öster"),
    ]
    data = {"type": "FeatureCollection", "kommun": "9999", "kommun_name": "Testby"}
    return parse_area_collection({**data, "features": features})


def _incidents(
    kommun: KommunAreas,
    points: list[tuple[float, float]],
    category: str = "klotter",
    precision: str = "exact",
    tag: str = "x",
) -> list[Incident]:
    return [
        Incident(
            key=f"org/{tag}{n}",
            area=kommun.area_of(lat, lon),
            category=category,
            source="vaktare",
            occurred_at=datetime(2026, 5, 13, 22, tzinfo=UTC),
            lat=lat,
            lon=lon,
            location_precision=precision,
            description="",
        )
        for n, (lat, lon) in enumerate(points)
    ]


def _cluster(lat: float, lon: float, n: int, seed: int) -> list[tuple[float, float]]:
    """n points within about 50 m of (lat, lon)."""
    rng = np.random.default_rng(seed)
    return [(lat + rng.uniform(-4e-4, 4e-4), lon + rng.uniform(-7e-4, 7e-4)) for _ in range(n)]


def _background(n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return [(rng.uniform(58.37, 58.45), rng.uniform(15.5, 15.7)) for _ in range(n)]


NORTH_WEST = (58.425, 15.575)  # northern part of Väster
SOUTH_EAST = (58.395, 15.625)  # southern part of Öster
STRAY = (58.38, 15.52)


def _covers(spot: Hotspot, lat: float, lon: float) -> bool:
    return shape({"type": "Polygon", "coordinates": spot.polygon}).covers(Point(lon, lat))


@pytest.fixture(scope="module")
def week(kommun: KommunAreas) -> list[Incident]:
    return (
        _incidents(kommun, _cluster(*NORTH_WEST, 6, seed=1), tag="a")
        + _incidents(kommun, _cluster(*SOUTH_EAST, 4, seed=2), "skadegorelse", tag="b")
        + _incidents(kommun, _cluster(*SOUTH_EAST, 3, seed=3), "klotter", tag="c")
        + _incidents(kommun, _background(15, seed=4), "ovrigt", tag="d")
        + _incidents(kommun, [STRAY], "brand", tag="e")
    )


def test_clusters_in_two_areas_are_found_and_named(kommun: KommunAreas, week: list) -> None:
    spots = find_hotspots(week, [], kommun)
    names = {s.name for s in spots}
    assert names == {"Väster, norra delen", "Öster, södra delen"}, spots
    south = next(s for s in spots if s.name.startswith("Öster"))
    assert south.count == 7 and south.categories == {"skadegorelse": 4, "klotter": 3}
    assert south.areas == ("Öster",)
    assert _covers(south, *SOUTH_EAST)
    assert south.score > 3 and south.cells >= 1
    assert spots[0].score >= spots[1].score


def test_a_single_stray_point_is_not_a_hotspot(kommun: KommunAreas, week: list) -> None:
    spots = find_hotspots(week, [], kommun)
    assert not any(_covers(s, *STRAY) for s in spots)
    assert find_hotspots(_incidents(kommun, [STRAY]), [], kommun) == []
    assert find_hotspots([], [], kommun) == []


def test_trend_against_previous_week_and_baseline(kommun: KommunAreas, week: list) -> None:
    previous = _incidents(kommun, _cluster(*NORTH_WEST, 2, seed=5), tag="p")
    baseline = _incidents(kommun, _cluster(*NORTH_WEST, 8, seed=6), tag="q")
    spots = find_hotspots(week, previous, kommun, baseline_incidents=baseline, baseline_weeks=8)
    north = next(s for s in spots if s.name.startswith("Väster"))
    south = next(s for s in spots if s.name.startswith("Öster"))
    assert (north.count, north.previous, north.trend) == (6, 2, "ökar")
    assert north.baseline_mean == pytest.approx(1.0)
    assert (south.previous, south.baseline_mean, south.trend) == (0, 0.0, "ny")
    assert find_hotspots(week, [], kommun)[0].baseline_mean is None


def test_cluster_across_the_area_border_gets_both_names(kommun: KommunAreas) -> None:
    points = _cluster(58.41, 15.5985, 4, seed=7) + _cluster(58.41, 15.6015, 3, seed=8)
    west = [p for p in points if p[1] < 15.6]
    assert len(west) == 4  # the jitter keeps each side on its side
    [spot] = find_hotspots(_incidents(kommun, points), [], kommun)
    assert spot.name == "Väster/Öster" and spot.areas == ("Väster", "Öster")


def test_cluster_outside_the_named_areas(kommun: KommunAreas) -> None:
    [spot] = find_hotspots(_incidents(kommun, _cluster(58.44, 15.68, 5, seed=9)), [], kommun)
    assert spot.name == f"{OTHER_AREA}, nordöstra delen"


def test_centre_of_an_area(kommun: KommunAreas) -> None:
    [spot] = find_hotspots(_incidents(kommun, _cluster(58.41, 15.575, 5, seed=10)), [], kommun)
    assert spot.name == "Väster, centrala delen"


def test_reports_placed_at_area_centroids_make_no_hotspot(kommun: KommunAreas) -> None:
    at_centroid = _incidents(kommun, [(58.41, 15.575)] * 10, precision="centroid")
    duplicates = [
        Incident(**{**i.__dict__, "duplicate_of": "org/other"})
        for i in _incidents(kommun, _cluster(58.41, 15.625, 6, seed=11), tag="dup")
    ]
    assert find_hotspots(at_centroid + duplicates, [], kommun) == []


def test_two_hotspots_with_the_same_name_are_told_apart(kommun: KommunAreas) -> None:
    points = _cluster(58.428, 15.565, 5, seed=12) + _cluster(58.428, 15.585, 5, seed=13)
    spots = find_hotspots(_incidents(kommun, points), [], kommun)
    assert sorted(s.name for s in spots) == ["Väster, norra delen", "Väster, norra delen (2)"]


def test_hotspot_is_json_ready(kommun: KommunAreas, week: list) -> None:
    spot = find_hotspots(week, [], kommun)[0]
    ring = spot.polygon[0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    assert all(15.5 <= lon <= 15.7 and 58.37 <= lat <= 58.45 for lon, lat in ring)
    json.dumps(spot.__dict__)


def _uniform(rng: np.random.Generator, bounds: tuple[float, ...], n: int) -> list:
    minx, miny, maxx, maxy = bounds
    return [(rng.uniform(miny, maxy), rng.uniform(minx, maxx)) for _ in range(n)]


def _background_week(rng: np.random.Generator) -> list[tuple[float, float]]:
    """Reports spread evenly within each area: a busy west, a quieter east, a rural rest."""
    return (
        _uniform(rng, WEST, 25)
        + _uniform(rng, EAST, 10)
        + _uniform(rng, (15.5, 58.37, 15.7, 58.45), 15)
    )


def test_a_uniformly_busy_area_is_not_a_hotspot(kommun: KommunAreas) -> None:
    # 60 reports spread over Väster: far above the kommun mean, but nowhere in particular.
    rng = np.random.default_rng(20)
    assert find_hotspots(_incidents(kommun, _uniform(rng, WEST, 60)), [], kommun) == []


N_SIM_WEEKS = 40


def test_false_hotspots_on_evenly_spread_weeks(kommun: KommunAreas) -> None:
    rng = np.random.default_rng(21)
    spots = sum(
        len(find_hotspots(_incidents(kommun, _background_week(rng)), [], kommun))
        for _ in range(N_SIM_WEEKS)
    )
    assert spots / N_SIM_WEEKS <= 0.05, f"{spots} false hotspots in {N_SIM_WEEKS} weeks"


def test_detects_tight_clusters_of_eight(kommun: KommunAreas) -> None:
    rng = np.random.default_rng(22)
    found = false = 0
    for _ in range(N_SIM_WEEKS):
        [(lat, lon)] = _uniform(rng, WEST if rng.random() < 0.5 else EAST, 1)
        cluster = [(lat + rng.normal(0, 4e-4), lon + rng.normal(0, 8e-4)) for _ in range(8)]
        spots = find_hotspots(_incidents(kommun, _background_week(rng) + cluster), [], kommun)
        hit = [s for s in spots if _covers(s, lat, lon) or _near(s, lat, lon)]
        found += bool(hit)
        false += len(spots) - len(hit)
    assert found / N_SIM_WEEKS >= 0.8, f"found {found} of {N_SIM_WEEKS} clusters"
    assert false / N_SIM_WEEKS <= 0.1, f"{false} other hotspots in {N_SIM_WEEKS} weeks"


def _near(spot: Hotspot, lat: float, lon: float) -> bool:
    """Within about 100 m of the cluster's centre (a shape may miss the centre itself)."""
    polygon = shape({"type": "Polygon", "coordinates": spot.polygon})
    return polygon.distance(Point(lon, lat)) < 1e-3
