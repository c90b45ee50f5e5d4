"""Build (or rebuild) one week: read the projection, compute, keep a new revision if changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.aggregate import patrol_store, plan_store, store
from services.aggregate.followup import weeks_needed
from services.aggregate.hotspot_grid import HotspotGrid
from services.aggregate.models import WeekCount, WeekSnapshotRow
from services.aggregate.presence import presence_period, with_areas
from services.aggregate.snapshot import (
    BASELINE_WEEKS_FOR_HOTSPOTS,
    HOTSPOT_CELL_M,
    WeekInputs,
    build_snapshot,
    hotspot_cells,
)
from shared.access import list_organisations
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1
from shared.observability import WEEK_BUILD_SECONDS
from shared.plan import parse_plan
from shared.weeks import STOCKHOLM, check_buildable, shift_week

log = logging.getLogger("lagesbild.aggregate")


class UnknownKommunError(LookupError):
    pass


def registered_since(engine: Engine, kommun: str) -> dict[str, date]:
    """When each of the kommun's registered organisations started reporting (its token was
    issued; the shared access registry). The snapshot keeps only those reporting in the
    week that started after the kommun's first data (`snapshot.reporters_from`)."""
    return {
        org.name: org.created_at.replace(tzinfo=org.created_at.tzinfo or UTC)
        .astimezone(STOCKHOLM)
        .date()
        for org in list_organisations(engine)
        if kommun in org.kommun_list
    }


@dataclass
class WeekBuilder:
    engine: Engine
    kommuner: Mapping[str, KommunAreas]
    categories: Mapping[str, str]
    _grids: dict[str, HotspotGrid] = field(default_factory=dict, init=False, repr=False)

    @WEEK_BUILD_SECONDS.time()
    def build(self, kommun: str, iso_week: str, now: datetime) -> tuple[WeekSnapshotV1, bool]:
        """The week's current snapshot, and whether this call created a new revision."""
        if kommun not in self.kommuner:
            known = ", ".join(sorted(self.kommuner)) or "inga"
            raise UnknownKommunError(f"okänd kommun {kommun!r} (konfigurerade: {known})")
        latest = store.latest_snapshot(self.engine, kommun, iso_week)
        snapshot = build_snapshot(
            kommun=self.kommuner[kommun],
            categories=self.categories,
            inputs=self.inputs(kommun, iso_week),
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

    def check_week(self, kommun: str, iso_week: str, now: datetime) -> None:
        """Refuse (WeekOutOfRangeError, Swedish) a week far outside the stored data, e.g.
        9999-W01: for the operator's and the stream's build requests, not for the weeks the
        service itself derives (the schedule, revisions), which are near the data anyway."""
        if kommun not in self.kommuner:
            known = ", ".join(sorted(self.kommuner)) or "inga"
            raise UnknownKommunError(f"okänd kommun {kommun!r} (konfigurerade: {known})")
        check_buildable(iso_week, now, self.oldest_week(kommun))

    def oldest_week(self, kommun: str) -> str | None:
        """The oldest week with counted reports or a built lägesbild ("2026-W03" sorts)."""
        with Session(self.engine) as s:
            weeks = [
                s.exec(select(func.min(table.iso_week)).where(table.kommun == kommun)).one()
                for table in (WeekCount, WeekSnapshotRow)
            ]
        return min((w for w in weeks if w), default=None)

    def inputs(self, kommun: str, iso_week: str) -> WeekInputs:
        """Read what the week is computed from: its reports, the week before, 52 weeks of
        counts, the 8 weeks before only where this week has hotspots, the current plans, the
        decisions near the week with the counts of their follow-up weeks, and the guards'
        visits in those weeks. Bounded by the
        week and those windows, not by the size of history."""
        history_weeks = [shift_week(iso_week, -i) for i in range(1, 53)]
        inputs = WeekInputs(
            iso_week=iso_week,
            incidents=store.week_incidents(self.engine, kommun, iso_week),
            previous_incidents=store.week_incidents(self.engine, kommun, history_weeks[0]),
            history=store.week_counts(self.engine, kommun, history_weeks),
            nollrapporter=store.week_nollrapporter(self.engine, kommun, iso_week),
            data_from=store.first_report_day(self.engine, kommun),
            reporters_from=registered_since(self.engine, kommun),
        )
        cells = hotspot_cells(inputs, self.kommuner[kommun])
        recent_weeks = history_weeks[:BASELINE_WEEKS_FOR_HOTSPOTS]
        recent = store.grid_cell_counts(self.engine, kommun, recent_weeks, cells)
        decisions = plan_store.week_decisions(self.engine, kommun, iso_week)
        follow_weeks = weeks_needed(decisions, iso_week)
        return replace(
            inputs,
            recent_cells=recent,
            recent_weeks=len(recent_weeks),
            plans=[
                parse_plan(row.toml_text) for row in plan_store.current_plans(self.engine, kommun)
            ],
            decisions=decisions,
            decision_counts=store.week_counts(self.engine, kommun, follow_weeks),
            visits=with_areas(
                patrol_store.visits_between(
                    self.engine, kommun, *presence_period(iso_week, follow_weeks)
                ),
                self.kommuner[kommun].area_of,
            ),
        )

    def grid_cell_of(self, kommun: str, lat: float, lon: float) -> tuple[int, int] | None:
        """The hotspot grid cell of a point, for the per-cell counts kept as reports arrive."""
        if kommun not in self.kommuner:
            return None
        if kommun not in self._grids:
            self._grids[kommun] = HotspotGrid(self.kommuner[kommun], HOTSPOT_CELL_M)
        return self._grids[kommun].cell(lat, lon)
