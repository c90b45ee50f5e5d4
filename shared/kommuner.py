"""The enabled kommuner with their areas and places, kept current while a service runs.

A kommun is enabled when it is in `LAGESBILD_KOMMUNER` (the initial set), in the registry
(`lagesbild kommun add`, shared/kommun_registry.py), or has an area file in the areas
directory (`lagesbild areas import` writes one). Its areas come from, in order: its file in
the areas directory, the packaged file (`shared/data/areas/`), or the packaged national
boundary with no named areas (shared/national.py); its known places from
`<areas dir>/places/<kommunkod>.geojson` (shared/places.py).

`LiveKommuner` is the `Mapping[str, KommunAreas]` every service holds. It looks again at the
registry and the files at most every `REFRESH_S` seconds when used, and at once (at most
every `MISS_REFRESH_S`) when asked for a kommun it does not have: a kommun enabled with
`lagesbild kommun add` is accepted by a running ingest at its first report, new or changed
area and place files are in use within `REFRESH_S`. No restart.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.areas import PACKAGED_AREAS_DIR, AreaFileError, KommunAreas, load_area_file
from shared.kommun_registry import Enabled, try_enabled_rows
from shared.national import boundary_only, national_kommuner
from shared.places import load_places, places_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from shared.config import Settings

log = logging.getLogger("lagesbild.kommuner")

REFRESH_S = 5.0
MISS_REFRESH_S = 1.0
_AREA_FILE = re.compile(r"^\d{4}\.geojson$")


class _InitialKommuner(BaseSettings):
    """LAGESBILD_KOMMUNER for a service whose own settings do not carry it (it lives with
    the aggregate's settings; every service needs the initial set)."""

    model_config = SettingsConfigDict(env_prefix="LAGESBILD_", env_file=".env", extra="ignore")
    kommuner: list[str] = Field(default_factory=lambda: ["0580"])


def initial_kommuner(settings: Settings) -> list[str]:
    """The initial set: LAGESBILD_KOMMUNER (from these settings when they have it)."""
    given = getattr(settings, "kommuner", None)
    return list(given) if given is not None else _InitialKommuner().kommuner


def areas_dir_of(settings: Settings) -> Path:
    """Where imported area and place files live: LAGESBILD_AREAS_DIR, else <data dir>/areas."""
    return settings.areas_dir or settings.data_dir / "areas"


def area_files(directory: Path) -> dict[str, Path]:
    """kommunkod -> `<kommunkod>.geojson` in a directory (backups and places not included)."""
    if not directory.is_dir():
        return {}
    return {p.name[:4]: p for p in sorted(directory.iterdir()) if _AREA_FILE.match(p.name)}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return -1.0


class LiveKommuner(Mapping[str, KommunAreas]):
    """kommunkod -> KommunAreas for every enabled kommun, refreshed as described above."""

    def __init__(
        self,
        *,
        initial: list[str] | tuple[str, ...] = (),
        areas_dir: Path | None = None,
        engine: Engine | None = None,
        name_property: str = "name",
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial = tuple(initial)
        self.areas_dir = areas_dir
        self.engine = engine
        self.name_property = name_property
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._current: dict[str, KommunAreas] = {}
        self._sources: dict[str, tuple[object, ...]] = {}
        self._registry: dict[str, Enabled] = {}
        self._checked = -1e18  # nothing is read until first use: building connects to nothing

    # --- Mapping -------------------------------------------------------------------------
    def __getitem__(self, kommun: str) -> KommunAreas:
        current = self._fresh()
        if kommun not in current and self._miss_refresh():
            current = self._current
        return current[kommun]

    def __contains__(self, kommun: object) -> bool:
        current = self._fresh()
        if kommun in current:
            return True
        return isinstance(kommun, str) and self._miss_refresh() and kommun in self._current

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._fresh()))

    def __len__(self) -> int:
        return len(self._fresh())

    # --- what is enabled, and why ---------------------------------------------------------
    def registry(self) -> dict[str, Enabled]:
        self._fresh()
        return dict(self._registry)

    def refresh(self) -> None:
        """Read the registry and the files again; unchanged kommuner keep their objects."""
        with self._lock:
            self._checked = self._clock()
            rows = try_enabled_rows(self.engine) if self.engine is not None else []
            registry = self._registry if rows is None else {r.kommun: r for r in rows}
            files = area_files(self.areas_dir) if self.areas_dir else {}
            packaged = area_files(PACKAGED_AREAS_DIR)
            wanted = set(self.initial) | set(registry) | set(files)
            current: dict[str, KommunAreas] = {}
            sources: dict[str, tuple[object, ...]] = {}
            for kommun in sorted(wanted):
                path = files.get(kommun) or packaged.get(kommun)
                places = places_path(self.areas_dir, kommun) if self.areas_dir else None
                name = registry[kommun].name if kommun in registry else ""
                source = (
                    path,
                    _mtime(path) if path else None,
                    _mtime(places) if places else None,
                    name,
                )
                if self._sources.get(kommun) == source and kommun in self._current:
                    current[kommun], sources[kommun] = self._current[kommun], source
                    continue
                areas = self._load(kommun, path, places, name)
                if areas is not None:
                    current[kommun], sources[kommun] = areas, source
            self._registry, self._current, self._sources = registry, current, sources

    def _load(
        self, kommun: str, path: Path | None, places: Path | None, name: str
    ) -> KommunAreas | None:
        try:
            if path is not None:
                areas = load_area_file(path, self.name_property)
            elif kommun in national_kommuner():
                areas = boundary_only(kommun, name or None)
            else:
                log.warning(
                    "kommun %s: varken områdesfil eller känd kommunkod; hoppas över", kommun
                )
                return self._current.get(kommun)
            if places is not None:
                areas = dataclasses.replace(areas, places=tuple(load_places(places)))
        except (AreaFileError, ValueError, OSError, KeyError) as exc:
            # A broken file never takes a running kommun away: the last good one stays.
            log.error(
                "kommun %s: kan inte läsa områden/platser (%s); behåller föregående", kommun, exc
            )
            return self._current.get(kommun)
        return areas

    def _fresh(self) -> dict[str, KommunAreas]:
        if self._clock() - self._checked >= self.refresh_s:
            self.refresh()
        return self._current

    def _miss_refresh(self) -> bool:
        if self._clock() - self._checked < MISS_REFRESH_S:
            return False
        self.refresh()
        return True


def live_kommuner(settings: Settings, engine: Engine | None = None) -> LiveKommuner:
    """The enabled kommuner for a service (an engine on its database: it reads the registry)."""
    if engine is None:
        from shared.db import make_engine

        engine = make_engine(settings.resolved_database_url)
    return LiveKommuner(
        initial=initial_kommuner(settings),
        areas_dir=areas_dir_of(settings),
        engine=engine,
        name_property=settings.area_name_property,
    )
