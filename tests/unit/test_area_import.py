"""`lagesbild areas import`: a municipality's GIS file in three formats and several
coordinate systems into our area format, with the repair and refusal cases.

Fixture files are written here with pyogrio (GDAL), as a GIS tool would write them: a
GeoJSON in WGS 84, a GeoPackage in SWEREF 99 TM (EPSG:3006), a Shapefile with its .prj in
the local zone SWEREF 99 15 00 (EPSG:3009) and one without a .prj. The areas are squares
around a point inside Mjölby (0586) in metres; each format holds the same areas, so the
results must agree to the centimetre.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from shared.area_import import (
    FROZEN_NOTE,
    ImportRefused,
    area_file_path,
    import_areas,
)
from shared.areas import OTHER_AREA, load_area_file
from shared.geodata import GeoFileError, transformer
from shared.national import national_kommuner

KOMMUN = "0586"  # Mjölby
CENTRE = transformer("EPSG:4326", "EPSG:3006")(
    national_kommuner()[KOMMUN].boundary.representative_point()
)
X, Y = CENTRE.x, CENTRE.y


def squares() -> dict[str, BaseGeometry]:
    """Three 1 km squares meeting at the centre point (SWEREF 99 TM metres)."""
    return {
        "Centrum": box(X - 1000, Y - 1000, X, Y),
        "Väster": box(X, Y - 1000, X + 1000, Y),
        "Norr": box(X - 1000, Y, X, Y + 1000),
    }


def write(
    path: Path,
    areas: dict[str, BaseGeometry],
    *,
    crs: str | None = "EPSG:3006",
    from_crs: str = "EPSG:3006",
    field: str = "NAMN",
    names: list[str | None] | None = None,
) -> Path:
    """A GIS file with one name field, reprojected from `from_crs` to `crs` when given."""
    driver = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}[path.suffix]
    project = transformer(from_crs, crs) if crs and crs != from_crs else (lambda g: g)
    geoms = [project(g) for g in areas.values()]
    labels = np.array(names if names is not None else list(areas), dtype=object)
    with warnings.catch_warnings():  # without crs GDAL warns, as a GIS tool's export would not
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.raw.write(
            path,
            shapely.to_wkb(geoms),
            [labels],
            [field],
            driver=driver,
            geometry_type="Unknown" if driver == "GeoJSON" else "Polygon",
            crs=crs,
        )
    if crs is None and path.suffix == ".shp":
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def centre_of(area_file: Path, name: str) -> tuple[float, float]:
    areas = load_area_file(area_file)
    geometry = next(a.geometry for a in areas.areas if a.name == name)
    c = transformer("EPSG:4326", "EPSG:3006")(geometry.centroid)
    return c.x, c.y


# --- three formats, several coordinate systems ------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "crs"),
    [
        ("omraden.geojson", "EPSG:4326"),  # GeoJSON as RFC 7946 has it
        ("omraden.gpkg", "EPSG:3006"),  # SWEREF 99 TM
        ("omraden.shp", "EPSG:3009"),  # a local zone, SWEREF 99 15 00, with .prj
        ("omraden_3010.gpkg", "EPSG:3010"),  # SWEREF 99 16 30
    ],
)
def test_each_format_and_crs_gives_the_same_areas(tmp_path: Path, filename: str, crs: str) -> None:
    source = write(tmp_path / filename.replace("_3010", ""), squares(), crs=crs)
    result = import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")

    written = area_file_path(tmp_path / "areas", KOMMUN)
    assert result.written == written and result.source_crs.startswith(crs)
    areas = load_area_file(written)
    assert (areas.kommun, areas.kommun_name) == (KOMMUN, "Mjölby")
    assert sorted(a.name for a in areas.areas) == ["Centrum", "Norr", "Väster"]
    # Back in SWEREF 99 TM, each square is where it was drawn (rounding: 6 decimals ≈ 0.1 m).
    cx, cy = centre_of(written, "Centrum")
    assert abs(cx - (X - 500)) < 0.5 and abs(cy - (Y - 500)) < 0.5
    # Reports are placed by the new areas; the rest of the kommun is "Övriga kommunen".
    lat_lon = transformer("EPSG:3006", "EPSG:4326")(shapely.Point(X + 500, Y - 500))
    assert areas.area_of(lat_lon.y, lat_lon.x) == "Väster"
    far = transformer("EPSG:3006", "EPSG:4326")(shapely.Point(X + 5000, Y + 5000))
    assert areas.contains(far.y, far.x) and areas.area_of(far.y, far.x) == OTHER_AREA
    assert [c.kind for c in result.changes] == ["tillagt"] * 3


def test_shapefile_without_prj_needs_crs_and_then_reads(tmp_path: Path) -> None:
    source = write(tmp_path / "utan.shp", squares(), crs=None)
    write(tmp_path / "tmp.shp", squares(), crs="EPSG:3006")  # same coordinates, for reference
    assert not source.with_suffix(".prj").exists()
    with pytest.raises(GeoFileError, match=r"inget koordinatsystem .*--crs"):
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    result = import_areas(
        source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas", crs="EPSG:3006"
    )
    assert len(result.areas) == 3


def test_geojson_in_metres_without_crs_is_explained(tmp_path: Path) -> None:
    # A GeoJSON exported in SWEREF 99 TM without a crs member: GDAL reads it as WGS 84.
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"namn": name},
                "geometry": shapely.geometry.mapping(geometry),
            }
            for name, geometry in squares().items()
        ],
    }
    source = tmp_path / "meter.geojson"
    source.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GeoFileError, match=r"troligen meter.*--crs EPSG:3006"):
        import_areas(source, kommun=KOMMUN, name_field="namn", areas_dir=tmp_path / "areas")
    result = import_areas(
        source, kommun=KOMMUN, name_field="namn", areas_dir=tmp_path / "areas", crs="EPSG:3006"
    )
    assert sorted(result.areas) == ["Centrum", "Norr", "Väster"]


def test_unknown_name_field_lists_the_fields(tmp_path: Path) -> None:
    source = write(tmp_path / "a.gpkg", squares(), field="OMRNAMN")
    with pytest.raises(GeoFileError, match=r"inget fält 'NAMN'.*OMRNAMN"):
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")


# --- repair and refusal -----------------------------------------------------------------------


def bowtie() -> Polygon:
    """A self-intersecting ring, as a slip of the mouse makes one."""
    return Polygon(
        [(X + 2000, Y + 2000), (X + 3000, Y + 3000), (X + 3000, Y + 2000), (X + 2000, Y + 3000)]
    )


def test_self_intersecting_area_is_repaired_and_named(tmp_path: Path) -> None:
    areas = {**squares(), "Fjärilen": bowtie()}
    source = write(tmp_path / "a.gpkg", areas)
    result = import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    assert result.repaired == ["Fjärilen: självkorsande kant"]
    repaired = next(
        a for a in load_area_file(result.written or Path()).areas if a.name == "Fjärilen"
    )
    assert repaired.geometry.is_valid and repaired.geometry.geom_type == "MultiPolygon"


def test_self_intersecting_area_is_refused_without_repair(tmp_path: Path) -> None:
    source = write(tmp_path / "a.gpkg", {**squares(), "Fjärilen": bowtie()})
    with pytest.raises(ImportRefused) as refused:
        import_areas(
            source,
            kommun=KOMMUN,
            name_field="NAMN",
            areas_dir=tmp_path / "areas",
            repair=False,
        )
    assert refused.value.problems == [
        "Området 'Fjärilen' (rad 4) är ogiltigt (självkorsande kant): reparera den i GIS-verktyget."
    ]
    assert not area_file_path(tmp_path / "areas", KOMMUN).exists()


def test_overlapping_areas_are_refused_by_name(tmp_path: Path) -> None:
    areas = squares()
    areas["Väster"] = box(X - 400, Y - 1000, X + 1000, Y)  # 400 m into Centrum
    source = write(tmp_path / "a.gpkg", areas)
    with pytest.raises(ImportRefused) as refused:
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    (problem,) = refused.value.problems
    assert "'Centrum' och 'Väster' överlappar med 0.40 km² (40 % av det mindre)" in problem


def test_a_sliver_of_overlap_is_only_a_warning(tmp_path: Path) -> None:
    areas = squares()
    areas["Väster"] = box(X - 2, Y - 1000, X + 1000, Y)  # 2 m: a digitising slip
    source = write(tmp_path / "a.gpkg", areas)
    result = import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    assert result.warnings == [
        "'Centrum' och 'Väster' överlappar med 2000 m²; en rapport där räknas till 'Centrum'."
    ]


def test_area_outside_the_kommun_is_refused(tmp_path: Path) -> None:
    boundary = transformer("EPSG:4326", "EPSG:3006")(national_kommuner()[KOMMUN].boundary)
    maxx = boundary.bounds[2]
    areas = {**squares(), "Grannen": box(maxx + 3000, Y, maxx + 5000, Y + 2000)}
    source = write(tmp_path / "a.gpkg", areas)
    with pytest.raises(ImportRefused) as refused:
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    (problem,) = refused.value.problems
    assert problem.startswith("'Grannen' ligger till 100 % (4.00 km²) utanför Mjölby")


def test_duplicate_and_missing_names_are_all_reported(tmp_path: Path) -> None:
    areas = {"a": squares()["Centrum"], "b": squares()["Väster"], "c": squares()["Norr"]}
    source = write(tmp_path / "a.gpkg", areas, names=["Centrum", "Centrum", None])
    with pytest.raises(ImportRefused) as refused:
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")
    assert refused.value.problems == [
        "Område på rad 3 saknar namn i fältet 'NAMN'.",
        "Namnet 'Centrum' finns på flera rader (1, 2): varje område behöver ett eget namn "
        "(slå ihop delarna i GIS-verktyget).",
    ]


def test_reserved_name_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "a.gpkg", squares(), names=["Centrum", OTHER_AREA, "Norr"])
    with pytest.raises(ImportRefused, match="namn som lägesbilden själv använder"):
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")


def test_wrong_crs_names_the_kommun_the_areas_land_in_and_the_right_crs(tmp_path: Path) -> None:
    # Written in SWEREF 99 16 30 but declared as SWEREF 99 TM (a wrong .prj / --crs).
    source = write(tmp_path / "a.gpkg", squares(), crs="EPSG:3010")
    with pytest.raises(ImportRefused) as refused:
        import_areas(
            source,
            kommun=KOMMUN,
            name_field="NAMN",
            areas_dir=tmp_path / "areas",
            crs="EPSG:3006",
        )
    (problem,) = refused.value.problems
    assert problem.startswith("Med EPSG:3006 (SWEREF99 TM) hamnar områdena ")
    assert "inte i Mjölby (0586)" in problem and "EPSG:3010 (SWEREF99 16 30)" in problem


def test_right_file_wrong_kommun_says_where_the_areas_are(tmp_path: Path) -> None:
    source = write(tmp_path / "a.gpkg", squares())
    with pytest.raises(ImportRefused) as refused:
        import_areas(source, kommun="0580", name_field="NAMN", areas_dir=tmp_path / "areas")
    assert "hamnar områdena i Mjölby (0586), inte i Linköping (0580)" in str(refused.value)


def test_points_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "p.gpkg"
    pyogrio.raw.write(
        source,
        shapely.to_wkb([shapely.Point(X, Y)]),
        [np.array(["Torget"], dtype=object)],
        ["NAMN"],
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:3006",
    )
    with pytest.raises(ImportRefused, match=r"'Torget' \(rad 1\) är en Point, inte en yta"):
        import_areas(source, kommun=KOMMUN, name_field="NAMN", areas_dir=tmp_path / "areas")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.kml").write_text("<kml/>", encoding="utf-8")
    with pytest.raises(GeoFileError, match=r"okänt filformat '\.kml'"):
        import_areas(tmp_path / "a.kml", kommun=KOMMUN, name_field="N", areas_dir=tmp_path)
    with pytest.raises(GeoFileError, match="finns inte"):
        import_areas(tmp_path / "nej.gpkg", kommun=KOMMUN, name_field="N", areas_dir=tmp_path)


# --- a re-import: what changed, the previous version kept, frozen weeks -----------------------


def test_reimport_reports_changes_and_keeps_the_previous_version(tmp_path: Path) -> None:
    areas_dir = tmp_path / "areas"
    first = write(tmp_path / "v1.gpkg", squares())
    import_areas(first, kommun=KOMMUN, name_field="NAMN", areas_dir=areas_dir)
    original = area_file_path(areas_dir, KOMMUN).read_text(encoding="utf-8")

    changed = squares()
    del changed["Norr"]  # removed
    changed["Väster"] = box(X, Y - 1000, X + 1500, Y)  # moved: half as large again
    changed["Söder"] = box(X - 1000, Y - 2000, X, Y - 1000)  # added
    second = write(tmp_path / "v2.gpkg", changed)

    dry = import_areas(second, kommun=KOMMUN, name_field="NAMN", areas_dir=areas_dir, dry_run=True)
    assert dry.written is None and not (areas_dir / "previous").exists()
    assert area_file_path(areas_dir, KOMMUN).read_text(encoding="utf-8") == original

    result = import_areas(second, kommun=KOMMUN, name_field="NAMN", areas_dir=areas_dir)
    assert [(c.kind, c.name) for c in result.changes] == [
        ("tillagt", "Söder"),
        ("borttaget", "Norr"),
        ("ändrat", "Väster"),
    ]
    assert result.changes[2].detail == "33 % av ytan flyttad"
    assert result.unchanged == 1
    assert result.previous_saved is not None
    assert result.previous_saved.read_text(encoding="utf-8") == original
    assert result.previous_saved.parent == areas_dir / "previous"
    text = "\n".join(result.lines())
    assert "borttaget: Norr" in text and FROZEN_NOTE in text
    assert "frysta och behåller sina områden" in FROZEN_NOTE
