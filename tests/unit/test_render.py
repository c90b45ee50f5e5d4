"""Week map, summary and index rendering (services/maps/render.py, shared/web_assets.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.maps.render import (
    format_time_sv,
    install_assets,
    render_index,
    render_week_map,
    week_summary,
)
from shared.areas import OTHER_AREA
from shared.categories import DEFAULT_CATEGORIES
from shared.web_assets import OfflineAssetError, localize_html, remote_asset_urls
from tests.support.snapshots import (
    AREA_BOXES,
    ISO_WEEK,
    PREVIOUS_WEEK,
    big_snapshot,
    incident,
    js_text,
    make_areas,
    make_snapshot,
    small_snapshot,
)

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
        "duplicates": 0,
        "with_point": 4,
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
    # with the offset: a person reads Stockholm time and knows which
    assert format_time_sv(datetime(2026, 11, 20, 21, 15, tzinfo=UTC)) == "fre 20 nov 22:15 +01:00"
    assert format_time_sv(datetime(2026, 7, 6, 6, 5, tzinfo=UTC)) == "mån 6 jul 08:05 +02:00"


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
        "Händelser per område",
        "Områdesnamn",
    ):
        assert js_text(layer) in page
    assert js_text("Ordningsstörning (") not in page  # its only incident is centroid-only
    for area in ("Centrum", "Norr", "Ryd &amp; &lt;Lambohov&gt;", OTHER_AREA):
        assert js_text(f"<b>{area}</b>") in page  # tooltip
    for area in ("Centrum", "Norr", "Ryd &amp; &lt;Lambohov&gt;"):
        assert js_text(f'<span class="lb-area-name">{area}</span>') in page  # permanent label
    # The raw name only in the incident list's data block (JSON, shown via textContent).
    block = re.search(r'<script type="application/json" id="lb-omraden">(.*?)</script>', page)
    assert block and "Ryd & <Lambohov>" in json.loads(block.group(1))
    markup = page.replace(block.group(0), "")
    assert "Ryd & <Lambohov>" not in markup and js_text("Ryd & <Lambohov>") not in markup
    assert "Antal händelser vecka 47 (16–22 nov 2026)" in page
    assert js_text("+3 mot förra veckan") in page and js_text("−3 mot förra veckan") in page
    assert "Lägesbild Testköping" in page and "16–22 nov 2026" in page
    assert "Händelser utan plats (kommunnivå, t.ex. polisens): 1" in page
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
        if ref.startswith("../"):  # the statement link, which goes through the assets folder
            continue
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
    assert f'"label":"{js_text("Egen <i>kategori</i> & mer")}"' in page
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
    assert 'lagesbild.addCategory(cluster, {"code":"klotter","label":"Klotter"' in page


def test_ten_thousand_incidents_render_small() -> None:
    page = render_week_map(big_snapshot(), make_areas(), tiles=None)
    assert len(page.encode()) < 2_000_000
    assert _marker_data(page).count("[58.") == 10_000 - 200
    assert "Händelser utan plats (kommunnivå, t.ex. polisens): 200" in page


def test_empty_week_renders() -> None:
    snapshot = make_snapshot([])
    page = render_week_map(snapshot, make_areas(), tiles=None)
    assert "L.markerClusterGroup" not in page and "L.heatLayer" not in page
    assert js_text("0 händelser") in page
    assert "Händelser utan plats" not in page
    summary = week_summary(snapshot)
    assert summary["total"] == 0 and summary["centroid_only"] == 0
    assert [a["total"] for a in summary["areas"]] == [0, 0, 0, 0]
