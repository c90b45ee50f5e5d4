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
