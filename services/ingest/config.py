"""The ingest's own settings, on top of the shared ones (same `LAGESBILD_` prefix): likely
duplicates, and the police events importer (`lagesbild import police-poll`)."""

from __future__ import annotations

from pydantic import Field

from shared.config import Settings

MIN_POLL_SECONDS = 60.0  # the API allows 1440 calls a day: one a minute on average
DEFAULT_USER_AGENT = "lagesbild-polisimport/1 (open source lägesbild för kommun och polis)"


class IngestSettings(Settings):
    duplicate_distance_m: float = 75.0
    duplicate_window_minutes: int = 60

    # the police events importer (services/ingest/police_cli.py, docs/police-import.md)
    police_url: str | None = Field(
        None, description="events API to poll, e.g. https://polisen.se/api/events?locationname=…"
    )
    police_poll_seconds: float = Field(
        300.0, description=f"poll interval, at least {MIN_POLL_SECONDS:.0f} s"
    )
    police_user_agent: str = Field(
        DEFAULT_USER_AGENT, description="User-Agent sent to the API: name your organisation"
    )
