"""The maps service's own settings, on top of the shared ones (same `LAGESBILD_` prefix):
the maps' tiles, the archive server (`lagesbild maps-serve`) and `lagesbild screenshot`."""

from __future__ import annotations

from pydantic import Field

from shared.config import Settings


class MapsSettings(Settings):
    map_tiles: str = Field("OpenStreetMap", description="folium tiles; empty = none (offline)")

    # the archive server (services/maps/server.py)
    maps_host: str = Field("127.0.0.1", description="address the lägesbild archive listens on")
    maps_port: int = Field(8081, description="port of the lägesbild archive")
    maps_rate_limit_per_minute: int = Field(
        300, ge=0, description="archive requests per token and minute; 0 = no limit"
    )

    # `lagesbild screenshot` (services/maps/screenshot.py)
    chromium: str | None = Field(
        None,
        description="Chromium/Chrome for `lagesbild screenshot`; unset = looked up on PATH",
    )
