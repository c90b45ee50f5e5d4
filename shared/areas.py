"""A kommun's areas: the polygons reports are counted in.

Area files are GeoJSON FeatureCollections named ``<kommunkod>.geojson`` with the
foreign members ``kommun`` and ``kommun_name``. One feature has ``"kind": "kommun"``
(the outer boundary); the others (``"kind": "area"``) are named areas. A point inside
the boundary but in no named area belongs to ``OTHER_AREA``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, unary_union

if TYPE_CHECKING:
    from shared.places import Place

from shared.geo import METRES_PER_DEGREE, metres_per_degree_lon

OTHER_AREA = "Övriga kommunen"
KOMMUN_LEVEL_AREA = "Hela kommunen (ej platsbestämt)"  # e.g. the police's centroid-only events
PACKAGED_AREAS_DIR = Path(__file__).parent / "data" / "areas"


class AreaFileError(ValueError):
    """An area file that cannot be used, with what to fix."""


@dataclass(frozen=True)
class Area:
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class KommunAreas:
    kommun: str
    kommun_name: str
    boundary: BaseGeometry
    areas: tuple[Area, ...]
    geojson: dict[str, Any] = field(repr=False, compare=False)
    # known places (shared/places.py), attached by shared/kommuner.py
    places: tuple[Place, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def _prepared(self) -> list[tuple[str, Any]]:
        # shapely.prepare works in place; intersects_xy then tests a point without
        # creating a Point object (the ingest asks this for every report).
        for area in self.areas:
            shapely.prepare(area.geometry)
        return [(a.name, a.geometry) for a in self.areas]

    @cached_property
    def _prepared_boundary(self) -> Any:
        shapely.prepare(self.boundary)
        return self.boundary

    @property
    def area_names(self) -> list[str]:
        return [a.name for a in self.areas] + [OTHER_AREA]

    def area_of(self, lat: float, lon: float) -> str:
        """The named area containing the point, else OTHER_AREA (call `contains` first)."""
        for name, geom in self._prepared:
            if shapely.intersects_xy(geom, lon, lat):  # boundary included, like covers()
                return name
        return OTHER_AREA

    def contains(self, lat: float, lon: float, tolerance_m: float = 0.0) -> bool:
        """Inside the kommun boundary, or within `tolerance_m` metres of it."""
        if shapely.intersects_xy(self._prepared_boundary, lon, lat):
            return True
        if tolerance_m <= 0:
            return False
        point = Point(lon, lat)
        # Degrees -> metres with the longitude scale of this latitude: exact enough for
        # a tolerance of a few hundred metres.
        nearest = nearest_points(self.boundary.boundary, point)[0]
        dx = (nearest.x - lon) * metres_per_degree_lon(lat)
        dy = (nearest.y - lat) * METRES_PER_DEGREE
        return math.hypot(dx, dy) <= tolerance_m

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lon) to centre a map on: the named areas' centre, else the boundary's."""
        geoms = [a.geometry for a in self.areas] or [self.boundary]
        c = unary_union(geoms).centroid
        return c.y, c.x


def parse_area_collection(data: dict[str, Any], name_property: str = "name") -> KommunAreas:
    """Build KommunAreas from a parsed area file; raises AreaFileError on any problem."""
    if data.get("type") != "FeatureCollection":
        raise AreaFileError("area file must be a GeoJSON FeatureCollection")
    kommun = str(data.get("kommun", ""))
    if not (len(kommun) == 4 and kommun.isdigit()):
        raise AreaFileError("area file needs a 'kommun' member with the four-digit kommunkod")
    boundary: BaseGeometry | None = None
    areas: list[Area] = []
    for i, feature in enumerate(data.get("features", [])):
        props = feature.get("properties") or {}
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:
            raise AreaFileError(f"feature {i}: invalid geometry ({exc})") from exc
        if not geom.is_valid or geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise AreaFileError(f"feature {i}: geometry must be a valid (Multi)Polygon")
        if props.get("kind") == "kommun":
            boundary = geom
            continue
        name = props.get(name_property)
        if not name:
            raise AreaFileError(f"feature {i}: missing area name property {name_property!r}")
        areas.append(Area(str(name), geom))
    if boundary is None:
        raise AreaFileError('area file has no feature with "kind": "kommun" (outer boundary)')
    names = [a.name for a in areas]
    if len(set(names)) != len(names):
        raise AreaFileError("area names must be unique")
    return KommunAreas(
        kommun=kommun,
        kommun_name=str(data.get("kommun_name", kommun)),
        boundary=boundary,
        areas=tuple(areas),
        geojson=data,
    )


def load_area_file(path: Path, name_property: str = "name") -> KommunAreas:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AreaFileError(f"{path}: cannot read area file ({exc})") from exc
    try:
        return parse_area_collection(data, name_property)
    except AreaFileError as exc:
        raise AreaFileError(f"{path}: {exc}") from exc


def load_kommuner(
    extra_dir: Path | None = None, name_property: str = "name"
) -> dict[str, KommunAreas]:
    """All configured kommuner: packaged area files, overridden by files in `extra_dir`."""
    found: dict[str, KommunAreas] = {}
    for directory in (PACKAGED_AREAS_DIR, extra_dir):
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.geojson")):
            kommun_areas = load_area_file(path, name_property)
            found[kommun_areas.kommun] = kommun_areas
    return found
