"""Small geodesy helpers: the one distance and the one degree-to-metre scale of the project.

- `distance_m`: the great-circle (haversine) distance on a sphere of the Earth's mean
  radius. Every distance in the product (duplicates, plan places and hotspot reach,
  patrol presence, the TiB's travel times, place search) uses it. Within a kommun it
  differs from the flat (equirectangular) formula some modules used before by under
  0.2 %.
- `METRES_PER_DEGREE` (111,320 m: a degree of latitude, or of longitude at the equator)
  and `metres_per_degree_lon(lat)`: the scale of the local equirectangular projections
  (the hotspot grid, the duplicate finder's buckets, the boundary tolerance, the demo's
  offsets). The hotspot grid's cells are anchored on it, so it stays this value: another
  would move every cell and revise every frozen week.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE = 111_320.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def metres_per_degree_lon(lat: float) -> float:
    """Metres per degree of longitude at latitude `lat` (equirectangular)."""
    return METRES_PER_DEGREE * math.cos(math.radians(lat))
