"""Benchmark the week map: our page vs folium's plain MarkerCluster of folium.Marker.

Builds one synthetic 10,000-incident week (a town of 12 areas), renders it both ways
offline (``tiles=None``, vendored assets, network blocked) and prints, per method, the
Python build time, the HTML size and the time headless Chromium needs until the map is
ready (page load, markers or clusters in the DOM, two animation frames). Median of runs.

    .venv/bin/python bench/bench_map.py [--incidents 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import html
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import folium
from branca.element import Figure
from folium.plugins import MarkerCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.maps.render import format_time_sv, install_assets, render_week_map
from shared.areas import KommunAreas, parse_area_collection
from shared.categories import DEFAULT_CATEGORIES, SOURCE_LABELS, Source
from shared.contracts import (
    AreaCount,
    CellStatsV1,
    HotspotV1,
    IncidentPoint,
    PlanLinkV1,
    WeekSnapshotV1,
)
from shared.web_assets import localize_html

WEST, SOUTH, STEP = 15.55, 58.38, 0.02  # 4 x 3 areas of about 1 x 2 km
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _box(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def synthetic_areas() -> KommunAreas:
    boxes = {
        f"Område {row * 4 + col + 1}": (
            WEST + col * STEP,
            SOUTH + row * STEP,
            WEST + (col + 1) * STEP,
            SOUTH + (row + 1) * STEP,
        )
        for row in range(3)
        for col in range(4)
    }
    features = [
        {
            "type": "Feature",
            "properties": {"kind": "kommun"},
            "geometry": _box(WEST - 0.02, SOUTH - 0.02, WEST + 5 * STEP, SOUTH + 4 * STEP),
        }
    ]
    features += [
        {"type": "Feature", "properties": {"kind": "area", "name": name}, "geometry": _box(*b)}
        for name, b in boxes.items()
    ]
    data = {
        "type": "FeatureCollection",
        "kommun": "0580",
        "kommun_name": "Benchköping",
        "features": features,
    }
    return parse_area_collection(data)


def synthetic_week(areas: KommunAreas, n: int, seed: int = 1) -> WeekSnapshotV1:
    rng = random.Random(seed)
    start = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    codes, sources = list(DEFAULT_CATEGORIES), list(Source)
    incidents: list[IncidentPoint] = []
    counts: dict[tuple[str, str], int] = {}
    for k in range(n):
        area = areas.areas[rng.randrange(len(areas.areas))]
        west, south, east, north = area.geometry.bounds
        category = codes[min(int(rng.expovariate(0.35)), len(codes) - 1)]
        incidents.append(
            IncidentPoint(
                key=f"org/{k}",
                category=category,
                source=rng.choice(sources),
                occurred_at=start + timedelta(minutes=rng.uniform(0, 7 * 24 * 60 - 1)),
                area=area.name,
                lat=rng.uniform(south, north),
                lon=rng.uniform(west, east),
                location_precision="centroid" if k % 40 == 0 else "exact",
                description=f"Rapport {k}: {DEFAULT_CATEGORIES[category].lower()} vid hållplatsen",
            )
        )
        counts[(area.name, category)] = counts.get((area.name, category), 0) + 1
    cells = [
        AreaCount(area=a, category=c, count=v, previous=rng.randrange(0, v + 3))
        for (a, c), v in sorted(counts.items())
    ]
    return WeekSnapshotV1(
        **_analysis(areas, cells),
        kommun="0580",
        kommun_name="Benchköping",
        iso_week="2026-W47",
        previous_week="2026-W46",
        revision=1,
        content_hash="bench",
        built_at=start + timedelta(days=7, hours=6),
        categories=dict(DEFAULT_CATEGORIES),
        areas=[*areas.area_names],
        cells=cells,
        incidents=incidents,
    )


def _analysis(areas: KommunAreas, cells: list[AreaCount]) -> dict:
    """What the aggregate's analysis adds, so the map draws its hotspot and change layers
    and alert tooltips too: stats for every cell (every 7th unusual), one hotspot per area
    with a plan activity for every other one."""
    stats = [
        CellStatsV1(
            area=c.area,
            category=c.category,
            count=c.count,
            previous=c.previous,
            mean_8=c.previous + 0.5,
            mean_52=c.previous + 0.4,
            baseline_weeks=52,
            change_vs_previous=c.count - c.previous,
            ratio_vs_mean=c.count / (c.previous + 0.5),
            p_value=0.5,
            q_value=0.5,
            alert=k % 7 == 0,
            text=f"{c.count} ({c.count - c.previous:+d} mot förra veckan)",
        )
        for k, c in enumerate(cells)
    ]
    hotspots, links = [], []
    for k, area in enumerate(areas.areas):
        x, y = area.geometry.centroid.x, area.geometry.centroid.y
        ring = [[x - 0.003, y - 0.002], [x + 0.003, y - 0.002], [x + 0.003, y + 0.002],
                [x - 0.003, y + 0.002], [x - 0.003, y - 0.002]]  # fmt: skip
        name = f"{area.name}, centrala delen"
        hotspots.append(
            HotspotV1(
                name=name,
                areas=[area.name],
                polygon=[ring],
                centroid=(y, x),
                count=40 + k,
                previous=30,
                baseline_mean=28.0,
                categories={"klotter": 25, "stold": 15 + k},
                cells=6,
                score=3.0 + k,
                trend="ökar",
            )
        )
        if k % 2 == 0:
            links.append(
                PlanLinkV1(
                    target="hotspot",
                    target_name=name,
                    plan_id="p",
                    activity_id=f"a{k}",
                    activity="Klottersanering inom 24 timmar",
                    focus_area="Trygg stadsmiljö",
                    responsible=["Tekniska förvaltningen"],
                    reasons=["kategori: klotter"],
                )
            )
    return {"stats": stats, "hotspots": hotspots, "plan_links": links}


# folium.Popup builds its content with jQuery's $(`<div>…`)[0]. We do not vendor jQuery
# (87 KB), so the baseline gets this stand-in: it favours the baseline slightly.
JQUERY_STANDIN = """<script>window.$ = function (markup) {
    var t = document.createElement("template"); t.innerHTML = markup.trim();
    return [t.content.firstChild]; };</script>"""


def baseline_map(snapshot: WeekSnapshotV1, areas: KommunAreas, asset_prefix: str) -> str:
    """folium's plain way: one MarkerCluster of folium.Marker with a popup each."""
    m = folium.Map(location=list(areas.centre), zoom_start=13, tiles=None, maxZoom=18)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(folium.Element(JQUERY_STANDIN), name="jquery_standin")
    cluster = MarkerCluster(name="Rapporter").add_to(m)
    for i in snapshot.incidents:
        if i.location_precision == "centroid":
            continue
        text = (
            f"<b>{html.escape(DEFAULT_CATEGORIES[i.category])}</b><br>"
            f"{format_time_sv(i.occurred_at)} · {SOURCE_LABELS[i.source]}<br>"
            f"{html.escape(i.description)}"
        )
        folium.Marker([i.lat, i.lon], popup=folium.Popup(text)).add_to(cluster)
    folium.LayerControl(collapsed=False).add_to(m)
    return localize_html(m.get_root().render(), asset_prefix)


def time_to_ready(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    started = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "document.querySelector('.marker-cluster, .leaflet-marker-icon') !== null",
        polling="raf",
        timeout=60_000,
    )
    page.evaluate(FRAMES_JS)
    elapsed = time.perf_counter() - started
    page.close()
    if errors:
        raise RuntimeError(f"{path.name}: {errors}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    areas = synthetic_areas()
    snapshot = synthetic_week(areas, args.incidents)
    methods = {
        "lagesbild (FastMarkerCluster per category)": lambda: render_week_map(
            snapshot, areas, tiles=None, asset_prefix="assets"
        ),
        "baseline (MarkerCluster of folium.Marker)": lambda: baseline_map(
            snapshot, areas, asset_prefix="assets"
        ),
    }
    out = Path(tempfile.mkdtemp(prefix="bench_map_"))
    install_assets(out)
    results: dict[str, dict[str, Any]] = {}
    for k, (name, build) in enumerate(methods.items()):
        builds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            page = build()
            builds.append(time.perf_counter() - started)
        path = out / f"map{k}.html"
        path.write_text(page, encoding="utf-8")
        results[name] = {
            "build": statistics.median(builds),
            "mb": len(page.encode()) / 1e6,
            "path": path,
        }

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for r in results.values():
            time_to_ready(browser, r["path"])  # warm-up
            r["ready"] = statistics.median(
                time_to_ready(browser, r["path"]) for _ in range(args.runs)
            )
        browser.close()
    shutil.rmtree(out)

    exact = sum(1 for i in snapshot.incidents if i.location_precision == "exact")
    print(f"{args.incidents} incidents ({exact} drawn as points), median of {args.runs} runs\n")
    print(f"{'method':<45} {'build s':>8} {'HTML MB':>8} {'ready s':>8}")
    for name, r in results.items():
        print(f"{name:<45} {r['build']:>8.3f} {r['mb']:>8.2f} {r['ready']:>8.3f}")
    ours, base = results.values()
    print(
        f"\n{'baseline / lagesbild':<45} {base['build'] / ours['build']:>7.1f}x "
        f"{base['mb'] / ours['mb']:>7.1f}x {base['ready'] / ours['ready']:>7.1f}x"
    )
    checks = [("build", 1.0, "s"), ("mb", 2.0, "MB"), ("ready", 1.5, "s")]
    failed = [f"{k} {ours[k]:.2f} > {limit} {unit}" for k, limit, unit in checks if ours[k] > limit]
    print(f"targets (build ≤ 1 s, HTML ≤ 2 MB, ready ≤ 1.5 s): {'; '.join(failed) or 'met'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
