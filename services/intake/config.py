"""The intake's own settings, on top of the shared ones (same `LAGESBILD_` prefix)."""

from __future__ import annotations

from pydantic import Field

from shared.config import Settings


class IntakeSettings(Settings):
    intake_host: str = Field("127.0.0.1", description="address the HTTP intake listens on")
    intake_port: int = Field(8080, description="port of the HTTP intake")
    intake_max_body_bytes: int = Field(
        1_048_576, description="larger request bodies are refused (413) before parsing"
    )
    intake_rate_limit_per_minute: int = Field(
        120, description="requests per token and minute; 0 = no limit"
    )
    intake_tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="background tiles of the form's map; empty = the kommun's areas only",
    )
    intake_tile_attribution: str = Field(
        "© OpenStreetMap-bidragsgivare",
        description="the attribution shown with LAGESBILD_INTAKE_TILE_URL's tiles",
    )
    wms_url: str = Field(
        "",
        description="a WMS service as the form's background map (e.g. a municipality's or "
        "Lantmäteriet's topographic map); empty = none. A WMTS: its REST tile template in "
        "LAGESBILD_INTAKE_TILE_URL",
    )
    wms_layers: str = Field("", description="the WMS layers to draw, comma-separated")
    wms_attribution: str = Field("", description="the attribution shown with the WMS map")
    photo_max_bytes: int = Field(
        10_485_760, description="largest report photo accepted (bytes); the form sends ≤ 1600 px"
    )
    category_usage_days: int = Field(
        90, description="the form puts the categories used most in this many days first"
    )
    open311_public_read: bool = Field(
        True,
        description="Open311 GET requests without a key show the public view (category, "
        "status, area; no text, no exact point); false = a key is needed",
    )
