"""The TiB service's own settings, on top of the shared ones (same `LAGESBILD_` prefix)."""

from __future__ import annotations

from pydantic import Field

from shared.config import Settings


class TibSettings(Settings):
    tib_host: str = Field("127.0.0.1", description="address the TiB page and API listen on")
    tib_port: int = Field(8082, description="port of the TiB page and API")
    tib_history_days: int = Field(
        28, ge=7, description="accepted reports kept for the live picture and the patrol plan"
    )
    tib_tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="background tiles of the TiB map; empty = the kommun's areas only",
    )
    tib_heartbeat_seconds: float = Field(
        15.0,
        gt=0,
        description="SSE keep-alive comment; an open stream re-checks its token as often",
    )
    tib_rate_limit_per_minute: int = Field(
        300, ge=0, description="TiB requests per token and minute; 0 = no limit"
    )
    tib_intake_url: str = Field(
        "",
        description="address of the intake's report form for /uppdrag's 'rapportera "
        "härifrån' (e.g. https://rapport.example.se); empty = /rapport on the same host",
    )
