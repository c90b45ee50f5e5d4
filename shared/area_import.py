"""`lagesbild areas import`: a municipality's own areas from its GIS file into our format.

The GIS team's file (GeoJSON, GeoPackage or Shapefile; SWEREF 99 TM, a local SWEREF 99 zone,
RT 90 or WGS 84) becomes `<areas dir>/<kommunkod>.geojson`, the area file every service reads
(shared/areas.py). Everything is checked before anything is written; what cannot be used is
refused with the areas' names, all problems at once:

- an area without a name, or two with the same name; a name the product reserves;
- a feature that is not a polygon, or an invalid one (self-intersecting, …) that cannot be
  repaired (`shapely.make_valid`; a repaired area is reported by name; `repair=False` refuses);
- areas that overlap by more than `OVERLAP_SHARE` of the smaller one (smaller overlaps are
  reported: a report there counts in the first area);
- an area more than `OUTSIDE_SHARE` outside the kommun's boundary (beyond `BOUNDARY_SLACK_M`,
  since the packaged boundaries are simplified); smaller parts outside are reported, and the
  boundary is widened to hold them (within its bounding box, where the hotspot grid is
  anchored);
- a coordinate system that puts the areas in another kommun, or outside Sweden, with the
  systems that would put them in the right place.

The file written has the kommun's boundary (the one it had, widened to hold the new areas)
and the areas, coordinates in WGS 84 to 6 decimals. The file it replaces is kept as
`<areas dir>/previous/<kommunkod>.<UTC time>.geojson`, and the result says which areas were
added, removed or changed. Built weeks are frozen and keep their areas; see `FROZEN_NOTE`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from shared.areas import (
    KOMMUN_LEVEL_AREA,
    OTHER_AREA,
    PACKAGED_AREAS_DIR,
    KommunAreas,
    load_area_file,
)
from shared.geodata import (
    LIKELY_CRS,
    METRIC,
    WGS84,
    GeoFileError,
    SourceLayer,
    crs_label,
    looks_geographic,
    parse_crs,
    read_layer,
    transformer,
)
from shared.national import boundary_only, kommun_of_point, national_kommuner

OVERLAP_SHARE = 0.01  # overlaps above 1 % of the smaller area are refused
OUTSIDE_SHARE = 0.10  # an area more than 10 % outside the kommun is refused
BOUNDARY_SLACK_M = 500.0  # the packaged boundaries are simplified: this much is forgiven
CHANGED_SHARE = 0.005  # an area whose shape changed by more than 0.5 % counts as changed
MAX_NAME_CHARS = 100
DECIMALS = 6
RESERVED_NAMES = (OTHER_AREA, KOMMUN_LEVEL_AREA)
FROZEN_NOTE = (
    "Veckor som redan är byggda är frysta och behåller sina områden, sina siffror och sin "
    "karta. Rapporter som redan tagits emot behåller det område de placerades i; nya "
    "rapporter placeras i de nya områdena så snart tjänsterna läst in filen (inom några "
    "sekunder). Ett nytt eller omdöpt område har ingen historik: dess jämförelser med "
    "tidigare veckor börjar om."
)


class ImportRefused(ValueError):
    """The file cannot be used; `problems` says why, one Swedish line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Change:
    name: str
    kind: str  # "tillagt", "borttaget", "ändrat"
    detail: str = ""


@dataclass
class ImportResult:
    kommun: str
    kommun_name: str
    source_crs: str
    areas: list[str]
    repaired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    written: Path | None = None
    previous_saved: Path | None = None
    dry_run: bool = False

    def lines(self) -> list[str]:
        """What happened, in Swedish, for the terminal."""
        out = [
            f"{len(self.areas)} områden för {self.kommun_name} ({self.kommun}) "
            f"från {self.source_crs}."
        ]
        out += [f"  reparerat: {r}" for r in self.repaired]
        out += [f"  varning: {w}" for w in self.warnings]
        if self.changes:
            out.append("Ändringar mot den nuvarande områdesfilen:")
            out += [
                f"  {c.kind}: {c.name}{f' ({c.detail})' if c.detail else ''}" for c in self.changes
            ]
            out.append(f"  oförändrade: {self.unchanged}")
        elif self.unchanged:
            out.append(f"Inga ändringar mot den nuvarande områdesfilen ({self.unchanged} områden).")
        if self.dry_run:
            out.append("Provkörning (--dry-run): inget skrevs.")
        elif self.written is not None:
            out.append(f"Skrev {self.written}.")
            if self.previous_saved is not None:
                out.append(f"Den tidigare versionen sparades som {self.previous_saved}.")
            out.append(FROZEN_NOTE)
        else:
            out.append("Filen var redan sådan: inget skrevs.")
        return out


def area_file_path(areas_dir: Path, kommun: str) -> Path:
    return areas_dir / f"{kommun}.geojson"


def current_areas(areas_dir: Path, kommun: str, name_property: str = "name") -> KommunAreas | None:
    """The area file in force for a kommun: the areas dir's, else the packaged one."""
    for path in (area_file_path(areas_dir, kommun), area_file_path(PACKAGED_AREAS_DIR, kommun)):
        if path.is_file():
            return load_area_file(path, name_property)
    return None


def import_areas(
    path: Path,
    *,
    kommun: str,
    name_field: str,
    areas_dir: Path,
    crs: str | None = None,
    layer: str | None = None,
    name_property: str = "name",
    repair: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Check the file and (unless `dry_run`) write the kommun's area file.

    Raises GeoFileError when the file cannot be read, ImportRefused when it can but must not
    be used."""
    before = current_areas(areas_dir, kommun, name_property)
    if before is not None:
        base_boundary, kommun_name = before.boundary, before.kommun_name
    elif kommun in national_kommuner():
        national = boundary_only(kommun)
        base_boundary, kommun_name = national.boundary, national.kommun_name
    else:
        raise ImportRefused(
            [f"Kommunkoden {kommun!r} finns inte bland Sveriges 290 kommuner (t.ex. 0586)."]
        )
    source = read_layer(path, layer)
    source_crs = _source_crs(source, crs)
    named = _named_polygons(source, name_field, repair)
    problems, repaired = named.problems, named.repaired
    if not named.areas and not problems:
        problems.append(f"{path.name} innehåller inga områden.")
    if problems:
        raise ImportRefused(problems)

    to_wgs84 = transformer(source_crs, WGS84)
    wgs = {name: to_wgs84(g) for name, g in named.areas.items()}
    _check_place(wgs, named.areas, source_crs, kommun, kommun_name, base_boundary)
    to_metric = transformer(WGS84, METRIC)
    metric = {name: to_metric(g) for name, g in wgs.items()}
    boundary_m = to_metric(base_boundary)
    warnings: list[str] = []
    problems += _overlaps(metric, warnings)
    problems += _outside(metric, boundary_m, kommun_name, warnings)
    if problems:
        raise ImportRefused(problems)

    rounded = {name: _round(g) for name, g in wgs.items()}
    boundary = _round(_widened(base_boundary, list(rounded.values())))
    collection = _collection(kommun, kommun_name, boundary, rounded, name_property)
    changes, unchanged = _changes(before, metric, to_metric)
    result = ImportResult(
        kommun=kommun,
        kommun_name=kommun_name,
        source_crs=crs_label(source_crs),
        areas=list(rounded),
        repaired=repaired,
        warnings=warnings,
        changes=changes,
        unchanged=unchanged,
        dry_run=dry_run,
    )
    if dry_run:
        return result
    result.written, result.previous_saved = _write(areas_dir, kommun, collection, now)
    return result


@dataclass
class _Named:
    areas: dict[str, BaseGeometry]
    problems: list[str]
    repaired: list[str]


def _source_crs(source: SourceLayer, option: str | None) -> CRS:
    if option:
        return parse_crs(option)
    if source.crs is None:
        raise GeoFileError(
            f"{source.path.name} anger inget koordinatsystem (för en Shapefile: ingen .prj-fil). "
            "Ange det med --crs, t.ex. --crs EPSG:3006 (SWEREF 99 TM)."
        )
    crs = parse_crs(source.crs)
    geometries = [f.geometry for f in source.features if f.geometry is not None]
    if crs.is_geographic and not looks_geographic(geometries):
        raise GeoFileError(
            f"{source.path.name} säger sig vara i {crs_label(crs)} (grader) men koordinaterna "
            "är för stora för grader: troligen meter, t.ex. SWEREF 99 TM. GeoJSON utan "
            "'crs' räknas som WGS 84; ange det rätta med --crs, t.ex. --crs EPSG:3006."
        )
    return crs


def _named_polygons(source: SourceLayer, name_field: str, repair: bool) -> _Named:
    if name_field not in source.fields:
        raise GeoFileError(
            f"{source.path.name} har inget fält {name_field!r}. Fälten är: "
            f"{', '.join(source.fields) or '(inga)'}. Ange namnfältet med --name-field."
        )
    areas: dict[str, BaseGeometry] = {}
    problems: list[str] = []
    repaired: list[str] = []
    numbers: dict[str, list[int]] = {}
    for feature in source.features:
        raw = feature.properties.get(name_field)
        name = " ".join(str(raw).split()) if raw is not None else ""
        label = f"{name!r} (rad {feature.number})" if name else f"rad {feature.number}"
        if not name:
            problems.append(f"Område på rad {feature.number} saknar namn i fältet {name_field!r}.")
            continue
        numbers.setdefault(name, []).append(feature.number)
        if name in RESERVED_NAMES:
            problems.append(f"Området {label} har ett namn som lägesbilden själv använder.")
            continue
        if len(name) > MAX_NAME_CHARS:
            problems.append(f"Namnet på rad {feature.number} är längre än {MAX_NAME_CHARS} tecken.")
            continue
        geometry = feature.geometry
        if geometry is None:
            problems.append(f"Området {label} saknar geometri.")
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"Området {label} är en {geometry.geom_type}, inte en yta (Polygon).")
            continue
        if not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            fixed = _polygonal(shapely.make_valid(geometry))
            if not repair or fixed is None:
                what = "kan inte repareras" if repair else "reparera den i GIS-verktyget"
                problems.append(f"Området {label} är ogiltigt ({_reason_sv(reason)}): {what}.")
                continue
            repaired.append(f"{name}: {_reason_sv(reason)}")
            geometry = fixed
        areas[name] = geometry
    for name, rows in numbers.items():
        if len(rows) > 1:
            problems.append(
                f"Namnet {name!r} finns på flera rader ({', '.join(map(str, rows))}): "
                "varje område behöver ett eget namn (slå ihop delarna i GIS-verktyget)."
            )
    return _Named(areas, problems, repaired)


def _reason_sv(reason: str) -> str:
    if reason.startswith(("Self-intersection", "Ring Self-intersection")):
        return "självkorsande kant"
    if reason.startswith("Too few points"):
        return "för få hörn"
    if reason.startswith("Hole lies outside shell"):
        return "hål utanför ytan"
    if reason.startswith("Nested shells"):
        return "ytor i varandra"
    return reason


def _polygonal(geometry: BaseGeometry) -> BaseGeometry | None:
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry if not geometry.is_empty else None
    parts = [
        g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    merged = unary_union(parts) if parts else None
    return merged if merged is not None and not merged.is_empty else None


def _check_place(
    wgs: dict[str, BaseGeometry],
    raw: dict[str, BaseGeometry],
    source_crs: CRS,
    kommun: str,
    kommun_name: str,
    boundary: BaseGeometry,
) -> None:
    """Refuse a coordinate system that puts the areas somewhere else, and suggest one."""
    # Some areas inside is a matter for the per-area check; none inside is the wrong place.
    points = [g.representative_point() for g in wgs.values()]
    if any(_near(boundary, p.y, p.x) for p in points):
        return
    point = points[0]
    found = kommun_of_point(point.y, point.x)
    where = (
        f"i {national_kommuner()[found].name} ({found})"
        if found
        else f"utanför Sverige (kring {point.y:.3f}, {point.x:.3f})"
    )
    raw_point = next(iter(raw.values())).representative_point()
    fits = []
    for candidate in LIKELY_CRS:
        if CRS.from_user_input(candidate) == source_crs:
            continue
        try:
            p = transformer(candidate, WGS84)(raw_point)
        except Exception:
            continue
        if p.is_valid and not p.is_empty and _near(boundary, p.y, p.x):
            fits.append(crs_label(candidate))
    hint = (
        (" Är kommunkoden rätt?" if found else "")
        + f" Med {' eller '.join(fits[:3])} hamnar de inom {kommun_name}: ange i så fall --crs."
        if fits
        else " Kontrollera koordinatsystemet (--crs) och kommunkoden."
    )
    raise ImportRefused(
        [
            f"Med {crs_label(source_crs)} hamnar områdena {where}, inte i {kommun_name} "
            f"({kommun}).{hint}"
        ]
    )


def _near(boundary: BaseGeometry, lat: float, lon: float) -> bool:
    if shapely.intersects_xy(boundary, lon, lat):
        return True
    slack_deg = BOUNDARY_SLACK_M / 111_320.0 * 2  # generous: longitude degrees are shorter
    return bool(boundary.distance(shapely.Point(lon, lat)) <= slack_deg)


def _overlaps(metric: dict[str, BaseGeometry], warnings: list[str]) -> list[str]:
    names = list(metric)
    geoms = [metric[n] for n in names]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    problems = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = geoms[i].intersection(geoms[j]).area
        if shared <= 1.0:  # touching borders and rounding
            continue
        smaller = min(geoms[i].area, geoms[j].area)
        text = f"{names[i]!r} och {names[j]!r} överlappar med {_m2(shared)}"
        if shared > OVERLAP_SHARE * smaller:
            problems.append(
                f"{text} ({100 * shared / smaller:.0f} % av det mindre): rätta gränsen så att "
                "varje plats hör till ett område."
            )
        else:
            warnings.append(f"{text}; en rapport där räknas till {names[i]!r}.")
    return problems


def _outside(
    metric: dict[str, BaseGeometry],
    boundary: BaseGeometry,
    kommun_name: str,
    warnings: list[str],
) -> list[str]:
    widened = boundary.buffer(BOUNDARY_SLACK_M)
    problems = []
    for name, geometry in metric.items():
        outside = geometry.difference(widened).area
        if outside <= 1.0:
            continue
        share = outside / geometry.area
        text = f"{name!r} ligger till {100 * share:.0f} % ({_m2(outside)}) utanför {kommun_name}"
        if share > OUTSIDE_SHARE:
            problems.append(f"{text}: fel kommun, eller ett område som ska klippas?")
        else:
            warnings.append(f"{text}; kommungränsen vidgas så att hela området räknas.")
    return problems


def _widened(base: BaseGeometry, areas: list[BaseGeometry]) -> BaseGeometry:
    """The boundary grown to hold the areas (the packaged boundaries are simplified), but not
    beyond its bounding box: the hotspot grid is anchored there, and its cells must stay the
    same cells from week to week (services/aggregate/hotspot_grid.py)."""
    grown = unary_union([base, *areas]).intersection(box(*base.bounds))
    return _polygonal(grown) or base


def _m2(area: float) -> str:
    return f"{area / 1e6:.2f} km²" if area >= 100_000 else f"{area:.0f} m²"


def _round(geometry: BaseGeometry) -> BaseGeometry:
    rounded = shapely.set_precision(geometry, 10**-DECIMALS)
    return rounded if rounded.is_valid else shapely.make_valid(rounded)


def _collection(
    kommun: str,
    kommun_name: str,
    boundary: BaseGeometry,
    areas: dict[str, BaseGeometry],
    name_property: str,
) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "properties": {"kind": "kommun", name_property: kommun_name},
            "geometry": mapping(boundary),
        }
    ]
    features += [
        {
            "type": "Feature",
            "properties": {"kind": "area", name_property: name},
            "geometry": mapping(geometry),
        }
        for name, geometry in sorted(areas.items())
    ]
    return {
        "type": "FeatureCollection",
        "kommun": kommun,
        "kommun_name": kommun_name,
        "features": features,
    }


def _changes(
    before: KommunAreas | None, metric: dict[str, BaseGeometry], to_metric: Any
) -> tuple[list[Change], int]:
    if before is None:
        return [Change(name, "tillagt") for name in sorted(metric)], 0
    old = {a.name: to_metric(a.geometry) for a in before.areas}
    changes = [Change(n, "tillagt") for n in sorted(set(metric) - set(old))]
    changes += [Change(n, "borttaget") for n in sorted(set(old) - set(metric))]
    unchanged = 0
    for name in sorted(set(old) & set(metric)):
        moved = old[name].symmetric_difference(metric[name]).area
        largest = max(old[name].area, metric[name].area)
        if moved > CHANGED_SHARE * largest:
            changes.append(Change(name, "ändrat", f"{100 * moved / largest:.0f} % av ytan flyttad"))
        else:
            unchanged += 1
    return changes, unchanged


def _write(
    areas_dir: Path, kommun: str, collection: dict[str, Any], now: datetime | None
) -> tuple[Path | None, Path | None]:
    target = area_file_path(areas_dir, kommun)
    text = json.dumps(collection, ensure_ascii=False, indent=1) + "\n"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return None, None
    areas_dir.mkdir(parents=True, exist_ok=True)
    saved = None
    if target.is_file():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        saved = areas_dir / "previous" / f"{kommun}.{stamp}.geojson"
        saved.parent.mkdir(exist_ok=True)
        saved.write_bytes(target.read_bytes())
    tmp = target.with_suffix(".geojson.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)  # a service reading the file sees the old or the new one
    return target, saved
