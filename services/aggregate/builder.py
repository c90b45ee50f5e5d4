"""Build (or rebuild) one week: read the projection, compute, keep a new revision if changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.aggregate import store
from services.aggregate.logic import build_snapshot
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1
from shared.weeks import shift_week

log = logging.getLogger("lagesbild.aggregate")


class UnknownKommunError(LookupError):
    pass


@dataclass
class WeekBuilder:
    engine: Engine
    kommuner: Mapping[str, KommunAreas]
    categories: Mapping[str, str]

    def build(self, kommun: str, iso_week: str, now: datetime) -> tuple[WeekSnapshotV1, bool]:
        """The week's current snapshot, and whether this call created a new revision."""
        if kommun not in self.kommuner:
            known = ", ".join(sorted(self.kommuner)) or "inga"
            raise UnknownKommunError(f"okänd kommun {kommun!r} (konfigurerade: {known})")
        latest = store.latest_snapshot(self.engine, kommun, iso_week)
        snapshot = build_snapshot(
            kommun=self.kommuner[kommun],
            categories=self.categories,
            iso_week=iso_week,
            incidents=store.week_incidents(self.engine, kommun, iso_week),
            previous_incidents=store.week_incidents(self.engine, kommun, shift_week(iso_week, -1)),
            revision=(latest.revision + 1) if latest else 1,
            built_at=now,
        )
        if latest and latest.content_hash == snapshot.content_hash:
            return latest, False
        try:
            store.save_snapshot(self.engine, snapshot)
        except IntegrityError:
            # Another aggregate instance saved this revision first; theirs is as good.
            current = store.latest_snapshot(self.engine, kommun, iso_week)
            assert current is not None
            return current, False
        log.info("built %s %s revision %d", kommun, iso_week, snapshot.revision)
        return snapshot, True
