"""Render one week's lägesbild: an offline folium map, a JSON summary and an index page.

Pure functions of their arguments: no Redis, no database, no settings, no clock.
Output layout assumed by the links: ``{out}/index.html``, ``{out}/assets/`` (see
`install_assets`) and ``{out}/{kommun}/{iso_week}/karta.html`` next to
``sammanfattning.json``, hence the default ``asset_prefix="../../assets"``.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import folium
import shapely
from branca.colormap import StepColormap
from branca.element import Element, Figure, MacroElement
from folium.plugins import FastMarkerCluster, HeatMap
from folium.template import Template
from jinja2 import Environment, FileSystemLoader, select_autoescape
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from services.maps import verbatim
from services.maps.disclosure import PublicCount, PublicCounts, public_counts
from services.maps.layers import (
    CHANGE_LAYER,
    add_change_layer,
    add_hotspot_layer,
    add_presence_layer,
    alert_tooltip_html,
    area_alerts,
)
from services.maps.offline import install_assets, localize_html
from services.maps.suppress import HIDDEN, MIN_PUBLIC_COUNT, SUPPRESSED
from shared.areas import OTHER_AREA, KommunAreas
from shared.categories import DEFAULT_CATEGORIES, SOURCE_LABELS, Source
from shared.contracts import IncidentPoint, WeekSnapshotV1
from shared.weeks import STOCKHOLM, parse_week, week_bounds

__all__ = [
    "format_time_sv",
    "install_assets",
    "render_index",
    "render_public_map",
    "render_week_map",
    "week_summary",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
    keep_trailing_newline=True,
)

WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
MONTHS_SV = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
MAX_POPUP_CHARS = 400  # bounds the page size; descriptions may be up to 2000 chars
MAX_ZOOM = 18
MIN_ZOOM = 8
SOURCE_ORDER: tuple[Source, ...] = tuple(Source)
_SOURCE_INDEX = {source: i for i, source in enumerate(SOURCE_ORDER)}

ZERO_COLOUR = "#f2f2f2"
HIDDEN_COLOUR = "#c8c8c8"  # public map: a total withheld so a small count stays hidden
SCALE_COLOURS = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
CATEGORY_COLOURS = {
    "klotter": "#6a3d9a",
    "skadegorelse": "#e31a1c",
    "nedskrapning": "#8c6d31",
    "brand": "#ff7f00",
    "ordningsstorning": "#1f78b4",
    "storande_samling": "#a6761d",
    "narkotika": "#33a02c",
    "vald": "#99000d",
    "hot": "#d95f02",
    "inbrott": "#3b3b98",
    "stold": "#0e7c7b",
    "buskorning": "#7570b3",
    "otrygg_plats": "#525252",
    "hot_vald_personal": "#c51b7d",
    "ovrigt": "#737373",
}
_FALLBACK_COLOURS = ("#1b9e77", "#e7298a", "#66a61e", "#e6ab02", "#386cb0", "#f0027f")


# --- small formatting helpers ---------------------------------------------------


def format_time_sv(moment: datetime) -> str:
    """Stockholm local time the Swedish way, e.g. "fre 20 nov 22:15" (naive = UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(STOCKHOLM)
    return f"{WEEKDAYS_SV[local.weekday()]} {local.day} {MONTHS_SV[local.month - 1]} {local:%H:%M}"


def change_text(change: int) -> str:
    if change > 0:
        return f"+{change} mot förra veckan"
    if change < 0:
        return f"−{-change} mot förra veckan"
    return "oförändrat mot förra veckan"


def _date_range_sv(iso_week: str) -> str:
    start_utc, end_utc = week_bounds(iso_week)
    first = start_utc.astimezone(STOCKHOLM).date()
    last = (end_utc.astimezone(STOCKHOLM) - timedelta(seconds=1)).date()
    if first.month == last.month:
        return f"{first.day}–{last.day} {MONTHS_SV[last.month - 1]} {last.year}"
    first_text = f"{first.day} {MONTHS_SV[first.month - 1]}"
    if first.year != last.year:
        first_text += f" {first.year}"
    return f"{first_text} – {last.day} {MONTHS_SV[last.month - 1]} {last.year}"


def _js(value: Any) -> str:
    """A JSON literal that is safe inside an HTML <script> element."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


def _category_label(snapshot: WeekSnapshotV1, code: str) -> str:
    return snapshot.categories.get(code) or DEFAULT_CATEGORIES.get(code) or code


def _category_colour(code: str) -> str:
    if code in CATEGORY_COLOURS:
        return CATEGORY_COLOURS[code]
    return _FALLBACK_COLOURS[sum(code.encode()) % len(_FALLBACK_COLOURS)]


def _category_order(snapshot: WeekSnapshotV1) -> list[str]:
    """The snapshot's catalogue order, then codes it does not list, alphabetically."""
    seen = {c.category for c in snapshot.cells} | {i.category for i in snapshot.incidents}
    return list(snapshot.categories) + sorted(seen - set(snapshot.categories))


def _area_order(snapshot: WeekSnapshotV1) -> list[str]:
    extra = {c.area for c in snapshot.cells} - set(snapshot.areas)
    return list(dict.fromkeys(snapshot.areas)) + sorted(extra)


def _is_centroid(incident: IncidentPoint) -> bool:
    return incident.location_precision == "centroid"


# --- summary --------------------------------------------------------------------


def _counts(count: int, previous: int) -> dict[str, int]:
    return {"count": count, "previous": previous, "change": count - previous}


def _area_counts(total: int, previous: int) -> dict[str, int]:
    return {"total": total, "previous": previous, "change": total - previous}


def week_summary(snapshot: WeekSnapshotV1) -> dict[str, Any]:
    """JSON-ready numbers of the week, per area and per category (deterministic order)."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for cell in snapshot.cells:
        pair = cells[(cell.area, cell.category)]
        pair[0] += cell.count
        pair[1] += cell.previous
    areas: list[dict[str, Any]] = []
    for area in _area_order(snapshot):
        codes = sorted(code for (a, code) in cells if a == area)
        count = sum(cells[(area, code)][0] for code in codes)
        previous = sum(cells[(area, code)][1] for code in codes)
        per_category = {code: _counts(*cells[(area, code)]) for code in codes}
        areas.append({"area": area, **_area_counts(count, previous), "categories": per_category})
    categories: list[dict[str, Any]] = []
    for code in _category_order(snapshot):
        count = sum(v[0] for (_, c), v in cells.items() if c == code)
        previous = sum(v[1] for (_, c), v in cells.items() if c == code)
        label = _category_label(snapshot, code)
        categories.append({"category": code, "label": label, **_counts(count, previous)})
    total = sum(v[0] for v in cells.values())
    previous_total = sum(v[1] for v in cells.values())
    centroid_only = sum(1 for i in snapshot.incidents if _is_centroid(i))
    return {
        "kommun": snapshot.kommun,
        "kommun_name": snapshot.kommun_name,
        "iso_week": snapshot.iso_week,
        "previous_week": snapshot.previous_week,
        "revision": snapshot.revision,
        "content_hash": snapshot.content_hash,
        "built_at": snapshot.built_at.isoformat(),
        "total": total,
        "previous_total": previous_total,
        "change": total - previous_total,
        "areas": areas,
        "categories": categories,
        "incidents_mapped": len(snapshot.incidents) - centroid_only,
        "centroid_only": centroid_only,
        "duplicates_linked": snapshot.duplicates_linked,
    }


# --- map building blocks --------------------------------------------------------


class _HtmlControl(MacroElement):
    """A Leaflet control holding ready-made (already escaped) HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html_js }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html_js = _js(html_text)
        self.position = position
        self.css_class = css_class


class _CompactLayerControl(MacroElement):
    """On phone-sized screens, fold the layer list into Leaflet's layers button."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = {{ this.control.get_name() }};
            control._layersLink.title = "Kartlager";
            if (window.matchMedia && window.matchMedia("(max-width: 600px)").matches) {
                control.collapse();
                {{ this._parent.get_name() }}.on("click", function () { control.collapse(); });
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, control: folium.LayerControl) -> None:
        super().__init__()
        self._name = "CompactLayerControl"
        self.control = control


def _base_map(kommun_areas: KommunAreas, tiles: str | None, title: str) -> folium.Map:
    verbatim.install()  # user text in any layer must never be rendered as a template
    lat, lon = kommun_areas.centre
    m = folium.Map(
        location=[lat, lon],
        zoom_start=12,
        tiles=tiles,
        zoom_control="bottomright",
        control_scale=True,
        maxZoom=MAX_ZOOM,  # folium drops max_zoom with tiles=None; markercluster needs it
        minZoom=MIN_ZOOM,  # a kommun map; also spares markercluster 8 grid levels
    )
    # Only Leaflet itself: no jQuery, Bootstrap, Font Awesome or awesome-markers.
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = html.escape(title)
    sources = [SOURCE_LABELS[s] for s in SOURCE_ORDER]
    css = _templates.get_template("map_style.css").render()
    js = _templates.get_template("map_helpers.js").render(sources=sources)
    root.header.add_child(Element(f"<style>{css}</style>"), name="lagesbild_css")
    root.header.add_child(Element(f"<script>{js}</script>"), name="lagesbild_js")
    # Open on the named areas (the town), not the whole kommun with its countryside.
    focus = unary_union([a.geometry for a in kommun_areas.areas] or [kommun_areas.boundary])
    minx, miny, maxx, maxy = focus.bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _scale(max_total: int) -> tuple[StepColormap, list[dict[str, str]]]:
    """Integer classes: 0, then up to six equal steps up to the week's highest total."""
    if max_total <= 0:
        colormap = StepColormap([ZERO_COLOUR, ZERO_COLOUR], index=[0, 1, 2], vmin=0, vmax=2)
        return colormap, [{"colour": ZERO_COLOUR, "label": "0"}]
    classes = min(len(SCALE_COLOURS), max_total)
    step = math.ceil(max_total / classes)
    edges = [1 + k * step for k in range(classes + 1)]
    while edges[-2] > max_total:  # ceil() can leave an empty top class
        edges.pop()
    colours = [ZERO_COLOUR, *SCALE_COLOURS[: len(edges) - 1]]
    colormap = StepColormap(colours, index=[0, *edges], vmin=0, vmax=edges[-1])
    items = [{"colour": ZERO_COLOUR, "label": "0"}]
    for lo, hi, colour in zip(edges, edges[1:], colours[1:], strict=False):
        items.append({"colour": colour, "label": str(lo) if hi - 1 == lo else f"{lo}–{hi - 1}"})
    return colormap, items


def _shape_for_map(geom: BaseGeometry) -> dict[str, Any] | None:
    reduced = shapely.set_precision(geom, 1e-5)
    return None if reduced.is_empty else mapping(reduced)


def _area_geometries(kommun_areas: KommunAreas) -> list[tuple[str, BaseGeometry]]:
    named = [(a.name, a.geometry) for a in kommun_areas.areas]
    rest = kommun_areas.boundary.difference(unary_union([g for _, g in named])) if named else None
    if rest is not None and not rest.is_empty and rest.area > 1e-9:
        named.append((OTHER_AREA, rest))
    return named


def _area_tooltip(area: str, row: dict[str, Any], iso_week: str) -> str:
    return (
        f"<b>{html.escape(area)}</b><br>"
        f"{row['total']} rapporter vecka {html.escape(iso_week)}<br>"
        f"Förra veckan: {row['previous']}<br>{html.escape(change_text(row['change']))}"
    )


def _public_area_tooltip(area: str, row: PublicCount, iso_week: str) -> str:
    """The public numbers (`disclosure.public_counts`): '<3', '≥3' for a withheld
    count; the change only when both weeks are shown."""
    text = f"<br>{html.escape(change_text(row.change))}" if row.change is not None else ""
    return (
        f"<b>{html.escape(area)}</b><br>"
        f"{html.escape(str(row.count))} rapporter vecka {html.escape(iso_week)}<br>"
        f"Förra veckan: {html.escape(str(row.previous))}{text}"
    )


def _area_features(
    summary: dict[str, Any],
    kommun_areas: KommunAreas,
    alerts: dict[str, list[str]],
    *,
    public: bool,
    shown: PublicCounts | None = None,
) -> list[dict[str, Any]]:
    """One feature per area with its tooltip, total and change (no colour yet).

    Public: the tooltip and `total` are the public numbers (an int, '<3' or '≥3')."""
    by_area = {a["area"]: a for a in summary["areas"]}
    empty = {"total": 0, "previous": 0, "change": 0}
    nothing = PublicCount(count=SUPPRESSED, previous=SUPPRESSED, change=None, listed=False)
    features = []
    for name, geom in _area_geometries(kommun_areas):
        shaped = _shape_for_map(geom)
        if shaped is None:
            continue
        row = by_area.get(name, empty)
        if public:
            public_row = shown.areas.get(name, nothing) if shown else nothing
            text = _public_area_tooltip(name, public_row, summary["iso_week"])
            row = {"total": public_row.count, "change": public_row.change}
        else:
            text = _area_tooltip(name, row, summary["iso_week"])
        if alerts.get(name):
            text += alert_tooltip_html(alerts[name])
        props = {
            "tooltip": text,
            "total": row["total"],
            "change": row["change"],
            "alert": bool(alerts.get(name)),
        }
        features.append({"type": "Feature", "geometry": shaped, "properties": props})
    return features


def _add_areas(
    m: folium.Map,
    summary: dict[str, Any],
    kommun_areas: KommunAreas,
    *,
    opaque: bool,
    alerts: dict[str, list[str]] | None = None,
    public: bool = False,
    shown: PublicCounts | None = None,
) -> None:
    features = _area_features(summary, kommun_areas, alerts or {}, public=public, shown=shown)
    if public:
        # Only shown totals set the scale; '<3' gets the lowest class (the shade cannot
        # tell 1 from 2), '≥3' a colour of its own (a class would narrow it down).
        totals = [f["properties"]["total"] for f in features]
        top = max((t for t in totals if isinstance(t, int)), default=0)
        colormap, legend_items = _public_scale(top, hidden=HIDDEN in totals)
        for f in features:
            total = f["properties"]["total"]
            if isinstance(total, int):
                f["properties"]["fill"] = colormap(total)[:7]
            else:
                f["properties"]["fill"] = HIDDEN_COLOUR if total == HIDDEN else ZERO_COLOUR
    else:
        max_total = max((a["total"] for a in summary["areas"]), default=0)
        colormap, legend_items = _scale(max_total)
        for f in features:
            f["properties"]["fill"] = colormap(f["properties"]["total"])[:7]
    # Only what the page draws goes into it: the public page must not carry raw counts.
    drawn = [
        {**f, "properties": {k: f["properties"][k] for k in ("tooltip", "fill", "alert")}}
        for f in features
    ]
    opacity = 0.75 if opaque else 0.55
    folium.GeoJson(
        {"type": "FeatureCollection", "features": drawn},
        name="Rapporter per område",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": opacity,
            # Unusual rises get a red outline as well as the tooltip line.
            "color": "#c00000" if f["properties"]["alert"] else "#555555",
            "weight": 3 if f["properties"]["alert"] else 1,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#222222"},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True),
    ).add_to(m)
    caption = f"Antal rapporter vecka {summary['iso_week']}"
    legend = _templates.get_template("legend.html.j2").render(caption=caption, items=legend_items)
    if not public:
        change_items = add_change_layer(m, features)
        legend += _templates.get_template("legend.html.j2").render(
            caption=CHANGE_LAYER, items=change_items, css_class="lb-change-legend"
        )
    _HtmlControl(legend, "bottomleft", "lb-legend-control").add_to(m)


def _public_scale(
    max_total: int, *, hidden: bool = False
) -> tuple[StepColormap, list[dict[str, str]]]:
    """Like `_scale`, but the lowest class is '<3' and the steps start at 3; `hidden`
    adds the '≥3' (withheld) colour."""
    top = max(max_total, MIN_PUBLIC_COUNT)
    classes = min(len(SCALE_COLOURS), top - MIN_PUBLIC_COUNT + 1)
    step = math.ceil((top - MIN_PUBLIC_COUNT + 1) / classes)
    edges = [MIN_PUBLIC_COUNT + k * step for k in range(classes + 1)]
    while len(edges) > 2 and edges[-2] > top:
        edges.pop()
    colours = [ZERO_COLOUR, *SCALE_COLOURS[: len(edges) - 1]]
    colormap = StepColormap(colours, index=[0, *edges], vmin=0, vmax=edges[-1])
    items = [{"colour": ZERO_COLOUR, "label": f"<{MIN_PUBLIC_COUNT}"}]
    for lo, hi, colour in zip(edges, edges[1:], colours[1:], strict=False):
        items.append({"colour": colour, "label": str(lo) if hi - 1 == lo else f"{lo}–{hi - 1}"})
    if hidden:
        items.append({"colour": HIDDEN_COLOUR, "label": f"{HIDDEN} (dolt)"})
    return colormap, items


def _add_area_labels(m: folium.Map, kommun_areas: KommunAreas) -> None:
    layer = folium.FeatureGroup(name="Områdesnamn", show=True).add_to(m)
    for area in kommun_areas.areas:
        point = area.geometry.representative_point()
        icon = folium.DivIcon(
            html=f"<div>{html.escape(area.name)}</div>",
            class_name="lb-area-label",
            icon_size=(0, 0),
        )
        folium.Marker([point.y, point.x], icon=icon, interactive=False, keyboard=False).add_to(
            layer
        )


def _add_boundary(m: folium.Map, kommun_areas: KommunAreas) -> None:
    shaped = _shape_for_map(kommun_areas.boundary)
    if shaped is None:
        return
    folium.GeoJson(
        {"type": "Feature", "geometry": shaped, "properties": {}},
        name="Kommungräns",
        control=False,
        style_function=lambda f: {"fill": False, "color": "#222222", "weight": 3, "opacity": 0.9},
    ).add_to(m)


def _marker_row(incident: IncidentPoint) -> list[Any]:
    text = incident.description
    if len(text) > MAX_POPUP_CHARS:
        text = text[: MAX_POPUP_CHARS - 1] + "…"
    return [
        round(incident.lat, 5),
        round(incident.lon, 5),
        format_time_sv(incident.occurred_at),
        _SOURCE_INDEX.get(incident.source, _SOURCE_INDEX[Source.OVRIG]),
        text,
    ]


class _CategoryCluster(FastMarkerCluster):
    """FastMarkerCluster for one category: compact UTF-8 rows, markers made in the page.

    Folium's template embeds the rows with ``tojson`` (every non-ASCII letter becomes
    ``\\uXXXX``); this one uses `_js`, which keeps a 10,000-incident week well below 2 MB.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                var data = {{ this.data_js }};
                var cluster = L.markerClusterGroup({{ this.options|tojavascript }});
                cluster.options.iconCreateFunction = lagesbild.clusterIcon({{ this.colour_js }});
                cluster.on("click", lagesbild.popupOnClick({{ this.label_js }}));
                cluster.addLayers(data.map(lagesbild.markerFactory({{ this.colour_js }})));
                cluster.addTo({{ this._parent.get_name() }});
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(self, rows: list[list[Any]], label: str, colour: str) -> None:
        super().__init__(rows, control=False, showCoverageOnHover=False)
        self.label_js, self.colour_js = _js(label), _js(colour)

    @property
    def data_js(self) -> str:
        return _js(self.data)


def _add_incident_layers(
    m: folium.Map, snapshot: WeekSnapshotV1, exact: list[IncidentPoint]
) -> None:
    by_category: dict[str, list[IncidentPoint]] = defaultdict(list)
    for incident in exact:
        by_category[incident.category].append(incident)
    for code in _category_order(snapshot):
        incidents = sorted(by_category.get(code, []), key=lambda i: (i.occurred_at, i.key))
        if not incidents:
            continue
        label, colour = _category_label(snapshot, code), _category_colour(code)
        # Leaflet's layer control shows the name as HTML: escape the label, add a swatch.
        swatch = f'<span class="lb-dot" style="background:{colour}"></span>'
        name = f"{swatch}{html.escape(label)} ({len(incidents)})"
        layer = folium.FeatureGroup(name=name, show=True).add_to(m)
        _CategoryCluster([_marker_row(i) for i in incidents], label, colour).add_to(layer)


def _add_heatmap(m: folium.Map, exact: list[IncidentPoint]) -> None:
    if not exact:
        return
    layer = folium.FeatureGroup(name="Täthet", show=False).add_to(m)
    points = [[round(i.lat, 5), round(i.lon, 5)] for i in exact]
    HeatMap(points, radius=18, blur=15, min_opacity=0.35, control=False).add_to(layer)


def _pair(counts: PublicCount) -> tuple[int | str, int | str]:
    return counts.count, counts.previous


def _add_title(
    m: folium.Map,
    summary: dict[str, Any],
    *,
    public: bool = False,
    shown: PublicCounts | None = None,
) -> None:
    _, week = parse_week(summary["iso_week"])
    built = datetime.fromisoformat(summary["built_at"]).astimezone(STOCKHOLM)
    change = summary["change"]
    total, previous_total = summary["total"], summary["previous_total"]
    if public:  # the public numbers, or none at all
        change, total, previous_total = None, SUPPRESSED, SUPPRESSED
        if shown:
            change, total, previous_total = shown.total.change, *_pair(shown.total)
    box = _templates.get_template("title_box.html.j2").render(
        public=public,
        kommun_name=summary["kommun_name"],
        iso_week=summary["iso_week"],
        week_number=week,
        date_range=_date_range_sv(summary["iso_week"]),
        total=total,
        previous_total=previous_total,
        change_text=change_text(change) if change is not None else "",
        centroid_only=0 if public else summary["centroid_only"],
        revision=summary["revision"],
        built_at=f"{built:%Y-%m-%d %H:%M}",
    )
    _HtmlControl(box, "topleft", "lb-title-control").add_to(m)


# --- public API -----------------------------------------------------------------


def render_week_map(
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None = "OpenStreetMap",
    asset_prefix: str = "../../assets",
) -> str:
    """The week's map as one HTML page that loads its scripts from `asset_prefix`."""
    summary = week_summary(snapshot)
    title = f"Lägesbild {snapshot.kommun_name} {snapshot.iso_week}"
    m = _base_map(kommun_areas, tiles, title)
    alerts = area_alerts(snapshot)
    _add_areas(m, summary, kommun_areas, opaque=tiles is None, alerts=alerts)
    _add_area_labels(m, kommun_areas)
    _add_boundary(m, kommun_areas)
    add_hotspot_layer(m, snapshot)
    add_presence_layer(m, snapshot)
    exact = [i for i in snapshot.incidents if not _is_centroid(i)]
    _add_incident_layers(m, snapshot, exact)
    _add_heatmap(m, exact)
    _add_title(m, summary)
    return _finish(m, asset_prefix)


def render_public_map(
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None = "OpenStreetMap",
    asset_prefix: str = "../../assets",
) -> str:
    """The public map: areas only, counts below 3 shown as '<3'; no points, no text."""
    summary = week_summary(snapshot)
    shown = public_counts(snapshot)
    title = f"Lägesbild {snapshot.kommun_name} {snapshot.iso_week} (offentlig)"
    m = _base_map(kommun_areas, tiles, title)
    _add_areas(m, summary, kommun_areas, opaque=tiles is None, public=True, shown=shown)
    _add_area_labels(m, kommun_areas)
    _add_boundary(m, kommun_areas)
    _add_title(m, summary, public=True, shown=shown)
    return _finish(m, asset_prefix)


def _finish(m: folium.Map, asset_prefix: str) -> str:
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    _CompactLayerControl(control).add_to(m)
    page = m.get_root().render().replace("<html>", '<html lang="sv">', 1)
    return localize_html(page, asset_prefix)


def render_index(weeks: list[dict[str, Any]], *, public: bool = False) -> str:
    """The archive index: per kommun, newest week first, earlier revisions linked.

    `public`: the index of the public tree (no exports). Its total is the entry's
    `public_total` (the public summary's kommun total, which may be '<3' or '≥3'); an
    entry without one shows '–' rather than a number that might give a count away."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for week in weeks:  # one row per week: its newest revision
        key = (week["kommun"], week["iso_week"])
        if key not in latest or week.get("revision", 0) > latest[key].get("revision", 0):
            latest[key] = week
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (kommun, _), week in sorted(latest.items()):
        revision, revisions = week.get("revision"), week.get("revisions") or [week["revision"]]
        if public:  # the public version's own revisions, which may lag behind
            revision = week.get("public_revision", revision)
            revisions = week.get("public_revisions", revisions)
        row = {
            **week,
            "revision": revision,
            "total": week.get("public_total", "–") if public else week["total"],
            "earlier": [r for r in sorted(revisions) if r != revision],
        }
        grouped[kommun].append(row)
    groups = []
    for kommun, rows in grouped.items():
        rows = sorted(rows, key=lambda w: w["iso_week"], reverse=True)
        name = next((w["kommun_name"] for w in rows if w.get("kommun_name")), kommun)
        groups.append({"kommun": kommun, "kommun_name": name, "weeks": rows})
    groups.sort(key=lambda g: (g["kommun_name"], g["kommun"]))
    return _templates.get_template("index.html.j2").render(groups=groups, public=public)
