"""The ingest repository against a real SQLite file: idempotency, conflicts, duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from services.ingest.models import RejectedSubmission, ReportConflict, StoredReport
from services.ingest.pipeline import IngestPipeline
from services.ingest.store import DuplicatePolicy
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.db import init_db, make_engine
from shared.streams import RawEntry
from shared.validation import Limits

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def pipeline(db_url: str) -> IngestPipeline:
    engine = make_engine(db_url)
    init_db(engine)
    return IngestPipeline(
        engine=engine,
        kommuner=load_kommuner(),
        categories=DEFAULT_CATEGORIES,
        limits=Limits(),
        duplicates=DuplicatePolicy(max_distance_m=75, window=timedelta(minutes=60)),
    )


def _payload(report_id: str, **changes: object) -> bytes:
    report = {
        "version": 1,
        "report_id": report_id,
        "kommun": "0580",
        "source": "vaktare",
        "organisation": "Väktarbolaget",
        "category": "klotter",
        "occurred_at": "2026-11-24T22:00:00+01:00",
        "lat": 58.4108,
        "lon": 15.6214,
        "description": "Klotter på muren, ring 070-123 45 67",
    }
    return json.dumps({**report, **changes}).encode()


def _rows(pipeline: IngestPipeline, model: type) -> list:
    with Session(pipeline.engine) as s:
        return list(s.exec(select(model)).all())


def test_a_redelivered_entry_stores_one_row_and_is_announced_again(
    pipeline: IngestPipeline,
) -> None:
    first = pipeline.process([RawEntry("1-0", _payload("a"))], NOW)
    again = pipeline.process([RawEntry("1-0", _payload("a"))], NOW)
    assert (first.new, again.new, again.redelivered) == (1, 0, 1)
    assert len(_rows(pipeline, StoredReport)) == 1
    assert [e.report_id for e in again.accepted] == ["a"]  # downstream may have missed it


def test_a_reused_id_with_other_content_is_kept_as_a_conflict(pipeline: IngestPipeline) -> None:
    pipeline.process([RawEntry("1-0", _payload("a"))], NOW)
    outcome = pipeline.process([RawEntry("2-0", _payload("a", category="brand"))], NOW)
    stored = _rows(pipeline, StoredReport)
    assert outcome.conflicts == 1 and outcome.accepted == []
    assert [r.category for r in stored] == ["klotter"]  # not overwritten
    [conflict] = _rows(pipeline, ReportConflict)
    assert json.loads(conflict.payload)["category"] == "brand"


def test_the_same_id_from_two_organisations_is_two_reports(pipeline: IngestPipeline) -> None:
    pipeline.process(
        [RawEntry("1-0", _payload("a")), RawEntry("1-1", _payload("a", organisation="Annan AB"))],
        NOW,
    )
    assert len(_rows(pipeline, StoredReport)) == 2


def test_two_reporters_of_one_graffiti_are_linked_not_deleted(pipeline: IngestPipeline) -> None:
    pipeline.process([RawEntry("1-0", _payload("g1"))], NOW)
    second = _payload(
        "g2", organisation="Fältgruppen", lat=58.41095, occurred_at="2026-11-24T22:20:00+01:00"
    )
    far = _payload("g3", organisation="Fältgruppen", lat=58.4200)  # ~1 km away
    later = _payload("g4", organisation="Fältgruppen", occurred_at="2026-11-25T01:00:00+01:00")
    outcome = pipeline.process(
        [RawEntry("2-0", second), RawEntry("2-1", far), RawEntry("2-2", later)], NOW
    )
    links = {e.report_id: e.duplicate_of for e in outcome.accepted}
    assert links == {"g2": "Väktarbolaget/g1", "g3": None, "g4": None}
    assert len(_rows(pipeline, StoredReport)) == 4


def test_free_text_is_scrubbed_in_the_event_and_kept_in_the_restricted_row(
    pipeline: IngestPipeline,
) -> None:
    outcome = pipeline.process([RawEntry("1-0", _payload("p"))], NOW)
    assert "070-123 45 67" not in outcome.accepted[0].description
    assert "[telefon]" in outcome.accepted[0].description
    [row] = _rows(pipeline, StoredReport)
    assert "070-123 45 67" in row.description


def test_rejections_are_stored_once_with_reason_and_payload(pipeline: IngestPipeline) -> None:
    bad = RawEntry("9-0", _payload("x", category="ufo"))
    pipeline.process([bad], NOW)
    outcome = pipeline.process([bad], NOW)  # redelivered
    [row] = _rows(pipeline, RejectedSubmission)
    assert row.code == "unknown_category" and "ufo" in row.payload
    assert outcome.rejected[0].code == "unknown_category"
