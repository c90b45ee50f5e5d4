"""Week map, summary and index rendering (services/maps/render.py, offline.py)."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.maps.offline import OfflineAssetError, localize_html, remote_asset_urls
from services.maps.render import (
    format_time_sv,
    install_assets,
    render_index,
    render_week_map,
    week_summary,
)
from shared.areas import OTHER_AREA, KommunAreas, parse_area_collection
from shared.categories import DEFAULT_CATEGORIES, Source
from shared.contracts import AreaCount, IncidentPoint, WeekSnapshotV1

# A 4 x 3 km kommun with three named areas; the east strip is "Övriga kommunen".
WEST, EAST, SOUTH, NORTH = 15.55, 15.70, 58.38, 58.44
AREA_BOXES = {
    "Centrum": (15.55, 58.38, 15.60, 58.41),
    "Norr": (15.55, 58.41, 15.60, 58.44),
    "Ryd & <Lambohov>": (15.60, 58.38, 15.65, 58.44),
}
ISO_WEEK, PREVIOUS_WEEK = "2026-W47", "2026-W46"
WEEK_START = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # Monday 16 Nov 00:00 Stockholm


def _box(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_areas() -> KommunAreas:
    features = [
        {
            "type": "Feature",
            "properties": {"kind": "kommun"},
            "geometry": _box(WEST, SOUTH, EAST, NORTH),
        }
    ]
    for name, box in AREA_BOXES.items():
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "area", "name": name},
                "geometry": _box(*box),
            }
        )
    collection = {
        "type": "FeatureCollection",
        "kommun": "0580",
        "kommun_name": "Testköping",
        "features": features,
    }
    return parse_area_collection(collection)


def incident(
    key: str,
    category: str,
    area: str,
    lat: float,
    lon: float,
    *,
    hours: float = 12.0,
    description: str = "",
    source: Source = Source.VAKTARE,
    precision: str = "exact",
) -> IncidentPoint:
    return IncidentPoint(
        key=key,
        category=category,
        source=source,
        occurred_at=WEEK_START + timedelta(hours=hours),
        area=area,
        lat=lat,
        lon=lon,
        location_precision=precision,
        description=description,
    )


def make_snapshot(
    incidents: list[IncidentPoint], cells: list[AreaCount] | None = None
) -> WeekSnapshotV1:
    if cells is None:  # derive this week's counts from the incidents
        counts: dict[tuple[str, str], int] = {}
        for i in incidents:
            counts[(i.area, i.category)] = counts.get((i.area, i.category), 0) + 1
        cells = [
            AreaCount(area=a, category=c, count=n, previous=0)
            for (a, c), n in sorted(counts.items())
        ]
    return WeekSnapshotV1(
        kommun="0580",
        kommun_name="Testköping",
        iso_week=ISO_WEEK,
        previous_week=PREVIOUS_WEEK,
        revision=2,
        content_hash="abc123",
        built_at=datetime(2026, 11, 23, 5, 0, tzinfo=UTC),
        categories=dict(DEFAULT_CATEGORIES),
        areas=[*AREA_BOXES, OTHER_AREA],
        cells=cells,
        incidents=incidents,
    )


def small_snapshot() -> WeekSnapshotV1:
    """Known answers: Centrum 5 (prev 2), Norr 1 (prev 4), Ryd 0 (prev 1), Övriga 1."""
    cells = [
        AreaCount(area="Centrum", category="klotter", count=3, previous=1),
        AreaCount(area="Centrum", category="skadegorelse", count=2, previous=1),
        AreaCount(area="Norr", category="klotter", count=1, previous=4),
        AreaCount(area="Ryd & <Lambohov>", category="ordningsstorning", count=0, previous=1),
        AreaCount(area=OTHER_AREA, category="ordningsstorning", count=1, previous=0),
    ]
    incidents = [
        incident(
            "a/1",
            "klotter",
            "Centrum",
            58.39,
            15.56,
            hours=4 * 24 + 22.25,
            description="Tagg på <b>busskur</b> & vägg",
        ),
        incident("a/2", "klotter", "Centrum", 58.395, 15.57),
        incident("a/3", "klotter", "Centrum", 58.40, 15.58),
        incident("a/4", "skadegorelse", "Centrum", 58.392, 15.575, description="Krossad ruta"),
        incident("a/5", "skadegorelse", "Centrum", 58.398, 15.565),
        incident("a/6", "klotter", "Norr", 58.43, 15.57),
        incident(
            "p/1",
            "ordningsstorning",
            OTHER_AREA,
            58.4123,
            15.6789,
            source=Source.POLIS,
            precision="centroid",
            description="Polisen: bråk i centrala stan",
        ),
    ]
    return make_snapshot(incidents, cells)


def big_snapshot(n: int = 10_000, seed: int = 7) -> WeekSnapshotV1:
    rng = random.Random(seed)
    codes = list(DEFAULT_CATEGORIES)
    names = list(AREA_BOXES)
    incidents = []
    for k in range(n):
        area = names[k % len(names)]
        west, south, east, north = AREA_BOXES[area]
        incidents.append(
            incident(
                f"org/{k}",
                codes[rng.randrange(len(codes))],
                area,
                rng.uniform(south, north),
                rng.uniform(west, east),
                hours=rng.uniform(0, 167.9),
                source=rng.choice(list(Source)),
                precision="centroid" if k % 50 == 0 else "exact",
                description=f"Rapport {k}: klotter på fasad vid busshållplatsen, anmält till ägare",
            )
        )
    return make_snapshot(incidents)


# --- summary --------------------------------------------------------------------


def test_summary_known_answers() -> None:
    summary = week_summary(small_snapshot())
    assert summary["kommun"] == "0580" and summary["kommun_name"] == "Testköping"
    assert summary["iso_week"] == ISO_WEEK and summary["previous_week"] == PREVIOUS_WEEK
    assert summary["revision"] == 2
    assert (summary["total"], summary["previous_total"], summary["change"]) == (7, 7, 0)
    areas = {a["area"]: a for a in summary["areas"]}
    assert [a["area"] for a in summary["areas"]] == [*AREA_BOXES, OTHER_AREA]
    assert (
        areas["Centrum"]["total"],
        areas["Centrum"]["previous"],
        areas["Centrum"]["change"],
    ) == (5, 2, 3)
    assert areas["Centrum"]["categories"] == {
        "klotter": {"count": 3, "previous": 1, "change": 2},
        "skadegorelse": {"count": 2, "previous": 1, "change": 1},
    }
    assert (areas["Norr"]["total"], areas["Norr"]["change"]) == (1, -3)
    assert (areas["Ryd & <Lambohov>"]["total"], areas["Ryd & <Lambohov>"]["previous"]) == (0, 1)
    cats = {c["category"]: c for c in summary["categories"]}
    assert cats["klotter"] == {
        "category": "klotter",
        "label": "Klotter",
        "count": 4,
        "previous": 5,
        "change": -1,
    }
    assert cats["skadegorelse"]["label"] == "Skadegörelse" and cats["skadegorelse"]["count"] == 2
    assert cats["brand"]["count"] == 0
    assert [c["category"] for c in summary["categories"]] == list(DEFAULT_CATEGORIES)
    assert summary["centroid_only"] == 1 and summary["incidents_mapped"] == 6
    json.dumps(summary)  # JSON-ready


def test_summary_is_deterministic() -> None:
    snapshot = small_snapshot()
    shuffled = snapshot.model_copy(update={"cells": list(reversed(snapshot.cells))})
    assert json.dumps(week_summary(snapshot)) == json.dumps(week_summary(shuffled))


def test_format_time_sv_uses_stockholm_time() -> None:
    assert format_time_sv(datetime(2026, 11, 20, 21, 15, tzinfo=UTC)) == "fre 20 nov 22:15"
    assert format_time_sv(datetime(2026, 7, 6, 6, 5, tzinfo=UTC)) == "mån 6 jul 08:05"


# --- index ------------------------------------------------------------------------


def test_index_lists_weeks_newest_first_with_links() -> None:
    page = render_index(
        [
            {
                "kommun": "0580",
                "kommun_name": "Linköping",
                "iso_week": "2026-W46",
                "revision": 1,
                "total": 12,
            },
            {
                "kommun": "0580",
                "kommun_name": "Linköping",
                "iso_week": "2026-W47",
                "revision": 3,
                "total": 40,
            },
            {
                "kommun": "0581",
                "kommun_name": "Norrköping <&>",
                "iso_week": "2026-W47",
                "revision": 1,
                "total": 9,
            },
        ]
    )
    assert "<h1>Lägesbilder</h1>" in page
    assert 'href="0580/2026-W47/karta.html"' in page
    assert 'href="0580/2026-W47/sammanfattning.json"' in page
    assert 'href="0581/2026-W47/karta.html"' in page
    assert page.index("0580/2026-W47/karta.html") < page.index("0580/2026-W46/karta.html")
    assert "Norrköping &lt;&amp;&gt;" in page and "Norrköping <&>" not in page
    assert ">40<" in page


def test_index_without_weeks() -> None:
    assert "Inga lägesbilder ännu" in render_index([])


# --- map ----------------------------------------------------------------------------


def js_text(text: str) -> str:
    """How folium embeds a string in a script (JSON, non-ASCII and <>&' as \\uXXXX)."""
    escaped = json.dumps(text)[1:-1]
    for char in "<>&'":
        escaped = escaped.replace(char, f"\\u{ord(char):04x}")
    return escaped


def _marker_data(page: str) -> str:
    """The JSON arrays handed to the FastMarkerCluster layers."""
    return "\n".join(re.findall(r"var data = (\[.*?\]);\n", page, flags=re.DOTALL))


@pytest.mark.parametrize("tiles", ["OpenStreetMap", None])
def test_map_has_layers_areas_and_title(tiles: str | None) -> None:
    page = render_week_map(small_snapshot(), make_areas(), tiles=tiles)
    assert page.startswith("<!DOCTYPE html>")
    for layer in (
        "Klotter (4)",
        "Skadegörelse (2)",
        "Täthet",
        "Rapporter per område",
        "Områdesnamn",
    ):
        assert js_text(layer) in page
    assert js_text("Ordningsstörning (") not in page  # its only incident is centroid-only
    for area in ("Centrum", "Norr", "Ryd &amp; &lt;Lambohov&gt;", OTHER_AREA):
        assert js_text(f"<b>{area}</b>") in page  # tooltip
    for area in ("Centrum", "Norr", "Ryd &amp; &lt;Lambohov&gt;"):
        assert js_text(f"<div>{area}</div>") in page  # permanent label
    assert "Ryd & <Lambohov>" not in page and js_text("Ryd & <Lambohov>") not in page
    assert "Antal rapporter vecka 2026-W47" in page
    assert js_text("+3 mot förra veckan") in page and js_text("−3 mot förra veckan") in page
    assert "Lägesbild Testköping" in page and "16–22 nov 2026" in page
    assert "Polisens händelser (kommunnivå): 1" in page
    assert '"maxZoom": 18' in page
    assert ("tile.openstreetmap.org" in page) == (tiles is not None)


def test_map_loads_no_remote_scripts_or_styles() -> None:
    page = render_week_map(small_snapshot(), make_areas(), asset_prefix="../../assets")
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    assert tags, "expected script and link tags"
    for tag in tags:
        assert not re.search(r"(src|href)=\"(https?:)?//", tag), tag
    assert remote_asset_urls(page) == []
    assert 'src="../../assets/leaflet.js"' in page
    assert 'src="../../assets/leaflet.markercluster.js"' in page
    assert 'src="../../assets/leaflet_heat.min.js"' in page
    assert 'href="../../assets/leaflet.css"' in page
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()


def test_every_referenced_asset_is_vendored(tmp_path: Path) -> None:
    page = render_week_map(small_snapshot(), make_areas(), asset_prefix="assets")
    assets = install_assets(tmp_path)
    assert assets == tmp_path / "assets"
    before = (assets / "leaflet.js").stat().st_mtime_ns
    assert install_assets(tmp_path) == assets  # idempotent: identical files are left alone
    assert (assets / "leaflet.js").stat().st_mtime_ns == before
    for ref in re.findall(r"(?:src|href)=\"assets/([^\"]+)\"", page):
        assert (assets / ref).is_file(), ref
    assert (assets / "images" / "layers.png").is_file()
    assert sorted(p.name for p in (assets / "licenses").iterdir()) == [
        "leaflet-LICENSE.txt",
        "leaflet.heat-LICENSE.txt",
        "leaflet.markercluster-MIT-LICENCE.txt",
        "simpleheat-LICENSE.txt",
    ]
    size = sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())
    assert size < 400_000


def test_localize_rejects_unknown_remote_urls() -> None:
    page = '<script src="https://cdn.example.org/mystery.js"></script>'
    with pytest.raises(OfflineAssetError, match=r"mystery\.js"):
        localize_html(page, "assets")
    dropped = localize_html(
        '<link rel="stylesheet" href="https://code.jquery.com/x/bootstrap.min.css"/>', "a"
    )
    assert dropped == ""


def test_custom_category_labels_are_escaped() -> None:
    snapshot = make_snapshot([incident("x/1", "egen", "Norr", 58.43, 15.57)])
    snapshot = snapshot.model_copy(
        update={"categories": {**snapshot.categories, "egen": "Egen <i>kategori</i> & mer"}}
    )
    page = render_week_map(snapshot, make_areas())
    assert js_text("Egen &lt;i&gt;kategori&lt;/i&gt; &amp; mer (1)") in page  # layer control
    # the raw label reaches the page once: as the popup's label, which esc() escapes on display
    assert page.count(js_text("<i>kategori</i>")) == 1
    assert f'popupOnClick("{js_text("Egen <i>kategori</i> & mer")}")' in page
    assert week_summary(snapshot)["categories"][-1]["label"] == "Egen <i>kategori</i> & mer"


def test_centroid_incidents_are_not_markers() -> None:
    page = render_week_map(small_snapshot(), make_areas())
    data = _marker_data(page)
    assert "58.4123" not in data and "15.6789" not in data
    assert "Polisen: bråk" not in page
    assert data.count("[58.") == 6


def test_popup_data_is_escaped_and_formatted() -> None:
    page = render_week_map(small_snapshot(), make_areas())
    data = _marker_data(page)
    assert "fre 20 nov 22:15" in data
    assert "<b>busskur</b>" not in page  # embedded as \u003c… and escaped again in the popup
    assert "\\u003cb\\u003ebusskur" in data
    assert 'lagesbild.popupOnClick("Klotter")' in page


def test_ten_thousand_incidents_render_small() -> None:
    page = render_week_map(big_snapshot(), make_areas(), tiles=None)
    assert len(page.encode()) < 2_000_000
    assert _marker_data(page).count("[58.") == 10_000 - 200
    assert "Polisens händelser (kommunnivå): 200" in page


def test_empty_week_renders() -> None:
    snapshot = make_snapshot([])
    page = render_week_map(snapshot, make_areas(), tiles=None)
    assert "L.markerClusterGroup" not in page and "L.heatLayer" not in page
    assert js_text("0 rapporter") in page
    assert "Polisens händelser" not in page
    summary = week_summary(snapshot)
    assert summary["total"] == 0 and summary["centroid_only"] == 0
    assert [a["total"] for a in summary["areas"]] == [0, 0, 0, 0]
