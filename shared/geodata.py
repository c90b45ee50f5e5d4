"""Reading a municipality's GIS files: GeoJSON, GeoPackage, ESRI Shapefile (with .prj).

pyogrio (GDAL in its wheel) reads all three and reports the file's coordinate system; pyproj
reprojects. Used by `lagesbild areas import` (shared/area_import.py) and `lagesbild places
import` (shared/places.py). Messages are Swedish: they reach the operator as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

WGS84 = "EPSG:4326"
METRIC = "EPSG:3006"  # SWEREF 99 TM: metres anywhere in Sweden
# Coordinate systems a Swedish GIS file is likely in, tried when a file's own puts its
# areas in the wrong place: SWEREF 99 TM, the twelve local SWEREF 99 zones, RT 90, WGS 84.
LIKELY_CRS = (
    "EPSG:3006",
    *(f"EPSG:{code}" for code in range(3007, 3019)),
    "EPSG:3021",
    "EPSG:4326",
)
SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}


class GeoFileError(ValueError):
    """A file that cannot be read as it is, with what to do (Swedish)."""


@dataclass(frozen=True)
class Feature:
    number: int  # 1-based, as a GIS user counts rows
    properties: dict[str, Any]
    geometry: BaseGeometry | None  # in the file's own coordinates


@dataclass(frozen=True)
class SourceLayer:
    path: Path
    driver: str
    layer: str | None
    crs: str | None  # the file's own, as "EPSG:3006" when it has a code, else WKT
    fields: list[str]
    features: list[Feature]


def parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise GeoFileError(
            f"Okänt koordinatsystem {text!r}: ange t.ex. --crs EPSG:3006 (SWEREF 99 TM) "
            "eller EPSG:3010 (SWEREF 99 16 30)."
        ) from exc


def crs_label(crs: CRS | str) -> str:
    crs = crs if isinstance(crs, CRS) else parse_crs(crs)
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def read_layer(path: Path, layer: str | None = None) -> SourceLayer:
    """Every feature of one layer of a GeoJSON, GeoPackage or Shapefile."""
    import pyogrio
    import pyogrio.raw
    from pyogrio.errors import DataLayerError, DataSourceError

    if not path.is_file():
        raise GeoFileError(f"Filen {path} finns inte.")
    driver = SUFFIXES.get(path.suffix.lower())
    if driver is None:
        raise GeoFileError(
            f"{path.name}: okänt filformat {path.suffix!r}; läser GeoJSON (.geojson, .json), "
            "GeoPackage (.gpkg) och ESRI Shapefile (.shp med .dbf, .shx och .prj)."
        )
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        if layer is None and len(layers) > 1:
            raise GeoFileError(
                f"{path.name} har flera lager ({', '.join(layers)}): välj ett med --layer."
            )
        if layer is not None and layer not in layers:
            raise GeoFileError(
                f"{path.name} har inget lager {layer!r}; lagren är: {', '.join(layers)}."
            )
        meta, _fids, geometries, field_data = pyogrio.raw.read(path, layer=layer, force_2d=True)
    except (DataSourceError, DataLayerError) as exc:
        raise GeoFileError(f"{path.name} kan inte läsas som {driver}: {exc}") from exc
    fields = [str(f) for f in meta["fields"]]
    shapes = shapely.from_wkb(geometries) if geometries is not None else []
    features = []
    for i, geometry in enumerate(shapes):
        props = {name: _plain(field_data[j][i]) for j, name in enumerate(fields)}
        geom = None if geometry is None or geometry.is_empty else geometry
        features.append(Feature(i + 1, props, geom))
    return SourceLayer(path, driver, layer, _crs_text(meta.get("crs")), fields, features)


def _crs_text(value: Any) -> str | None:
    if not value:
        return None
    crs = CRS.from_user_input(value)
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def transformer(source: CRS | str, target: str) -> Callable[[BaseGeometry], BaseGeometry]:
    """A function reprojecting shapely geometries from `source` to `target`."""
    t = Transformer.from_crs(source, target, always_xy=True)

    def apply(coords: Any) -> Any:
        x, y = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def project(geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geometry, apply)

    return project


def looks_geographic(geometries: list[BaseGeometry]) -> bool:
    """Coordinates within ±180/±90: plausibly degrees."""
    if not geometries:
        return True
    minx, miny, maxx, maxy = shapely.total_bounds(geometries)
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
