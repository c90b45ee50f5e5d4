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
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import folium
import shapely
from branca.colormap import StepColormap
from branca.element import Figure, MacroElement
from folium.plugins import FastMarkerCluster, HeatMap
from folium.template import Template
from jinja2 import Environment, FileSystemLoader, select_autoescape
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from services.maps import verbatim
from services.maps.layers import (
    CHANGE_LAYER,
    CHANGE_RULE_NOTE,
    HOTSPOT_COLOUR,
    NO_CLEAR_CHANGE,
    PRESENCE_COLOUR,
    LegendFollowsLayer,
    add_change_layer,
    add_hotspot_layer,
    add_presence_layer,
    alert_tooltip_html,
    area_alerts,
)
from services.maps.palette import (
    AREA_OPACITY_NO_TILES,
    AREA_OPACITY_TILES,
    AREA_OUTLINE,
    DUPLICATE_COLOUR,
    HIDDEN_COLOUR,
    REST_OPACITY,
    SCALE_COLOURS,
    ZERO_COLOUR,
    category_colour,
    category_symbol,
)
from services.maps.summary import public_summary, week_summary
from services.maps.suppress import HIDDEN, MIN_PUBLIC_COUNT, SUPPRESSED
from shared.areas import OTHER_AREA, KommunAreas
from shared.categories import DEFAULT_CATEGORIES, SOURCE_LABELS, Source
from shared.contracts import IncidentPoint, WeekSnapshotV1
from shared.counting import (
    DUBBLETT,
    HANDELSE,
    area_order,
    category_order,
    has_point,
    is_counted,
    is_duplicate,
)
from shared.formats import (
    count_or_text,
    decimal_sv,
    number_sv,
    page_time_sv,
    signed_sv,
    week_label_sv,
    week_range_sv,
)
from shared.web_assets import install_assets, localize_html
from shared.weeks import parse_week

__all__ = [
    "format_time_sv",
    "install_assets",
    "public_summary",
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

MAX_POPUP_CHARS = 400  # bounds the page size; descriptions may be up to 2000 chars
MAX_ZOOM = 18
MIN_ZOOM = 8
SOURCE_ORDER: tuple[Source, ...] = tuple(Source)
_SOURCE_INDEX = {source: i for i, source in enumerate(SOURCE_ORDER)}

# Colours and symbols: services/maps/palette.py (checked for WCAG contrast).
STATEMENT_FILE = "tillganglighet.html"  # the accessibility statement, at the tree's root


# --- small formatting helpers ---------------------------------------------------


def format_time_sv(moment: datetime) -> str:
    """Stockholm local time the Swedish way, with its offset: "fre 20 nov 22:15 +01:00"
    (naive = UTC)."""
    return page_time_sv(moment)


def change_text(change: int | None) -> str:
    if change is None:
        return ""
    if change == 0:
        return "oförändrat mot förra veckan"
    return f"{signed_sv(change)} mot förra veckan"


def _date_range_sv(iso_week: str) -> str:
    return week_range_sv(iso_week)


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
    return category_colour(code)


def _category_order(snapshot: WeekSnapshotV1) -> list[str]:
    return category_order(snapshot)


def _area_order(snapshot: WeekSnapshotV1) -> list[str]:
    return area_order(snapshot)


def _is_centroid(incident: IncidentPoint) -> bool:
    return not has_point(incident)


# The summary (`sammanfattning.json`) is built in services/maps/summary.py; the map reads its
# numbers from it (`week_summary`, `public_summary`), its points from the snapshot.


# --- map building blocks --------------------------------------------------------


LAYERS_EXPANDED_FROM_PX = 1400  # the layer list is open on screens at least this wide
LABEL_PANE = "lb-labels"  # area labels: above the markers (600), below tooltips (650)
LABEL_PANE_Z = 640


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metres and kilometres only (folium's shows miles too)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, position: "bottomright"})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


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

    def __init__(
        self, html_text: str, position: str, css_class: str, *, fold: str | None = None
    ) -> None:
        super().__init__()
        self._name = "HtmlControl"
        if fold:  # collapsible; lagesbild.setup() closes it on a narrow screen
            html_text = (
                f'<details class="lb-fold" open><summary>{html.escape(fold)}</summary>'
                f"{html_text}</details>"
            )
        self.html_js = _js(html_text)
        self.position = position
        self.css_class = css_class


class _CompactLayerControl(MacroElement):
    """Below `LAYERS_EXPANDED_FROM_PX` of width the layer list folds into Leaflet's layers
    button, on load and whenever the window is resized (map_helpers.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        lagesbild.layerControl({{ this._parent.get_name() }}, {{ this.control.get_name() }},
                               {{ this.min_width }});
        {% endmacro %}
        """
    )

    def __init__(self, control: folium.LayerControl) -> None:
        super().__init__()
        self._name = "CompactLayerControl"
        self.control = control
        self.min_width = LAYERS_EXPANDED_FROM_PX


def _base_map(kommun_areas: KommunAreas, tiles: str | None, title: str) -> folium.Map:
    verbatim.install()  # user text in any layer must never be rendered as a template
    lat, lon = kommun_areas.centre
    m = folium.Map(
        location=[lat, lon],
        zoom_start=12,
        tiles=tiles,
        zoom_control="bottomright",
        control_scale=False,  # its scale shows miles too: _MetricScale instead
        maxZoom=MAX_ZOOM,  # folium drops max_zoom with tiles=None; markercluster needs it
        minZoom=MIN_ZOOM,  # a kommun map; also spares markercluster 8 grid levels
    )
    # Only Leaflet itself: no jQuery, Bootstrap, Font Awesome or awesome-markers.
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    _MetricScale().add_to(m)
    # Area labels in a pane above the markers, letting clicks through to them.
    folium.map.CustomPane(LABEL_PANE, z_index=LABEL_PANE_Z, pointer_events=False).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.title = html.escape(title)
    sources = [SOURCE_LABELS[s] for s in SOURCE_ORDER]
    js = _templates.get_template("map_helpers.js").render(sources=_js(sources))
    root.html.add_child(verbatim.Verbatim(f"<script>{js}</script>"), name="lagesbild_js")
    # Open on the named areas (the town), not the whole kommun with its countryside.
    focus = unary_union([a.geometry for a in kommun_areas.areas] or [kommun_areas.boundary])
    minx, miny, maxx, maxy = focus.bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def colour_classes(
    max_total: int, *, public: bool = False, hidden: bool = False
) -> tuple[StepColormap, list[dict[str, str]]]:
    """The one way both maps class an area's händelser, so an area has the same colour on
    the restricted and the public map whenever the public one shows its number: counts
    below `MIN_PUBLIC_COUNT` in the lowest class ("0–2"; public "<3"), then up to six
    equal integer steps from 3 to the highest total the map shows. `hidden` (public) adds
    the colour of a withheld ("≥3") total."""
    top = max(max_total, MIN_PUBLIC_COUNT)
    classes = min(len(SCALE_COLOURS), top - MIN_PUBLIC_COUNT + 1)
    step = math.ceil((top - MIN_PUBLIC_COUNT + 1) / classes)
    edges = [MIN_PUBLIC_COUNT + k * step for k in range(classes + 1)]
    while len(edges) > 2 and edges[-2] > top:  # ceil() can leave an empty top class
        edges.pop()
    colours = [ZERO_COLOUR, *SCALE_COLOURS[: len(edges) - 1]]
    colormap = StepColormap(colours, index=[0, *edges], vmin=0, vmax=edges[-1])
    lowest = SUPPRESSED if public else f"0–{MIN_PUBLIC_COUNT - 1}"
    items = [{"colour": ZERO_COLOUR, "label": lowest}]
    steps = list(zip(edges, edges[1:], colours[1:], strict=False))
    for k, (lo, hi, colour) in enumerate(steps):
        if k == len(steps) - 1:  # the top class is open: a larger count has its colour too
            label = f"{lo} eller fler"
        else:
            label = str(lo) if hi - 1 == lo else f"{lo}–{hi - 1}"
        items.append({"colour": colour, "label": label})
    if hidden:
        items.append({"colour": HIDDEN_COLOUR, "label": f"{HIDDEN} (dolt)"})
    return colormap, items


def class_top(public: dict[str, Any], kommun_areas: KommunAreas) -> int:
    """The highest area total the public map shows: both maps' classes are derived from it
    (`colour_classes`), so an area has the same class on both whenever the public map shows
    its number; on the restricted map a larger (withheld) total takes the open top class."""
    names = [name for name, _ in _area_geometries(kommun_areas)]
    totals = [_area_row(public, name)["total"] for name in names]
    return max((t for t in totals if isinstance(t, int)), default=0)


def _scale(max_total: int) -> tuple[StepColormap, list[dict[str, str]]]:
    """The restricted map's classes (`colour_classes`)."""
    return colour_classes(max_total)


def _public_scale(
    max_total: int, *, hidden: bool = False
) -> tuple[StepColormap, list[dict[str, str]]]:
    """The public map's classes: the same as the restricted map's (`colour_classes`)."""
    return colour_classes(max_total, public=True, hidden=hidden)


def area_fill(total: int | str, colormap: StepColormap) -> str:
    """An area's colour: its class, or for a withheld total ('≥3') the withheld colour;
    '<3' is the lowest class."""
    if isinstance(total, int):
        return str(colormap(total))[:7]
    return HIDDEN_COLOUR if total == HIDDEN else ZERO_COLOUR


def _shape_for_map(geom: BaseGeometry) -> dict[str, Any] | None:
    reduced = shapely.set_precision(geom, 1e-5)
    return None if reduced.is_empty else mapping(reduced)


def _area_geometries(kommun_areas: KommunAreas) -> list[tuple[str, BaseGeometry]]:
    named = [(a.name, a.geometry) for a in kommun_areas.areas]
    rest = kommun_areas.boundary.difference(unary_union([g for _, g in named])) if named else None
    if rest is not None and not rest.is_empty and rest.area > 1e-9:
        named.append((OTHER_AREA, rest))
    return named


def _previous_lines(row: dict[str, Any], reason: str | None) -> list[str]:
    if row.get("previous") is None:
        return [f"Förra veckan: – ({reason})" if reason else "Förra veckan: –"]
    lines = [f"Förra veckan: {count_or_text(row['previous'])}"]
    return lines + ([change_text(row["change"])] if row.get("change") is not None else [])


def _area_tooltip(area: str, row: dict[str, Any], summary: dict[str, Any]) -> str:
    """An area's numbers from the summary (restricted or public: '<3', '≥3' as shown)."""
    lines = [
        f"{HANDELSE.of(row['total'])} {summary['week_label']}",
        *_previous_lines(row, summary["comparison"]["reason"]),
    ]
    return f"<b>{html.escape(area)}</b><br>" + "<br>".join(html.escape(x) for x in lines)


def _area_row(summary: dict[str, Any], name: str) -> dict[str, Any]:
    """The summary's row of an area (one it does not list: 0, or publicly '<3')."""
    for row in summary["areas"]:
        if row["area"] == name:
            return dict(row)
    if summary["public"]:
        return {"area": name, "total": SUPPRESSED, "previous": None, "change": None}
    return {"area": name, "total": 0, "previous": None, "change": None}


def _area_features(
    summary: dict[str, Any], kommun_areas: KommunAreas, alerts: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """One feature per area with its tooltip, total and change (no colour yet), all from
    the summary: on the public map an int, '<3' or '≥3'."""
    features = []
    for name, geom in _area_geometries(kommun_areas):
        shaped = _shape_for_map(geom)
        if shaped is None:
            continue
        row = _area_row(summary, name)
        text = _area_tooltip(name, row, summary)
        if alerts.get(name):
            text += alert_tooltip_html(alerts[name])
        props = {
            "tooltip": text,
            "total": row["total"],
            "previous": row["previous"],
            "change": row["change"] or 0,
            "alert": bool(alerts.get(name)),
            "rest": name == OTHER_AREA,
        }
        features.append({"type": "Feature", "geometry": shaped, "properties": props})
    return features


def _add_areas(
    m: folium.Map,
    summary: dict[str, Any],
    kommun_areas: KommunAreas,
    *,
    opaque: bool,
    top: int,
    alerts: dict[str, list[str]] | None = None,
) -> list[str]:
    """The areas coloured by their händelser; returns their legend blocks (and the change
    layer's, restricted map). `top`: `class_top`, the same for both maps.
    '<3' is the lowest class (the shade cannot tell 1 from 2), '≥3' a colour of its own (a
    class would narrow it down)."""
    public = bool(summary["public"])
    features = _area_features(summary, kommun_areas, alerts or {})
    totals = [f["properties"]["total"] for f in features]
    colormap, legend_items = colour_classes(top, public=public, hidden=HIDDEN in totals)
    for f in features:
        f["properties"]["fill"] = area_fill(f["properties"]["total"], colormap)
    # Only what the page draws goes into it: the public page must not carry raw counts.
    drawn = [
        {**f, "properties": {k: f["properties"][k] for k in ("tooltip", "fill", "alert", "rest")}}
        for f in features
    ]
    opacity = AREA_OPACITY_NO_TILES if opaque else AREA_OPACITY_TILES
    areas: folium.GeoJson = folium.GeoJson(
        {"type": "FeatureCollection", "features": drawn},
        name=f"{HANDELSE.plural.capitalize()} per område",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            # "Övriga kommunen" (outside the named areas) is large and thinly spread: only a
            # tint of its class, so that it does not paint the whole kommun.
            "fillOpacity": REST_OPACITY if f["properties"]["rest"] else opacity,
            # Unusual rises get a red outline as well as "⚠" in the label and the table;
            # every other outline is dark enough against every class (palette.py).
            "color": "#c00000" if f["properties"]["alert"] else AREA_OUTLINE,
            "weight": 3 if f["properties"]["alert"] else 1.5,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#222222"},
        # A kommun without named areas has nothing to hover (folium refuses a tooltip then).
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True) if drawn else None,
    )
    areas.add_to(m)
    caption = f"Antal {HANDELSE.plural} {summary['week_label']}"
    blocks = [_legend(caption, legend_items, layer_key="omraden")]
    LegendFollowsLayer(areas, "omraden").add_to(m)
    if public:
        return blocks
    if summary["comparison"]["previous_week_compared"]:
        layer, change_items, any_clear = add_change_layer(m, features)
        note = CHANGE_RULE_NOTE if any_clear else f"{NO_CLEAR_CHANGE} {CHANGE_RULE_NOTE}"
        change_legend = _legend(
            CHANGE_LAYER, change_items, css_class="lb-change-legend", layer_key="forandring",
            note=note,
        )  # fmt: skip
        blocks.append(change_legend)
        LegendFollowsLayer(layer, "forandring").add_to(m)
    else:  # no comparable week before: no change layer, and the legend says why
        reason = summary["comparison"]["reason"] or "jämförelse saknas"
        blocks.append(
            _legend("Förändring", [], css_class="lb-change-missing", note=f"Visas inte: {reason}.")
        )
    return blocks


def _legend(
    caption: str,
    items: list[dict[str, str]],
    *,
    css_class: str = "",
    layer_key: str = "",
    note: str = "",
) -> str:
    """One legend block; with `layer_key` it is shown only while that layer is on."""
    return _templates.get_template("legend.html.j2").render(
        caption=caption, items=items, css_class=css_class, layer_key=layer_key, note=note
    )


def _add_legend(m: folium.Map, blocks: list[str], *, public: bool) -> None:
    """The legend control (bottom left, folded on a phone): the blocks and the note."""
    legend = "".join(blocks) + _templates.get_template("legend_note.html.j2").render(public=public)
    _HtmlControl(legend, "bottomleft", "lb-legend-control", fold="Teckenförklaring").add_to(m)


def _label_counts(
    summary: dict[str, Any], kommun_areas: KommunAreas, alerts: dict[str, list[str]]
) -> dict[str, str]:
    """Per area, the line under its name: the week's händelser (and the change), so that
    the number behind a colour class is there as text too ("⚠" marks an unusual rise).
    Public: the public numbers ('<3', '≥3' for a withheld count), as the tooltip shows."""
    out: dict[str, str] = {}
    for name in [*kommun_areas.area_names, *(a["area"] for a in summary["areas"])]:
        row = _area_row(summary, name)
        text = HANDELSE.of(row["total"])
        if not summary["public"] and row["change"] is not None:
            text += f" ({signed_sv(row['change'])})"
        out[name] = text
    for name in alerts:
        out[name] = f"⚠ {out.get(name, '')}".strip()
    return out


def _label_ranks(summary: dict[str, Any], kommun_areas: KommunAreas) -> dict[str, int]:
    """Which label wins where two overlap (map_helpers.js hides the other): the area with
    more händelser first ('≥3' counts as 3, '<3' as 0), then the larger area."""

    def weight(name: str) -> int:
        total = _area_row(summary, name)["total"]
        return total if isinstance(total, int) else (MIN_PUBLIC_COUNT if total == HIDDEN else 0)

    size = {a.name: a.geometry.area for a in kommun_areas.areas}
    order = sorted(size, key=lambda name: (-weight(name), -size[name], name))
    return {name: rank for rank, name in enumerate(order)}


def _add_area_labels(
    m: folium.Map,
    kommun_areas: KommunAreas,
    counts: dict[str, str] | None = None,
    ranks: dict[str, int] | None = None,
) -> None:
    """Each named area's label (name and count) in a pane above the markers; where labels
    overlap at a zoom, the page shows the higher-ranked one (`_label_ranks`)."""
    layer = folium.FeatureGroup(name="Områdesnamn och antal", show=True).add_to(m)
    counts, ranks = counts or {}, ranks or {}
    for area in kommun_areas.areas:
        point = area.geometry.representative_point()
        line = counts.get(area.name, "")
        count_html = f'<span class="lb-area-n">{html.escape(line)}</span>' if line else ""
        icon = folium.DivIcon(
            html=f'<div data-rank="{ranks.get(area.name, 0)}">'
            f'<span class="lb-area-name">{html.escape(area.name)}</span>'
            f"{count_html}</div>",
            class_name="lb-area-label",
            icon_size=(0, 0),
        )
        folium.Marker(
            [point.y, point.x], icon=icon, interactive=False, keyboard=False, pane=LABEL_PANE
        ).add_to(layer)


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


def _marker_row(
    incident: IncidentPoint, area_index: dict[str, int], photo: str | None = None
) -> list[Any]:
    """[lat, lon, time, source index, text, area index] (the area in the page's
    `lb-omraden` list, -1 when it is not there), and the address of the report's photo
    when it has one (restricted map only)."""
    text = incident.description
    if len(text) > MAX_POPUP_CHARS:
        text = text[: MAX_POPUP_CHARS - 1] + "…"
    row = [
        round(incident.lat, 5),
        round(incident.lon, 5),
        format_time_sv(incident.occurred_at),
        _SOURCE_INDEX.get(incident.source, _SOURCE_INDEX[Source.OVRIG]),
        text,
        area_index.get(incident.area, -1),
    ]
    return [*row, photo] if photo else row


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
                lagesbild.addCategory(cluster, {{ this.style_js }}, data);
                cluster.addTo({{ this._parent.get_name() }});
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(
        self, rows: list[list[Any]], code: str, label: str, colour: str, symbol: str = ""
    ) -> None:
        super().__init__(rows, control=False, showCoverageOnHover=False)
        style = {"code": code, "label": label, "colour": colour}
        self.style_js = _js({**style, "symbol": symbol or category_symbol(code, label)})

    @property
    def data_js(self) -> str:
        return _js(self.data)


def _symbol_html(code: str, label: str) -> str:
    """The category's marker in small: its colour with its two letters (decorative: the
    label beside it names the category)."""
    colour, symbol = _category_colour(code), category_symbol(code, label)
    return (
        f'<span class="lb-sym" aria-hidden="true" style="background:{colour}">'
        f"{html.escape(symbol)}</span>"
    )


DUPLICATE_CODE = "dubblett"  # DUPLICATE_COLOUR (palette.py): grey, apart from every category
DUPLICATE_SYMBOL = "TD"


def layer_name(label: str, code: str, count: int, without_point: int = 0) -> str:
    """A category layer's name in the layer list: its symbol, label and händelser (the same
    number as the summary's category), and how many of them have no point on the map."""
    extra = f"; {number_sv(without_point)} utan plats" if without_point else ""
    return f"{_symbol_html(code, label)}{html.escape(label)} ({number_sv(count)}{extra})"


def _add_incident_layers(
    m: folium.Map,
    snapshot: WeekSnapshotV1,
    summary: dict[str, Any],
    exact: list[IncidentPoint],
    areas: list[str],
    photos: Mapping[str, str],
) -> None:
    """One clustered layer per category with points: its händelser with a position. The
    layer's number is the summary's count for the category (points and those without)."""
    area_index = {name: i for i, name in enumerate(areas)}
    by_category: dict[str, list[IncidentPoint]] = defaultdict(list)
    for incident in exact:
        by_category[incident.category].append(incident)
    counts = {c["category"]: c for c in summary["categories"]}
    for code in _category_order(snapshot):
        incidents = sorted(by_category.get(code, []), key=lambda i: (i.occurred_at, i.key))
        if not incidents:
            continue
        label, colour = _category_label(snapshot, code), _category_colour(code)
        row = counts.get(code, {"count": len(incidents), "with_point": len(incidents)})
        # Leaflet's layer control shows the name as HTML: escape the label, add the symbol.
        name = layer_name(label, code, row["count"], row["count"] - row["with_point"])
        layer = folium.FeatureGroup(name=name, show=True).add_to(m)
        rows = [_marker_row(i, area_index, photos.get(i.key)) for i in incidents]
        _CategoryCluster(rows, code, label, colour).add_to(layer)


def duplicate_text(snapshot: WeekSnapshotV1, copy: IncidentPoint) -> str:
    """What a likely duplicate repeats, for its popup and the table: the original's
    category and time when it is in the week (it never names the reporter)."""
    original = next((i for i in snapshot.incidents if i.key == copy.duplicate_of), None)
    label = _category_label(snapshot, copy.category)
    if original is None:
        what = f"en tidigare rapport ({label})"
    else:
        label = _category_label(snapshot, original.category)
        what = f"{label} {format_time_sv(original.occurred_at)}"
    text = f"{DUBBLETT.singular.capitalize()} av {what}; räknas inte."
    if copy.description:
        text += f" {copy.description}"
    return text if len(text) <= MAX_POPUP_CHARS else text[: MAX_POPUP_CHARS - 1] + "…"


def _add_duplicate_layer(
    m: folium.Map, snapshot: WeekSnapshotV1, copies: list[IncidentPoint], areas: list[str]
) -> None:
    """The likely duplicates, visible but apart: a layer of their own (off at first), each
    popup saying what it repeats. They are in no category layer and no count."""
    if not copies:
        return
    area_index = {name: i for i, name in enumerate(areas)}
    label = DUBBLETT.plural.capitalize()
    name = (
        f'<span class="lb-sym" aria-hidden="true" style="background:{DUPLICATE_COLOUR}">'
        f"{DUPLICATE_SYMBOL}</span>{html.escape(label)} ({number_sv(len(copies))}, räknas inte)"
    )
    layer = folium.FeatureGroup(name=name, show=False).add_to(m)
    rows = []
    for copy in sorted(copies, key=lambda i: (i.occurred_at, i.key)):
        row = _marker_row(copy, area_index)
        row[4] = duplicate_text(snapshot, copy)
        rows.append(row)
    _CategoryCluster(rows, DUPLICATE_CODE, label, DUPLICATE_COLOUR, symbol=DUPLICATE_SYMBOL).add_to(
        layer
    )


def _add_heatmap(m: folium.Map, exact: list[IncidentPoint]) -> None:
    if not exact:
        return
    layer = folium.FeatureGroup(name="Täthet", show=False).add_to(m)
    points = [[round(i.lat, 5), round(i.lon, 5)] for i in exact]
    HeatMap(points, radius=18, blur=15, min_opacity=0.35, control=False).add_to(layer)


def _add_title(m: folium.Map, summary: dict[str, Any]) -> None:
    """The title box: the week, its headline ("208 händelser (216 rapporter, varav 8
    troliga dubbletter)") and the week before, or why there is no comparison."""
    public = bool(summary["public"])
    _, week = parse_week(summary["iso_week"])
    previous = summary["previous_total"]
    box = _templates.get_template("title_box.html.j2").render(
        public=public,
        kommun_name=summary["kommun_name"],
        iso_week=summary["iso_week"],
        week_number=week,
        date_range=_date_range_sv(summary["iso_week"]),
        headline=summary["headline"],
        total=count_or_text(summary["total"]),
        previous_total=None if previous is None else count_or_text(previous),
        change_text=change_text(summary["change"]),
        reason=summary["comparison"]["reason"],
        centroid_only=0 if public else summary["centroid_only"],
        revision=summary["revision"],
        built_at=summary["built_at_text"],
    )
    _HtmlControl(box, "topleft", "lb-title-control").add_to(m)


# --- public API -----------------------------------------------------------------


def render_week_map(
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None = "OpenStreetMap",
    asset_prefix: str = "../../assets",
    photos: Mapping[str, str] | None = None,
    summary: dict[str, Any] | None = None,
    public: dict[str, Any] | None = None,
) -> str:
    """The week's map as one HTML page that loads its scripts from `asset_prefix`.
    `photos`: incident key -> the address of its report's photo (shared/photos.py), shown
    in the incident's popup; only this restricted map ever gets them. `summary`: the week's
    summary (`week_summary`), where every number on the page comes from; the snapshot gives
    only the points and shapes. `public`: the public summary, whose shown totals set the
    colour classes of both maps."""
    summary = summary if summary is not None else week_summary(snapshot)
    public = public if public is not None else public_summary(snapshot)
    title = f"Lägesbild {snapshot.kommun_name} {snapshot.iso_week}"
    m = _base_map(kommun_areas, tiles, title)
    alerts = area_alerts(snapshot)
    top = class_top(public, kommun_areas)
    legend = _add_areas(m, summary, kommun_areas, opaque=tiles is None, top=top, alerts=alerts)
    ranks = _label_ranks(summary, kommun_areas)
    _add_area_labels(m, kommun_areas, _label_counts(summary, kommun_areas, alerts), ranks)
    _add_boundary(m, kommun_areas)
    hotspots = add_hotspot_layer(m, snapshot, summary)
    if hotspots is not None:
        item = {"colour": HOTSPOT_COLOUR, "label": "Statistisk hotspot", "swatch": "lb-sw-hotspot"}
        legend.append(_legend("Hotspots", [item], layer_key="hotspots"))
        LegendFollowsLayer(hotspots, "hotspots").add_to(m)
    presence = add_presence_layer(m, snapshot)
    if presence is not None:
        label = "Väktarnas närvaro (större = fler timmar)"
        item = {"colour": PRESENCE_COLOUR, "label": label, "swatch": "lb-sw-presence"}
        legend.append(_legend("Väktare", [item], layer_key="narvaro"))
        LegendFollowsLayer(presence, "narvaro").add_to(m)
    _add_legend(m, legend, public=False)
    # Points: the händelser with a position in the category layers (the counting rule),
    # the likely duplicates apart in a layer of their own, off at first.
    exact = [i for i in snapshot.incidents if has_point(i) and is_counted(i)]
    copies = [i for i in snapshot.incidents if has_point(i) and is_duplicate(i)]
    areas = list(dict.fromkeys([*_area_order(snapshot), *(i.area for i in exact + copies)]))
    _add_incident_layers(m, snapshot, summary, exact, areas, photos or {})
    _add_duplicate_layer(m, snapshot, copies, areas)
    _add_heatmap(m, exact)
    _add_title(m, summary)
    tables = _tables_html(summary, kommun_areas, alerts, copies, areas, asset_prefix)
    return _finish(m, asset_prefix, tables)


def render_public_map(
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None = "OpenStreetMap",
    asset_prefix: str = "../../assets",
    summary: dict[str, Any] | None = None,
) -> str:
    """The public map: areas only, counts below 3 shown as '<3'; no points, no text. Every
    number comes from the public summary (`public_summary`)."""
    summary = summary if summary is not None else public_summary(snapshot)
    title = f"Lägesbild {snapshot.kommun_name} {snapshot.iso_week} (offentlig)"
    m = _base_map(kommun_areas, tiles, title)
    top = class_top(summary, kommun_areas)
    legend = _add_areas(m, summary, kommun_areas, opaque=tiles is None, top=top)
    _add_legend(m, legend, public=True)
    ranks = _label_ranks(summary, kommun_areas)
    _add_area_labels(m, kommun_areas, _label_counts(summary, kommun_areas, {}), ranks)
    _add_boundary(m, kommun_areas)
    _add_title(m, summary)
    tables = _public_tables_html(summary, kommun_areas, asset_prefix)
    return _finish(m, asset_prefix, tables)


# --- the map as tables (the same numbers and incidents, for keyboards and screen readers)


def _signed_text(change: int | None) -> str:
    return signed_sv(change)


def _statement_href(asset_prefix: str, *, public: bool) -> str:
    """The statement in the public tree (served without a token). Through the assets
    folder, so that publish's r{n}/ rewrite of the prefix moves the link too."""
    tree = "" if public else "/offentlig"
    return f"{asset_prefix.rstrip('/')}/..{tree}/{STATEMENT_FILE}"


def _tables_html(
    summary: dict[str, Any],
    kommun_areas: KommunAreas,
    alerts: dict[str, list[str]],
    copies: list[IncidentPoint],
    areas: list[str],
    asset_prefix: str,
) -> str:
    """The map's numbers as tables, from the summary (the same as the pack and the JSON)."""
    names = [
        *kommun_areas.area_names,
        *(a["area"] for a in summary["areas"] if a["area"] not in kommun_areas.area_names),
    ]
    area_rows = []
    for name in names:
        row = _area_row(summary, name)
        area_rows.append(
            {
                "area": name,
                "count": count_or_text(row["total"]),
                "previous": count_or_text(row["previous"]),
                "change": _signed_text(row["change"]),
                "alerts": alerts.get(name, []),
            }
        )
    categories = [
        {
            "code": c["category"],
            "label": c["label"],
            "symbol": category_symbol(c["category"], c["label"]),
            "colour": _category_colour(c["category"]),
            "count": number_sv(c["count"]),
            "without_point": number_sv(c["count"] - c["with_point"]),
        }
        for c in summary["categories"]
        if c["count"]  # every category with händelser, also those without a point
    ]
    hotspots = [
        {
            "index": h["index"],
            "name": h["name"],
            "count": count_or_text(h["count"]),
            "previous": count_or_text(h["previous"]),
            "trend": h["trend"],
            "categories": ", ".join(
                f"{c['label']} {count_or_text(c['count'])}" for c in h["categories"]
            ),
            "plan": "; ".join(link["activity"] for link in h["plan_links"]),
            "gap": h["gap"],
        }
        for h in sorted(summary["hotspots"], key=lambda h: h["index"])
    ]
    presence = [
        {
            "place": p["place"],
            "hours": decimal_sv(p["hours"]),
            "visits": number_sv(p["visits"]),
            "incidents": number_sv(p["incidents"]),
        }
        for p in summary["presence"]
    ]
    duplicates = (
        {
            "code": DUPLICATE_CODE,
            "label": DUBBLETT.plural.capitalize(),
            "symbol": DUPLICATE_SYMBOL,
            "colour": DUPLICATE_COLOUR,
            "count": number_sv(len(copies)),
        }
        if copies
        else None
    )
    return _templates.get_template("map_tables.html.j2").render(
        public=False,
        iso_week=summary["iso_week"],
        week_label=summary["week_label"],
        headline=summary["headline"],
        counted_word=HANDELSE.plural,
        comparison_reason=summary["comparison"]["reason"],
        area_rows=area_rows,
        categories=categories,
        duplicates=duplicates,
        hotspots=hotspots,
        presence=presence,
        centroid_only=number_sv(summary["centroid_only"]) if summary["centroid_only"] else 0,
        areas_js=_js(areas),
        statement_href=_statement_href(asset_prefix, public=False),
    )


def _public_tables_html(
    summary: dict[str, Any], kommun_areas: KommunAreas, asset_prefix: str
) -> str:
    area_rows: list[dict[str, Any]] = []
    for name in kommun_areas.area_names:
        row = _area_row(summary, name)
        area_rows.append(
            {
                "area": name,
                "count": count_or_text(row["total"]),
                "previous": count_or_text(row["previous"]),
                "change": _signed_text(row["change"]),
                "alerts": [],
            }
        )
    return _templates.get_template("map_tables.html.j2").render(
        public=True,
        iso_week=summary["iso_week"],
        week_label=summary["week_label"],
        headline=summary["headline"],
        counted_word=HANDELSE.plural,
        comparison_reason=summary["comparison"]["reason"],
        area_rows=area_rows,
        categories=[],
        duplicates=None,
        hotspots=[],
        presence=[],
        centroid_only=0,
        areas_js="[]",
        statement_href=_statement_href(asset_prefix, public=True),
    )


class _Accessible(MacroElement):
    """Last on the map: Swedish names for Leaflet's own controls, popups that take focus and
    close with Escape, the controls before the markers in the tab order, the legend folded
    on a narrow screen, and the tables' "Visa på kartan" buttons (map_helpers.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        lagesbild.setup({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Accessible"


SKIP_LINK = '<a class="lb-skip" href="#lb-tabeller">Hoppa förbi kartan till kartan i tabellform</a>'
_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.IGNORECASE)


def _finish(m: folium.Map, asset_prefix: str, tables: str = "") -> str:
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    _CompactLayerControl(control).add_to(m)
    _Accessible().add_to(m)
    page = m.get_root().render().replace("<html>", '<html lang="sv">', 1)
    # Folium's viewport forbids zooming (WCAG 1.4.4): let people zoom.
    page = _VIEWPORT.sub(
        '<meta name="viewport" content="width=device-width, initial-scale=1">', page, count=1
    )
    css = _templates.get_template("map_style.css").render()
    # After Leaflet's stylesheets (so ours wins), the skip link first, the tables last.
    page = page.replace("</head>", f"<style>{css}</style>\n</head>", 1)
    body = page.index("<body>") + len("<body>")
    page = f"{page[:body]}\n{SKIP_LINK}\n<main>{page[body:]}"
    end = page.rindex("</body>")
    page = f"{page[:end]}{tables}\n</main>\n{page[end:]}"
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
        total = week.get("public_total") if public else week["total"]
        row = {
            **week,
            "revision": revision,
            "total": count_or_text(total),
            "week_label": week_label_sv(week["iso_week"]),
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
