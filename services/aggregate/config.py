"""The aggregate's own settings, on top of the shared ones (same `LAGESBILD_` prefix): the
weekly build's schedule, and how often a late report may revise a week."""

from __future__ import annotations

from pydantic import Field

from shared.config import Settings


class AggregateSettings(Settings):
    week_build_cron: str = Field("0 6 * * mon", description="cron line, Europe/Stockholm")
    revision_min_interval_s: float = Field(
        300,
        ge=0,
        description="late reports make at most one new revision of a built week this often",
    )
