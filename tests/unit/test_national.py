"""All 290 kommuner out of the box: the packaged boundaries, names and län."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.areas import OTHER_AREA, parse_area_collection
from shared.national import (
    NATIONAL_FILE,
    boundary_only,
    derive_national_file,
    dump_national_file,
    kommun_code_for_name,
    kommun_of_point,
    national_kommuner,
)

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "areas"


def test_every_kommun_is_packaged_with_a_valid_boundary() -> None:
    kommuner = national_kommuner()
    assert len(kommuner) == 290
    assert len({k.lan_code for k in kommuner.values()}) == 21  # Sweden's 21 län
    for code, kommun in kommuner.items():
        assert kommun.boundary.is_valid, code
        assert kommun.boundary.geom_type in ("Polygon", "MultiPolygon"), code
        # Usable as an area file of its own, as `kommun add` uses it.
        parse_area_collection(boundary_only(code).geojson)
    assert (kommuner["0586"].name, kommuner["0586"].lan_name) == ("Mjölby", "Östergötlands län")
    assert kommuner["0484"].name == "Eskilstuna"


def test_points_find_their_kommun() -> None:
    assert kommun_of_point(58.4108, 15.6214) == "0580"  # Linköping, Stora torget
    assert kommun_of_point(58.3243, 15.1296) == "0586"  # Mjölby, Gallerian (plans/mjolby.toml)
    assert kommun_of_point(59.3706, 16.5077) == "0484"  # Eskilstuna, Fristadstorget
    assert kommun_of_point(55.6050, 13.0038) == "1280"  # Malmö
    assert kommun_of_point(52.52, 13.40) is None  # Berlin
    assert kommun_code_for_name("mjölby kommun") == "0586"
    assert kommun_code_for_name("Atlantis") is None


def test_a_kommun_without_areas_counts_everything_in_ovriga_kommunen() -> None:
    mjolby = boundary_only("0586", "Mjölby kommun")
    assert mjolby.kommun_name == "Mjölby kommun" and mjolby.areas == ()
    assert mjolby.contains(58.3243, 15.1296)
    assert mjolby.area_of(58.3243, 15.1296) == OTHER_AREA
    assert not mjolby.contains(58.4108, 15.6214)  # Linköping


def test_packaged_file_is_derived_from_the_raw_data() -> None:
    """tools/build_kommuner.py regenerates the file from ../shared byte for byte."""
    raw, codes = RAW / "sweden_kommuner.geojson", RAW / "kommuner_codes.csv"
    if not raw.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the raw kommun data: {raw} is missing")
        pytest.skip(f"{raw} is absent (the raw data beside the checkout)")
    derived = dump_national_file(
        derive_national_file(raw.read_text(encoding="utf-8"), codes.read_text(encoding="utf-8"))
    )
    assert derived == NATIONAL_FILE.read_text(encoding="utf-8")
    assert NATIONAL_FILE.stat().st_size < 500_000  # simplified, not the raw copy
