"""All 290 kommuner of Sweden out of the box: their codes, names, län and boundaries.

The packaged file `shared/data/kommuner/kommuner.geojson` is derived from open data (see
`shared/data/kommuner/README.md`) by `tools/build_kommuner.py`, which calls
`derive_national_file` below: each boundary is simplified with a tolerance of
`SIMPLIFY_TOLERANCE_M` metres in SWEREF 99 TM (EPSG:3006) with topology preserved, and its
coordinates are rounded to `COORDINATE_DECIMALS` decimals (about 1 m).

A kommun enabled without an area file of its own gets this boundary and no named areas:
its reports count in "Övriga kommunen" and its hotspots are found on the grid as anywhere.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from shared.areas import KommunAreas

NATIONAL_FILE = Path(__file__).parent / "data" / "kommuner" / "kommuner.geojson"
SIMPLIFY_TOLERANCE_M = 50.0
COORDINATE_DECIMALS = 5
METRIC_CRS = "EPSG:3006"  # SWEREF 99 TM: metres over all of Sweden


@dataclass(frozen=True)
class NationalKommun:
    code: str
    name: str
    lan_code: str
    lan_name: str
    boundary: BaseGeometry


def is_kommun_code(text: str) -> bool:
    return len(text) == 4 and text.isdigit()


@cache
def national_kommuner(path: Path = NATIONAL_FILE) -> dict[str, NationalKommun]:
    """Every kommun in the packaged file, by kommunkod (read once per process)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, NationalKommun] = {}
    for feature in data["features"]:
        props = feature["properties"]
        found[props["kod"]] = NationalKommun(
            code=props["kod"],
            name=props["namn"],
            lan_code=props["lan"],
            lan_name=props["lan_namn"],
            boundary=shape(feature["geometry"]),
        )
    return found


def kommun_code_for_name(name: str) -> str | None:
    """The kommunkod of a kommun name ("Mjölby", "mjölby kommun"), or None."""
    wanted = _fold(name.removesuffix(" kommun").removesuffix(" Kommun"))
    for code, kommun in national_kommuner().items():
        if _fold(kommun.name) == wanted:
            return code
    return None


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def boundary_only(code: str, name: str | None = None) -> KommunAreas:
    """The kommun with its packaged boundary and no named areas (KeyError if unknown)."""
    kommun = national_kommuner()[code]
    return KommunAreas(
        kommun=code,
        kommun_name=name or kommun.name,
        boundary=kommun.boundary,
        areas=(),
        geojson=boundary_collection(code, name or kommun.name, kommun.boundary),
    )


def boundary_collection(code: str, name: str, boundary: BaseGeometry) -> dict[str, Any]:
    """An area file (our format) holding only the kommun's boundary."""
    return {
        "type": "FeatureCollection",
        "kommun": code,
        "kommun_name": name,
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": "kommun", "name": name},
                "geometry": mapping(boundary),
            }
        ],
    }


def kommun_of_point(lat: float, lon: float) -> str | None:
    """The kommunkod whose packaged boundary holds the point (None: outside Sweden)."""
    for code, kommun in national_kommuner().items():
        if shapely.intersects_xy(kommun.boundary, lon, lat):
            return code
    return None


# --- deriving the packaged file from the raw open data (tools/build_kommuner.py) -------------


def derive_national_file(raw_geojson: str, codes_csv: str) -> dict[str, Any]:
    """The packaged FeatureCollection from okfse's municipality polygons and SCB's code list.

    Deterministic: the same inputs give the same output, byte for byte once serialised with
    `dump_national_file`, so a test can check the packaged file against the raw data."""
    raw = json.loads(raw_geojson)
    codes = {row["municipality_code"]: row for row in csv.DictReader(io.StringIO(codes_csv))}
    to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_wgs84 = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    features = []
    for feature in raw["features"]:
        code = str(feature["properties"]["id"])
        row = codes[code]
        geom = shapely.transform(shape(feature["geometry"]), lambda xy: _project(to_metric, xy))
        geom = geom.simplify(SIMPLIFY_TOLERANCE_M, preserve_topology=True)
        geom = shapely.transform(geom, lambda xy: _project(to_wgs84, xy))
        geom = shapely.set_precision(geom, 10**-COORDINATE_DECIMALS)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kod": code,
                    "namn": row["municipality_name"],
                    "lan": row["county_code"],
                    "lan_namn": row["county_name"],
                },
                "geometry": _rounded(mapping(shapely.normalize(geom))),
            }
        )
    features.sort(key=lambda f: f["properties"]["kod"])
    return {
        "type": "FeatureCollection",
        "source": "okfse/sweden-geojson swedish_municipalities.geojson; SCB kommunkoder",
        "simplify_tolerance_m": SIMPLIFY_TOLERANCE_M,
        "crs_of_simplification": METRIC_CRS,
        "features": features,
    }


def dump_national_file(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _project(transformer: Transformer, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _rounded(geometry: Any) -> Any:
    if isinstance(geometry, dict):
        return {k: _rounded(v) for k, v in geometry.items()}
    if isinstance(geometry, (list, tuple)):
        return [_rounded(v) for v in geometry]
    if isinstance(geometry, float):
        return round(geometry, COORDINATE_DECIMALS)
    return geometry
