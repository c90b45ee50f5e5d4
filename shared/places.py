"""Known places of a kommun: names people use ("Resecentrum", "Gallerian"), with aliases, a
point or a polygon. `lagesbild places import FILE` keeps them per kommun in
`<areas dir>/places/<kommunkod>.geojson`; every service finds them on the kommun's
`KommunAreas.places` (shared/kommuner.py attaches them).

Used by: hotspot naming (the nearest known place within `HOTSPOT_REACH_M`), decision targets
(a place is a valid target), the report form's typed place search (`places_for`,
`search_places`) and Open311's `address_string` (`resolve_place`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from shared.geo import distance_m

if TYPE_CHECKING:
    from shared.areas import KommunAreas

HOTSPOT_REACH_M = 400.0  # a hotspot is named after a known place this close to its centre
MAX_NAME_CHARS = 100
MAX_ALIASES = 20
DECIMALS = 6
NAME_FIELDS = ("name", "namn", "Name", "NAMN")
ALIAS_FIELDS = ("aliases", "alias", "Aliases", "ALIAS", "alias_namn")


class PlaceFileError(ValueError):
    """A places file that cannot be used, one Swedish line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Place:
    name: str
    lat: float  # a point inside: the given point, or the polygon's representative point
    lon: float
    aliases: tuple[str, ...] = ()
    geometry: BaseGeometry | None = field(default=None, compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def distance_to(self, lat: float, lon: float) -> float:
        """Metres from the point to the place (0 inside its polygon)."""
        if self.geometry is None or self.geometry.geom_type == "Point":
            return distance_m(lat, lon, self.lat, self.lon)
        if shapely.intersects_xy(self.geometry, lon, lat):
            return 0.0
        near = nearest_points(self.geometry, Point(lon, lat))[0]
        return distance_m(lat, lon, near.y, near.x)


def fold(text: str) -> str:
    """For matching what someone typed: case, spacing and accents ignored, but å/ä/ö kept
    (in Swedish they are letters of their own)."""
    text = " ".join(text.casefold().split())
    kept = {"å", "ä", "ö"}
    return "".join(
        ch
        if ch in kept
        else "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        for ch in text
    )


# --- the stored format ------------------------------------------------------------------------


def places_path(areas_dir: Path, kommun: str) -> Path:
    return areas_dir / "places" / f"{kommun}.geojson"


def places_collection(kommun: str, places: list[Place]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "kommun": kommun,
        "features": [
            {
                "type": "Feature",
                "properties": {"name": p.name, "aliases": list(p.aliases)},
                "geometry": mapping(p.geometry if p.geometry is not None else Point(p.lon, p.lat)),
            }
            for p in sorted(places, key=lambda p: fold(p.name))
        ],
    }


def parse_places(data: dict[str, Any]) -> list[Place]:
    """Places from a stored places file (our format)."""
    places = []
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        geometry = shape(feature["geometry"])
        places.append(_place(str(props["name"]), tuple(props.get("aliases") or ()), geometry))
    return places


def load_places(path: Path) -> list[Place]:
    if not path.is_file():
        return []
    return parse_places(json.loads(path.read_text(encoding="utf-8")))


def _place(name: str, aliases: tuple[str, ...], geometry: BaseGeometry) -> Place:
    point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
    return Place(
        name=name,
        lat=round(point.y, DECIMALS),
        lon=round(point.x, DECIMALS),
        aliases=aliases,
        geometry=geometry,
    )


# --- lookups ---------------------------------------------------------------------------------


def nearest_place(places: Sequence[Place], lat: float, lon: float, reach_m: float) -> Place | None:
    """The known place nearest the point within `reach_m` (inside a polygon: distance 0)."""
    best: tuple[float, str, Place] | None = None
    for place in places:
        d = place.distance_to(lat, lon)
        if d <= reach_m and (best is None or (d, place.name) < best[:2]):
            best = (d, place.name, place)
    return best[2] if best else None


def places_for(kommun: KommunAreas) -> list[dict[str, Any]]:
    """What the report form's place search offers: the kommun's known places and its areas,
    each with a point to put the report at (`location_precision` "centroid": a named place,
    not the exact spot)."""
    items = [
        {"name": p.name, "aliases": list(p.aliases), "kind": "plats", "lat": p.lat, "lon": p.lon}
        for p in kommun.places
    ]
    for area in kommun.areas:
        point = area.geometry.representative_point()
        items.append(
            {
                "name": area.name,
                "aliases": [],
                "kind": "område",
                "lat": round(point.y, DECIMALS),
                "lon": round(point.x, DECIMALS),
            }
        )
    return sorted(items, key=lambda i: fold(str(i["name"])))


def search_places(kommun: KommunAreas, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Places and areas whose name or alias starts with (then contains) what was typed."""
    wanted = fold(text)
    if not wanted:
        return []
    starts, contains = [], []
    for item in places_for(kommun):
        names = [fold(n) for n in [item["name"], *item["aliases"]]]
        if any(n.startswith(wanted) for n in names):
            starts.append(item)
        elif any(wanted in n for n in names):
            contains.append(item)
    return (starts + contains)[:limit]


def resolve_place(kommun: KommunAreas, text: str) -> tuple[float, float] | None:
    """(lat, lon) for a place named in free text (Open311 `address_string`, a decision's
    target), or None. Exact names and aliases of places first, then areas; the kommun's own
    name at the end ("Gallerian, Mjölby") is ignored; an ambiguous prefix gives None."""
    wanted = fold(text)
    for suffix in (f"{fold(kommun.kommun_name)} kommun", fold(kommun.kommun_name)):
        wanted = wanted.removesuffix(f", {suffix}").removesuffix(f" {suffix}")
    wanted = wanted.strip(" ,")
    if not wanted:
        return None
    items = places_for(kommun)
    for item in items:
        if wanted in [fold(n) for n in [item["name"], *item["aliases"]]]:
            return float(item["lat"]), float(item["lon"])
    found = search_places(kommun, wanted, limit=2)
    if len(found) == 1:
        return float(found[0]["lat"]), float(found[0]["lon"])
    return None


def target_names(kommun: KommunAreas) -> list[str]:
    """What a decision may name as its target: areas (with "Övriga kommunen") and places."""
    return [*kommun.area_names, *(n for p in kommun.places for n in p.names)]


def place_area(kommun: KommunAreas, target: str) -> str | None:
    """The area a place named as a decision target lies in (None: not a place)."""
    wanted = fold(target)
    for place in kommun.places:
        if wanted in [fold(n) for n in place.names]:
            return kommun.area_of(place.lat, place.lon)
    return None


# --- importing -------------------------------------------------------------------------------


@dataclass
class PlacesImport:
    kommun: str
    places: list[Place]
    added: list[str]
    removed: list[str]
    changed: list[str]
    written: Path | None = None
    previous_saved: Path | None = None


def read_places_csv(text: str, name_field: str | None = None) -> list[dict[str, Any]]:
    """Rows of a CSV (comma or semicolon) with a name, aliases (separated by | or ;),
    lat and lon (WGS 84), and optionally kommun."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = list(reader.fieldnames or [])
    name_key = _field(fields, (name_field,) if name_field else NAME_FIELDS)
    if name_key is None:
        wanted = name_field or "name eller namn"
        columns = ", ".join(fields)
        raise PlaceFileError([f"CSV-filen har ingen kolumn {wanted}; kolumnerna: {columns}"])
    lat_key, lon_key = _field(fields, ("lat", "latitud")), _field(fields, ("lon", "longitud"))
    if lat_key is None or lon_key is None:
        raise PlaceFileError(["CSV-filen behöver kolumnerna lat och lon (WGS 84, decimalgrader)."])
    alias_key, kommun_key = _field(fields, ALIAS_FIELDS), _field(fields, ("kommun", "kommunkod"))
    rows = []
    problems = []
    for number, row in enumerate(reader, start=2):
        try:
            lat = float(row[lat_key].replace(",", "."))
            lon = float(row[lon_key].replace(",", "."))
        except (TypeError, ValueError, AttributeError):
            problems.append(f"Rad {number}: lat/lon är inga tal.")
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append(f"Rad {number}: lat/lon utanför WGS 84 (omkastade eller i meter?).")
            continue
        rows.append(
            {
                "number": number,
                "name": row.get(name_key) or "",
                "aliases": (row.get(alias_key) or "") if alias_key else "",
                "kommun": (row.get(kommun_key) or "").strip() if kommun_key else "",
                "geometry": Point(lon, lat),
            }
        )
    if problems:
        raise PlaceFileError(problems)
    return rows


def _field(fields: Sequence[str], candidates: tuple[str | None, ...]) -> str | None:
    lowered = {f.strip().casefold(): f for f in fields}
    for candidate in candidates:
        if candidate and candidate.casefold() in lowered:
            return lowered[candidate.casefold()]
    return None


def split_aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    else:
        text = str(value)
        parts = text.split("|") if "|" in text else text.split(";")
    return tuple(dict.fromkeys(" ".join(p.split()) for p in parts if p.strip()))


def build_places(rows: list[dict[str, Any]]) -> tuple[list[Place], list[str]]:
    """Places from rows (name, aliases, geometry in WGS 84), with every problem."""
    places: list[Place] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in rows:
        name = " ".join(str(row["name"] or "").split())
        number = row["number"]
        if not name:
            problems.append(f"Rad {number}: platsen saknar namn.")
            continue
        if len(name) > MAX_NAME_CHARS:
            problems.append(f"Rad {number}: namnet är längre än {MAX_NAME_CHARS} tecken.")
            continue
        aliases = tuple(a for a in split_aliases(row["aliases"]) if fold(a) != fold(name))
        if len(aliases) > MAX_ALIASES or any(len(a) > MAX_NAME_CHARS for a in aliases):
            problems.append(f"Rad {number} ({name}): för många eller för långa alias.")
            continue
        geometry = row["geometry"]
        if geometry is None or geometry.is_empty:
            problems.append(f"Rad {number} ({name}): saknar läge.")
            continue
        if geometry.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            kind = geometry.geom_type
            problems.append(f"Rad {number} ({name}): en {kind}; ange en punkt eller en yta.")
            continue
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        geometry = shapely.set_precision(geometry, 10**-DECIMALS)
        clash = [n for n in (name, *aliases) if fold(n) in seen]
        for n in clash:
            problems.append(
                f"Rad {number}: namnet {n!r} finns redan (rad {seen[fold(n)]}); "
                "varje namn och alias får bara peka ut en plats."
            )
        if clash:
            continue
        for n in (name, *aliases):
            seen[fold(n)] = number
        places.append(_place(name, aliases, geometry))
    return places, problems


def write_places(
    areas_dir: Path,
    kommun: str,
    places: list[Place],
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PlacesImport:
    """Replace the kommun's places, keeping the previous file; says what changed."""
    path = places_path(areas_dir, kommun)
    before = {fold(p.name): p for p in load_places(path)}
    after = {fold(p.name): p for p in places}
    result = PlacesImport(
        kommun=kommun,
        places=places,
        added=sorted(after[k].name for k in set(after) - set(before)),
        removed=sorted(before[k].name for k in set(before) - set(after)),
        changed=sorted(
            after[k].name
            for k in set(after) & set(before)
            if math.dist((after[k].lat, after[k].lon), (before[k].lat, before[k].lon)) > 1e-5
            or after[k].aliases != before[k].aliases
        ),
    )
    text = json.dumps(places_collection(kommun, places), ensure_ascii=False, indent=1) + "\n"
    if dry_run or (path.is_file() and path.read_text(encoding="utf-8") == text):
        return result
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        saved = areas_dir / "previous" / f"{kommun}.places.{stamp}.geojson"
        saved.parent.mkdir(exist_ok=True)
        saved.write_bytes(path.read_bytes())
        result.previous_saved = saved
    tmp = path.with_suffix(".geojson.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    result.written = path
    return result
