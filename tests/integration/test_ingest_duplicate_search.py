"""The ingest's duplicate search narrows its query to boxes around the batch's points
(`services/ingest/store.py: _nearby_observations`): it must link exactly the reports the
unnarrowed search links, for small batches (a box per point) and big ones (one box)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import true
from sqlmodel import Session, select

from services.ingest import store
from services.ingest.models import StoredReport
from services.ingest.pipeline import IngestPipeline
from services.ingest.store import DuplicatePolicy
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.db import init_db, make_engine
from shared.streams import RawEntry
from shared.validation import Limits

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _pipeline(path: Path) -> IngestPipeline:
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    return IngestPipeline(
        engine=engine,
        kommuner=load_kommuner(),
        categories=DEFAULT_CATEGORIES,
        limits=Limits(),
        duplicates=DuplicatePolicy(max_distance_m=75, window=timedelta(minutes=60)),
    )


def _batches(seed: int) -> list[list[RawEntry]]:
    """Reports packed in a few hundred metres, so many lie near the 75 m threshold."""
    rng = random.Random(seed)
    batches, n = [], 0
    for size in (120, 7, 30, 80, 1, 50, 51):
        batch = []
        for _ in range(size):
            at = NOW - timedelta(minutes=rng.uniform(5, 150))
            payload = {
                "version": 1, "report_id": f"r{n}", "kommun": "0580", "source": "vaktare",
                "organisation": rng.choice(["Väktarbolaget", "Fältgruppen"]),
                "category": rng.choice(["klotter", "skadegorelse"]),
                "occurred_at": at.isoformat(),
                "lat": 58.4108 + rng.uniform(-0.003, 0.003),
                "lon": 15.6214 + rng.uniform(-0.005, 0.005),
            }  # fmt: skip
            batch.append(RawEntry(f"{n}-0", json.dumps(payload).encode()))
            n += 1
        batches.append(batch)
    return batches


def _links(pipeline: IngestPipeline) -> dict[str, str | None]:
    with Session(pipeline.engine) as s:
        return {r.report_id: r.duplicate_of for r in s.exec(select(StoredReport)).all()}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_narrowed_search_links_what_the_full_search_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    narrowed = _pipeline(tmp_path / "narrowed.db")
    for batch in _batches(seed):
        narrowed.process(batch, NOW)
    monkeypatch.setattr(store, "_box", lambda *_args: true())  # every report in the window
    full = _pipeline(tmp_path / "full.db")
    for batch in _batches(seed):
        full.process(batch, NOW)
    links = _links(narrowed)
    assert len(links) == 339
    assert sum(v is not None for v in links.values()) > 50  # the test exercises linking
    assert links == _links(full)
