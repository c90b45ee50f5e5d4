"""Retention: the purge removes what is older than the period, and nothing else; each
service's daily purge touches only its own tables."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from services.aggregate import patrol_store, store
from services.aggregate.builder import WeekBuilder
from services.aggregate.models import PatrolEventRow, WeekCount, WeekIncident
from services.cli_ops import purge_all as purge
from services.ingest.config import IngestSettings
from services.ingest.jobs import scheduled_jobs
from services.ingest.models import RejectedSubmission, StoredReport
from services.ingest.retention import purge_own_tables as purge_ingest
from services.tib.models import TibOrderEvent
from services.tib.retention import purge_own_tables as purge_tib
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import AcceptedReportV1
from shared.db import init_db, make_engine
from shared.retention import PurgeRun
from shared.weeks import iso_week_of
from tests.support.patrols import visit_events

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=500)
RECENT = NOW - timedelta(days=10)


def _report_row(n: int, at: datetime) -> StoredReport:
    return StoredReport(
        organisation="Org",
        report_id=f"r{n}",
        kommun="0580",
        source="vaktare",
        category="klotter",
        occurred_at=at,
        iso_week=iso_week_of(at),
        area="Innerstaden",
        lat=58.41,
        lon=15.62,
        description="Sven Svensson 070-1234567",
        content_hash=str(n),
        entry_id=f"{n}-0",
        received_at=at,
    )


def _event(n: int, at: datetime) -> AcceptedReportV1:
    return AcceptedReportV1(
        report_id=f"r{n}",
        organisation="Org",
        kommun="0580",
        source="vaktare",
        category="klotter",
        occurred_at=at,
        iso_week=iso_week_of(at),
        area="Innerstaden",
        lat=58.41,
        lon=15.62,
        description="text",
        accepted_at=at,
    )


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    init_db(engine)
    with Session(engine) as s:
        s.add_all([_report_row(1, OLD), _report_row(2, RECENT)])
        s.add_all(
            [
                RejectedSubmission(
                    entry_id=f"{i}-0",
                    code="invalid_json",
                    message_sv="x",
                    message_en="x",
                    payload="Sven 19900101-1234",
                    rejected_at=at,
                )
                for i, at in enumerate((OLD, RECENT))
            ]
        )
        s.add_all(
            [
                TibOrderEvent(
                    message_id=f"m{i}",
                    order_id=f"t{i}",
                    kommun="0580",
                    kind="outcome",
                    at=at,
                    by_organisation="Vaktbolaget",
                    event_json='{"note": "Sven 070-1234567"}',
                )
                for i, at in enumerate((OLD, RECENT))
            ]
        )
        s.commit()
    store.add_incidents(engine, [_event(1, OLD), _event(2, RECENT)])
    for n, at in enumerate((OLD, RECENT)):
        patrol_store.add_events(engine, visit_events(f"o{n}", at, 2, incident_report=True))
    builder = WeekBuilder(engine, load_kommuner(), DEFAULT_CATEGORIES)
    for at in (OLD, RECENT):
        builder.build("0580", iso_week_of(at), NOW)
    return engine


def test_a_dry_run_counts_and_changes_nothing(engine: Engine) -> None:
    counts = purge(engine, now=NOW, retention_days=400, dry_run=True, run_by="test")
    assert counts == {
        "reports": 1,
        "rejected_submissions": 1,
        "conflicts": 0,
        "aggregate_points": 1,
        "snapshot_points": 1,
        "patrol_events": 4,  # the old visit: issued, checked in, outcome, checked out
        "tib_order_events": 1,  # the TiB's copy, with the guard's note
        "intake_rejections": 0,  # the intake's projection of the ingest's outcomes
    }
    assert (_count(engine, StoredReport), _count(engine, WeekIncident)) == (2, 2)


def test_the_purge_removes_only_what_is_older_than_the_period(engine: Engine) -> None:
    purge(engine, now=NOW, retention_days=400, dry_run=False, run_by="test")
    with Session(engine) as s:
        assert [r.report_id for r in s.exec(select(StoredReport))] == ["r2"]
        assert [r.rejected_at.date() for r in s.exec(select(RejectedSubmission))] == [RECENT.date()]
        assert [r.key for r in s.exec(select(WeekIncident))] == ["Org/r2"]
        # Counts and both frozen weeks are kept; only the old week lost its points.
        assert _count(engine, WeekCount) == 2
        assert {r.order_id for r in s.exec(select(PatrolEventRow))} == {"o1"}
        assert [r.order_id for r in s.exec(select(TibOrderEvent))] == ["t1"]
    old = store.latest_snapshot(engine, "0580", iso_week_of(OLD))
    recent = store.latest_snapshot(engine, "0580", iso_week_of(RECENT))
    assert old is not None and recent is not None
    assert (old.incidents, old.incidents_purged, sum(c.count for c in old.cells)) == ([], True, 1)
    assert len(recent.incidents) == 1 and not recent.incidents_purged


def test_every_run_leaves_an_audit_entry(engine: Engine) -> None:
    purge(engine, now=NOW, retention_days=400, dry_run=True, run_by="operatör")
    purge(engine, now=NOW, retention_days=400, dry_run=False, run_by="schema")
    with Session(engine) as s:
        runs = list(s.exec(select(PurgeRun).order_by(PurgeRun.id)))  # type: ignore[arg-type]
    assert [(r.dry_run, r.run_by) for r in runs] == [(True, "operatör"), (False, "schema")]
    assert json.loads(runs[1].counts_json)["reports"] == 1
    second = purge(engine, now=NOW, retention_days=400, dry_run=False, run_by="schema")
    assert set(second.values()) == {0}  # nothing left to purge


def test_each_service_purges_only_its_own_tables(engine: Engine) -> None:
    counts = purge_ingest(engine, now=NOW, retention_days=400, dry_run=False, run_by="ingest")
    assert counts == {"reports": 1, "rejected_submissions": 1, "conflicts": 0}
    # The aggregate's and the TiB's rows are still there until their own purges run.
    assert (_count(engine, StoredReport), _count(engine, WeekIncident)) == (1, 2)
    with Session(engine) as s:
        assert len(list(s.exec(select(TibOrderEvent)))) == 2
    assert purge_tib(engine, now=NOW, retention_days=400, dry_run=False, run_by="tib") == {
        "tib_order_events": 1
    }


def test_the_ingest_schedules_the_daily_purge_of_its_own_tables(engine: Engine) -> None:
    settings = IngestSettings(retention_days=400, purge_cron="30 3 * * *")
    [(job_id, (when, job))] = scheduled_jobs(settings, engine).items()
    assert (job_id, when) == ("purge-ingest", "30 3 * * *")

    async def run_job() -> dict[str, int]:
        return cast(dict[str, int], await job())

    counts = asyncio.run(run_job())
    assert counts["reports"] == 1 and set(counts) == {
        "reports",
        "rejected_submissions",
        "conflicts",
    }
    with Session(engine) as s:
        assert [r.run_by for r in s.exec(select(PurgeRun))] == ["ingest"]
