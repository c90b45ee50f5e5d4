"""Settings for every service: one `LAGESBILD_` prefix, read from the environment or `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
EMBEDDED_REDIS_PORT = 6390


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAGESBILD_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        DEFAULT_DATA_DIR, description="where the SQLite file, embedded Redis and output live"
    )
    redis_url: str | None = Field(
        None, description="external Redis; unset = an embedded redis-server on 127.0.0.1:6390"
    )
    embedded_redis_port: int = EMBEDDED_REDIS_PORT
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset = SQLite in data_dir")
    output_dir: Path | None = Field(
        None, description="published lägesbilder; unset = data_dir/lagesbild"
    )
    areas_dir: Path | None = Field(None, description="extra <kommunkod>.geojson area files")
    area_name_property: str = "name"
    extra_categories: dict[str, str] = Field(default_factory=dict, description="code -> label")

    # ingest
    batch_size: int = 200
    max_failures: int = Field(3, ge=1, description="processing failures before dead-lettering")
    max_deliveries: int = Field(20, ge=2, description="deliveries (crashes too) before it anyway")
    claim_idle_ms: int = 30_000
    claim_interval_ms: int = 5_000
    max_future_skew_minutes: int = 15
    max_age_days: int = 400
    boundary_tolerance_m: float = 200.0
    duplicate_distance_m: float = 75.0
    duplicate_window_minutes: int = 60

    # aggregate
    week_build_cron: str = Field("0 6 * * mon", description="cron line, Europe/Stockholm")
    kommuner: list[str] = Field(default_factory=lambda: ["0580"])

    # retention (GDPR): raw reports, free text and points older than this are purged;
    # counts and frozen weeks' aggregates are kept
    retention_days: int = Field(400, ge=30)
    purge_cron: str = Field("30 3 * * *", description="daily purge, cron in Europe/Stockholm")

    # maps
    map_tiles: str = Field("OpenStreetMap", description="folium tiles; empty = none (offline)")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lagesbild.db'}"

    @property
    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.data_dir / "lagesbild"

    @property
    def resolved_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"


def get_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
