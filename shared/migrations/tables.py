"""Every table of the product, for Alembic (`env.py`) and the schema test.

Each service owns its tables in its own folder (`services/<service>/models.py`); the shared
platform tables are the access registry (`shared/models_access.py`), the enabled-kommuner
registry (`shared/kommun_registry.py`) and the purge audit (`shared/retention.py`). This
explicit list is the one place that imports them all, so `SQLModel.metadata` is complete
when a migration is written or checked. It is the only import from `shared/` into a
service, allowed by the `shared-imports-no-service` contract in pyproject.toml because
Alembic loads this package by file path and no module imports it (only the schema test).
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from services.aggregate import models as aggregate_tables
from services.ingest import models as ingest_tables
from services.intake import models as intake_tables
from services.maps import models as maps_tables
from services.tib import models as tib_tables
from shared import kommun_registry, models_access, retention

# Every module that defines tables: importing them registers them on SQLModel.metadata.
TABLE_MODULES = (
    ingest_tables,
    aggregate_tables,
    intake_tables,
    maps_tables,
    tib_tables,
    models_access,
    kommun_registry,
    retention,
)


def all_tables() -> MetaData:
    """SQLModel's metadata, with every table registered."""
    return SQLModel.metadata
