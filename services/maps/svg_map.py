"""Small map pictures for the meeting pack: inline SVG, drawn by the product. Pure.

No tiles, no scripts, no external files: the picture works from a USB stick, by e-mail and
on paper. It shows the areas around the place (clipped to the frame, simplified), the
place itself (a hotspot's shape, or the area of a rise), the week's händelser there as
points, the area names and a scale bar in metres. Every text is escaped: names come from
area files and hotspots, and are data, never markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from markupsafe import Markup, escape
from shapely.geometry import MultiPoint, box
from shapely.geometry.base import BaseGeometry

from shared.areas import KommunAreas
from shared.geo import METRES_PER_DEGREE, metres_per_degree_lon

WIDTH, HEIGHT = 340, 220  # viewBox units (px on screen; the pack scales it for paper)
MIN_EXTENT_M = 600.0  # the frame never shows less than this across
PAD = 0.3  # around the place, as a share of its extent
NICE_M = (25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)
MIN_LABEL_SHARE = 0.06  # an area is named when it fills at least this share of the frame

HIGHLIGHT_FILL, HIGHLIGHT_STROKE = "#d7301f", "#99000d"
POINT_FILL = "#3b0a45"
AREA_FILL, AREA_STROKE, BACKGROUND = "#eef1ea", "#7d8577", "#fbfbf8"


@dataclass(frozen=True)
class Frame:
    """Lon/lat ↔ picture coordinates (equirectangular around the frame's centre)."""

    west: float
    south: float
    east: float
    north: float
    metres_per_unit: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.west) / (self.east - self.west) * WIDTH
        y = (self.north - lat) / (self.north - self.south) * HEIGHT
        return x, y

    @property
    def polygon(self) -> BaseGeometry:
        return box(self.west, self.south, self.east, self.north)


def frame_around(geometry: BaseGeometry) -> Frame:
    """A frame of WIDTH:HEIGHT around `geometry`, padded, at least MIN_EXTENT_M across."""
    west, south, east, north = geometry.bounds
    lat0 = (south + north) / 2
    mx, my = metres_per_degree_lon(lat0), METRES_PER_DEGREE
    cx, cy = (west + east) / 2 * mx, lat0 * my  # metres
    w = max((east - west) * mx * (1 + 2 * PAD), MIN_EXTENT_M)
    h = max((north - south) * my * (1 + 2 * PAD), MIN_EXTENT_M * HEIGHT / WIDTH)
    if w / h < WIDTH / HEIGHT:
        w = h * WIDTH / HEIGHT
    else:
        h = w * HEIGHT / WIDTH
    return Frame(
        west=(cx - w / 2) / mx,
        south=(cy - h / 2) / my,
        east=(cx + w / 2) / mx,
        north=(cy + h / 2) / my,
        metres_per_unit=w / WIDTH,
    )


def _rings(geometry: BaseGeometry) -> Iterable[Sequence[tuple[float, float]]]:
    for poly in getattr(geometry, "geoms", [geometry]):
        if poly.geom_type == "Polygon" and not poly.is_empty:
            yield list(poly.exterior.coords)
            for hole in poly.interiors:
                yield list(hole.coords)
        elif hasattr(poly, "geoms"):
            yield from _rings(poly)


def path_d(geometry: BaseGeometry, frame: Frame) -> str:
    parts = []
    for ring in _rings(geometry):
        points = [frame.xy(lon, lat) for lon, lat in ring]
        if len(points) < 3:
            continue
        head, *rest = points
        parts.append(
            f"M{head[0]:.1f} {head[1]:.1f}" + "".join(f"L{x:.1f} {y:.1f}" for x, y in rest) + "Z"
        )
    return "".join(parts)


def scale_length(metres_per_unit: float, target_units: float = WIDTH / 4) -> int:
    """The nice length (m) whose bar is closest to `target_units` long."""
    want = metres_per_unit * target_units
    return min(NICE_M, key=lambda m: abs(math.log(m / want)))


def metres_text(m: int) -> str:
    return f"{m // 1000} km" if m >= 1000 and m % 1000 == 0 else f"{m} m"


def _areas_layer(areas: KommunAreas, frame: Frame, skip: str | None) -> tuple[list[str], list[str]]:
    shapes, labels = [], []
    frame_poly = frame.polygon
    tolerance = frame.metres_per_unit / METRES_PER_DEGREE  # about one picture unit
    for area in areas.areas:
        if not area.geometry.intersects(frame_poly):
            continue
        clipped = shapely.intersection(area.geometry, frame_poly).simplify(tolerance)
        if clipped.is_empty:
            continue
        d = path_d(clipped, frame)
        if d:
            shapes.append(f'<path class="area" d="{d}"/>')
        if area.name != skip and clipped.area >= MIN_LABEL_SHARE * frame_poly.area:
            p = clipped.representative_point()
            x, y = frame.xy(p.x, p.y)
            labels.append(
                f'<text class="area-label" x="{x:.1f}" y="{y:.1f}" text-anchor="middle">'
                f"{escape(area.name)}</text>"
            )
    return shapes, labels


def place_map(
    *,
    svg_id: str,
    title: str,
    description: str,
    place: BaseGeometry | None,
    points: Sequence[tuple[float, float]],
    areas: KommunAreas | None = None,
    area_name: str | None = None,
) -> Markup:
    """The picture of one place: `place` (a shape; None: the area `area_name` from
    `areas`), its `points` (lat, lon), the areas around it, a scale bar. None when
    there is nothing to frame."""
    if place is None and areas is not None and area_name is not None:
        place = next((a.geometry for a in areas.areas if a.name == area_name), None)
    pts = [(lon, lat) for lat, lon in points]
    extent: BaseGeometry | None = place
    if extent is None and pts:
        extent = MultiPoint(pts)
    if extent is None or extent.is_empty:
        return Markup("")
    frame = frame_around(extent)
    parts = [
        f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="{BACKGROUND}"/>'
    ]
    labels: list[str] = []
    if areas is not None:
        shapes, labels = _areas_layer(areas, frame, area_name)
        parts.append(
            f'<g class="areas" fill="{AREA_FILL}" stroke="{AREA_STROKE}" stroke-width=".8">'
            + "".join(shapes)
            + "</g>"
        )
    if place is not None:
        d = path_d(shapely.intersection(place, frame.polygon), frame)
        if d:
            parts.append(
                f'<path class="place" d="{d}" fill="{HIGHLIGHT_FILL}" fill-opacity=".2" '
                f'stroke="{HIGHLIGHT_STROKE}" stroke-width="2" fill-rule="evenodd"/>'
            )
    circles = []
    for lon, lat in pts:
        x, y = frame.xy(lon, lat)
        circles.append(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="3.2"/>')
    parts.append(f'<g fill="{POINT_FILL}" stroke="#fff" stroke-width=".8">{"".join(circles)}</g>')
    parts.append(
        f'<g font-family="system-ui, sans-serif" font-size="10" font-weight="600" fill="#333" '
        f'stroke="#fff" stroke-width="3" paint-order="stroke">{"".join(labels)}</g>'
    )
    metres = scale_length(frame.metres_per_unit)
    bar = metres / frame.metres_per_unit
    x0, y0 = 10.0, HEIGHT - 12.0
    parts.append(
        f'<g class="scale"><rect x="{x0 - 4:.0f}" y="{y0 - 14:.0f}" width="{bar + 8:.1f}" '
        f'height="20" fill="#fff" fill-opacity=".85"/>'
        f'<path d="M{x0:.1f} {y0 - 4:.1f}V{y0:.1f}H{x0 + bar:.1f}V{y0 - 4:.1f}" '
        f'fill="none" stroke="#222" stroke-width="1.5"/>'
        f'<text x="{x0 + bar / 2:.1f}" y="{y0 - 5:.1f}" text-anchor="middle" '
        f'font-family="system-ui, sans-serif" font-size="10" fill="#222">'
        f"{metres_text(metres)}</text></g>"
    )
    sid = escape(svg_id)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="placemap" role="img" '
        f'aria-labelledby="{sid}-t {sid}-d" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{sid}-t">{escape(title)}</title>'
        f'<desc id="{sid}-d">{escape(description)}</desc>' + "".join(parts) + "</svg>"
    )
