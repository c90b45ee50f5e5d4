"""The settings every service shares: one `LAGESBILD_` prefix, read from the environment or
`.env`. Each service's own settings are a subclass in its `config.py` (same prefix, so the
variable names are the same as ever): `services/ingest/config.py` (IngestSettings),
`services/aggregate/config.py` (AggregateSettings), `services/maps/config.py` (MapsSettings),
`services/intake/config.py` (IntakeSettings), `services/tib/config.py` (TibSettings).
`lagesbild env-example` lists every class's variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

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
    # the kommuner served from the start (every service; more are enabled in the registry,
    # shared/kommun_registry.py); the weekly schedule builds them
    kommuner: list[str] = Field(default_factory=lambda: ["0580"])

    # every stream consumer (batches, reclaimer, dead letters, trimming)
    batch_size: int = 200
    max_failures: int = Field(3, ge=1, description="processing failures before dead-lettering")
    max_deliveries: int = Field(20, ge=2, description="deliveries (crashes too) before it anyway")
    claim_idle_ms: int = 30_000
    claim_interval_ms: int = 5_000
    stream_retention_hours: float = Field(
        168,
        ge=0,
        description=(
            "stream entries are kept at least this long, even once every group has "
            "acknowledged them (a service started later rebuilds from them); never trimmed "
            "before every group has acknowledged them"
        ),
    )
    # report validation (shared/validation.py), in the ingest and at the intake's door
    max_future_skew_minutes: int = 15
    max_age_days: int = 400
    boundary_tolerance_m: float = 200.0

    # retention (GDPR): raw reports, free text and points older than this are purged;
    # counts and frozen weeks' aggregates are kept
    retention_days: int = Field(400, ge=30)
    purge_cron: str = Field("30 3 * * *", description="daily purge, cron in Europe/Stockholm")

    # observability (shared/observability.py): every service
    metrics_port: int = Field(0, ge=0, description="port of /metrics and /healthz; 0 = off")
    metrics_host: str = Field("127.0.0.1", description="address of /metrics and /healthz")
    log_format: Literal["text", "json"] = Field("text", description="service logs: text or json")
    gauge_interval_s: float = Field(5.0, gt=0, description="how often pending/lag are read")

    # HTTP servers (intake, tib serve, maps-serve): shared/http_server.py
    http_header_timeout_s: float = Field(
        10.0, gt=0, description="request line and headers must arrive within this (else 408)"
    )
    http_body_timeout_s: float = Field(
        30.0, gt=0, description="a request body must arrive within this of its start (else 408)"
    )
    http_keep_alive_s: int = Field(5, ge=1, description="idle keep-alive connections close after")
    http_max_header_bytes: int = Field(
        16_384, ge=1024, description="request line and headers larger than this are refused (400)"
    )
    http_limit_concurrency: int = Field(
        200, ge=1, description="open connections per server at once; more are answered 503"
    )
    http_shutdown_timeout_s: float = Field(
        10.0, ge=0, description="on shutdown, running requests get this long to finish"
    )

    # access (every service that checks tokens; shared/access.py)
    auth_failures_per_minute: int = Field(
        10, ge=0, description="failed token checks per client address and minute before 429"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (addresses or networks) whose X-Forwarded-For is believed",
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lagesbild.db'}"

    @property
    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.data_dir / "lagesbild"

    @property
    def resolved_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"


ServiceSettings = TypeVar("ServiceSettings", bound=Settings)


def settings_for(cls: type[ServiceSettings], settings: Settings | None) -> ServiceSettings:
    """A service's own settings from the shared ones it was given (the CLI and the tests
    hand every service a `Settings`): the shared values are kept, the service's own
    fields come from the environment (or their defaults)."""
    if isinstance(settings, cls):
        return settings
    return cls(**(settings.model_dump() if settings is not None else {}))
