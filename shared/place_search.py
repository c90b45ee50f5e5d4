"""Places a person can type instead of pointing at a map: every area of the kommun and its
parts ("Skäggetorp, norra delen", named the way the hotspots are), each with a point that
lies inside it. The report form's place search offers them, together with the kommun's
known places where it has any (WCAG 2.1.1: a report's place can be chosen by keyboard and
screen reader, not only on a map or by the phone's location).

Addresses would need a geocoder, which the offline services do not have.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from shared.areas import KommunAreas

# (suffix, which half of the area's bounding box)
_PARTS = (
    ("norra delen", "north"),
    ("södra delen", "south"),
    ("östra delen", "east"),
    ("västra delen", "west"),
)
MIN_PART_SHARE = 0.15  # a part smaller than this share of its area is not offered


def _half(geom: BaseGeometry, side: str) -> BaseGeometry:
    minx, miny, maxx, maxy = geom.bounds
    midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
    halves = {
        "north": box(minx, midy, maxx, maxy),
        "south": box(minx, miny, maxx, midy),
        "east": box(midx, miny, maxx, maxy),
        "west": box(minx, miny, midx, maxy),
    }
    return geom.intersection(halves[side])


def _point(geom: BaseGeometry) -> tuple[float, float]:
    p = geom.representative_point()  # always inside, unlike a centroid
    return round(p.y, 6), round(p.x, 6)


def area_places(areas: KommunAreas) -> list[dict[str, Any]]:
    """[{name, kind, lat, lon}]: each area, then its parts, in the area file's order."""
    out: list[dict[str, Any]] = []
    for area in areas.areas:
        lat, lon = _point(area.geometry)
        out.append({"name": area.name, "kind": "område", "lat": lat, "lon": lon})
        total = area.geometry.area or 1.0
        for suffix, side in _PARTS:
            part = _half(area.geometry, side)
            if part.is_empty or part.area / total < MIN_PART_SHARE:
                continue
            lat, lon = _point(part)
            out.append(
                {"name": f"{area.name}, {suffix}", "kind": "del av område", "lat": lat, "lon": lon}
            )
    return out
