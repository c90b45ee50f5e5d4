"""The week map's analysis layers: change against last week, unusual rises, hotspots.

Kept apart from render.py, which draws what every week has (areas, incidents, heat);
these draw what the aggregate's analysis adds to a snapshot. Pure functions.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Template
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.maps.palette import AREA_OUTLINE, CHANGE_COLOURS, CHANGE_OPACITY
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import DecisionV1, HotspotV1, PlanLinkV1, WeekSnapshotV1
from shared.formats import count_or_text, decimal_sv, number_sv

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
)

CHANGE_LAYER = "Förändring mot förra veckan"
HOTSPOT_COLOUR = "#111111"
PRESENCE_COLOUR = "#1f4e9c"  # guards: the blue of a uniform, apart from the category colours


def label_of(snapshot: WeekSnapshotV1, code: str) -> str:
    return snapshot.categories.get(code) or DEFAULT_CATEGORIES.get(code) or code


# --- unusual rises ------------------------------------------------------------------


def area_alerts(snapshot: WeekSnapshotV1) -> dict[str, list[str]]:
    """Per area, the unusual rises (stats alert) as 'Kategori: text' lines."""
    alerts: dict[str, list[str]] = defaultdict(list)
    for s in snapshot.stats:
        if s.alert:
            alerts[s.area].append(f"{label_of(snapshot, s.category)}: {s.text}")
    return dict(alerts)


def alert_tooltip_html(lines: list[str]) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<div class="lb-alert"><b>⚠ Ovanlig ökning</b><ul>{items}</ul></div>'


# --- change against last week -------------------------------------------------------
#
# A diverging scale centred on zero that colours only clear changes: an area is shaded up
# or down only when its change is at least `MIN_CLEAR_CHANGE` *and* the exact conditional
# test of two Poisson counts (given n = this week + last week, this week ~ Bin(n, 1/2) when
# the rate is unchanged) rejects "no change" at `CLEAR_CHANGE_ALPHA`, two-sided. Everything
# else is the neutral class "Ingen tydlig förändring", so a uniform small change (every
# area +1) or ordinary week-to-week noise leaves the map neutral. docs/maps.md states it.

MIN_CLEAR_CHANGE = 3
CLEAR_CHANGE_ALPHA = 0.05
NEUTRAL_LABEL = "Ingen tydlig förändring"
CHANGE_RULE_NOTE = (
    "Färg bara där ändringen är minst 3 och större än slumpen förklarar "
    "(exakt test, 5 %); övriga områden är grå."
)
NO_CLEAR_CHANGE = "Inget område har ändrats tydligt mot förra veckan."


def change_p_value(current: int, previous: int) -> float:
    """Two-sided p-value of "same rate both weeks" for two Poisson counts: the exact
    conditional binomial test (this week's count of the n = current + previous händelser,
    probability 1/2 under no change)."""
    n = current + previous
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(current, previous) + 1))
    return min(1.0, 2 * tail / 2**n)


def is_clear_change(current: int, previous: int | None) -> bool:
    """A change the map colours: at least `MIN_CLEAR_CHANGE` and significant."""
    if previous is None or abs(current - previous) < MIN_CLEAR_CHANGE:
        return False
    return change_p_value(current, previous) < CLEAR_CHANGE_ALPHA


def change_classes(max_clear: int) -> tuple[int, list[dict[str, str]]]:
    """Step size and legend of the diverging scale: three classes of clear decreases, the
    neutral class, three of clear increases. `max_clear`: the largest clear |change| of
    the week; the classes start at `MIN_CLEAR_CHANGE`."""
    span = max(1, max_clear - MIN_CLEAR_CHANGE + 1)
    step = max(1, math.ceil(span / 3))
    items = []
    for k in (3, 2, 1):
        lo, hi = MIN_CLEAR_CHANGE + (k - 1) * step, MIN_CLEAR_CHANGE + k * step - 1
        items.append({"colour": CHANGE_COLOURS[3 - k], "label": _range_label(-hi, -lo, k == 3)})
    items.append({"colour": CHANGE_COLOURS[3], "label": NEUTRAL_LABEL})
    for k in (1, 2, 3):
        lo, hi = MIN_CLEAR_CHANGE + (k - 1) * step, MIN_CLEAR_CHANGE + k * step - 1
        items.append({"colour": CHANGE_COLOURS[3 + k], "label": _range_label(lo, hi, k == 3)})
    return step, items


def _range_label(lo: int, hi: int, open_end: bool) -> str:
    def sign(n: int) -> str:
        return f"+{n}" if n > 0 else f"−{-n}"

    if open_end:
        return f"{sign(lo)} eller mer" if lo > 0 else f"{sign(hi)} eller mer"
    return sign(lo) if lo == hi else f"{sign(lo)} … {sign(hi)}"


def change_colour(current: int, previous: int | None, step: int) -> str:
    """An area's colour on the change layer: neutral unless the change is clear."""
    if previous is None or not is_clear_change(current, previous):
        return CHANGE_COLOURS[3]
    change = current - previous
    k = min(3, 1 + (abs(change) - MIN_CLEAR_CHANGE) // step)
    return CHANGE_COLOURS[3 + k] if change > 0 else CHANGE_COLOURS[3 - k]


def change_scale(
    pairs: Sequence[tuple[int, int | None]],
) -> tuple[int, list[dict[str, str]], list[str]]:
    """The week's change scale over (this week, last week) per area: its step, its legend
    items (the whole scale, also when no area changed clearly) and each area's colour."""
    clear = [abs(c - p) for c, p in pairs if p is not None and is_clear_change(c, p)]
    step, items = change_classes(max(clear, default=MIN_CLEAR_CHANGE))
    return step, items, [change_colour(c, p, step) for c, p in pairs]


def add_change_layer(
    m: folium.Map, features: list[dict[str, Any]]
) -> tuple[folium.FeatureGroup, list[dict[str, str]], bool]:
    """Areas shaded by clear change (hidden at first); each feature's properties hold
    'total', 'previous' and 'tooltip'. Returns the layer, its legend items and whether any
    area changed clearly."""
    pairs: list[tuple[int, int | None]] = []
    for f in features:
        total, previous = f["properties"]["total"], f["properties"].get("previous")
        ok = isinstance(total, int) and isinstance(previous, int)
        pairs.append((total, previous) if ok else (0, None))
    _, items, colours = change_scale(pairs)
    shaded = [
        {**f, "properties": {"tooltip": f["properties"]["tooltip"], "fill": colour}}
        for f, colour in zip(features, colours, strict=True)
    ]
    layer = folium.FeatureGroup(name=CHANGE_LAYER, show=False)
    layer.add_to(m)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": shaded},
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": CHANGE_OPACITY,
            "color": AREA_OUTLINE,
            "weight": 1.5,
        },
        highlight_function=lambda f: {"weight": 3, "color": "#222222"},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True) if shaded else None,
    ).add_to(layer)
    return layer, items, any(colour != CHANGE_COLOURS[3] for colour in colours)


class LegendFollowsLayer(MacroElement):
    """Show the legend blocks marked `data-lb-layer="{key}"` only while `layer` is on
    (map_helpers.js listens to Leaflet's overlayadd/overlayremove)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        lagesbild.legendFor({{ this._parent.get_name() }}, {{ this.layer.get_name() }},
                            {{ this.key|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: folium.map.Layer, key: str) -> None:
        super().__init__()
        self._name = "LegendFollowsLayer"
        self.layer, self.key = layer, key


# --- hotspots -------------------------------------------------------------------------


def hotspot_links(snapshot: WeekSnapshotV1, hotspot: HotspotV1) -> list[PlanLinkV1]:
    return [
        link
        for link in snapshot.plan_links
        if link.target == "hotspot" and link.target_name == hotspot.name
    ]


def hotspot_decisions(snapshot: WeekSnapshotV1, hotspot: HotspotV1) -> list[DecisionV1]:
    return [d for d in snapshot.open_decisions if d.target == hotspot.name]


def hotspot_has_gap(snapshot: WeekSnapshotV1, hotspot: HotspotV1) -> bool:
    return any(g.target == "hotspot" and g.target_name == hotspot.name for g in snapshot.plan_gaps)


def hotspot_popup_html(
    snapshot: WeekSnapshotV1, hotspot: HotspotV1, row: dict[str, Any] | None = None
) -> str:
    """The hotspot's popup. Its numbers are the summary's row of the hotspot (`row`, from
    `summary.week_summary`: händelser, the week before only when compared) when given."""
    if row is None:
        categories = sorted(hotspot.categories.items(), key=lambda kv: (-kv[1], kv[0]))
        numbers = {
            "count": str(hotspot.count),
            "previous": str(hotspot.previous),
            "trend": hotspot.trend,
            "categories": [(label_of(snapshot, code), str(n)) for code, n in categories],
        }
    else:
        numbers = {
            "count": count_or_text(row["count"]),
            "previous": count_or_text(row["previous"]),
            "trend": row["trend"],
            "categories": [(c["label"], count_or_text(c["count"])) for c in row["categories"]],
        }
    return _templates.get_template("hotspot_popup.html.j2").render(
        h={"name": hotspot.name, **numbers},
        categories=numbers["categories"],
        links=hotspot_links(snapshot, hotspot),
        decisions=hotspot_decisions(snapshot, hotspot),
        gap=hotspot_has_gap(snapshot, hotspot),
    )


def add_hotspot_layer(
    m: folium.Map, snapshot: WeekSnapshotV1, summary: dict[str, Any] | None = None
) -> folium.FeatureGroup | None:
    """Statistical hotspots as outlined shapes; a click opens their popup (its numbers from
    the week's summary when given)."""
    if not snapshot.hotspots:
        return None
    rows = {h["index"]: h for h in summary["hotspots"]} if summary else {}
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": h.polygon},
            "properties": {
                "popup": hotspot_popup_html(snapshot, h, rows.get(i)),
                "tooltip": f"<b>{html.escape(h.name)}</b> (hotspot)",
            },
        }
        for i, h in enumerate(snapshot.hotspots)
    ]
    layer = folium.FeatureGroup(name=f"Hotspots ({len(features)})", show=True)
    layer.add_to(m)
    shapes: folium.GeoJson = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=lambda f: {
            "color": HOTSPOT_COLOUR,
            "weight": 3,
            "dashArray": "6 4",
            "fillColor": HOTSPOT_COLOUR,
            "fillOpacity": 0.08,  # a fill, so a click inside the outline opens the popup
            "className": "lb-hotspot",
        },
        highlight_function=lambda f: {"weight": 5},
        tooltip=folium.GeoJsonTooltip(["tooltip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(["popup"], labels=False, localize=False, max_width=360),
    )
    shapes.add_to(layer)
    _RegisterHotspots(shapes, [h.name for h in snapshot.hotspots]).add_to(m)
    return layer


class _RegisterHotspots(MacroElement):
    """Hand the hotspot shapes to the page's helper: the table's "Visa på kartan" opens
    a hotspot's popup (map_helpers.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        lagesbild.registerHotspots({{ this.shapes.get_name() }}, {{ this.names_js }});
        {% endmacro %}
        """
    )

    def __init__(self, shapes: folium.GeoJson, names: list[str]) -> None:
        super().__init__()
        self._name = "RegisterHotspots"
        self.shapes = shapes
        # JSON that is safe inside <script> (as render._js; not imported: no cycle)
        self.names_js = (
            json.dumps(names, ensure_ascii=False)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
        )


def add_presence_layer(m: folium.Map, snapshot: WeekSnapshotV1) -> folium.FeatureGroup | None:
    """Where the guards were: a circle per place with coordinates, sized by hours (restricted
    map only — the public must not learn the patrol pattern)."""
    placed = [
        (p, (p.lat, p.lon))
        for p in snapshot.patrol_presence
        if p.lat is not None and p.lon is not None
    ]
    if not placed:
        return None
    layer = folium.FeatureGroup(name=f"Väktarnas närvaro ({len(placed)})", show=True)
    layer.add_to(m)
    for p, location in placed:
        hours = decimal_sv(p.hours)
        text = (
            f"<b>{html.escape(p.place)}</b><br>{hours} h väktare, {number_sv(p.visits)} besök<br>"
            f"{number_sv(p.incidents)} händelser på platsen, "
            f"{number_sv(p.incidents_during)} under närvaro"
        )
        folium.CircleMarker(
            location=location,
            radius=min(6 + 2 * math.sqrt(p.hours), 22),
            color=PRESENCE_COLOUR,
            weight=2,
            fill=True,
            fill_opacity=0.35,
            class_name="lb-presence",
            tooltip=text,
        ).add_to(layer)
    return layer
