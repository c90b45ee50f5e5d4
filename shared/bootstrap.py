"""What every service builds first from its settings: the database engine, the kommuner
(their areas, kept current from the enabled-kommuner registry) and the category catalogue.

`bootstrap(settings)` connects to nothing (a factory, an import or `--help` never touches
the database); the schema is migrated when the service starts: a FastStream service calls
`migrate_on_startup(app, foundation)`, an HTTP service runs `foundation.migrate` in its
lifespan (in a thread: Alembic is synchronous).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from shared.areas import KommunAreas
from shared.categories import category_catalog
from shared.config import Settings
from shared.db import init_db, make_engine
from shared.kommuner import live_kommuner


@dataclass(frozen=True)
class Foundation:
    engine: Engine
    kommuner: Mapping[str, KommunAreas]  # the enabled kommuner, looked up again as they change
    categories: dict[str, str]  # code -> Swedish label, extra categories included

    def migrate(self) -> None:
        """Bring the schema to the newest migration (serialised across processes)."""
        init_db(self.engine)


def bootstrap(settings: Settings) -> Foundation:
    """Engine (not yet connected), kommuner and categories for a service."""
    engine = make_engine(settings.resolved_database_url)
    return Foundation(
        engine=engine,
        kommuner=live_kommuner(settings, engine),
        categories=category_catalog(settings.extra_categories),
    )


def migrate_on_startup(app: Any, foundation: Foundation) -> None:
    """Migrate when a FastStream app starts, before its broker reads anything."""

    @app.on_startup
    async def migrate() -> None:
        await asyncio.to_thread(foundation.migrate)
