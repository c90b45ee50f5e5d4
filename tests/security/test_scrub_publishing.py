"""Scrubbing where text is published: decisions, plans, TiB orders; and the ingest's log of
a rejected report names the code and the field, never the value.

Real parts: a redis-server for the streams, a SQLite file or PostgreSQL for the tables.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from services.aggregate import plan_store
from services.aggregate.plan_store import stored_decision
from services.ingest.handlers import record
from services.ingest.pipeline import IngestPipeline
from services.ingest.store import DuplicatePolicy
from services.maps import decision_store
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import DECISION_STREAM, TIB_ORDER_STREAM, DecisionV1, PatrolOrderEventV1
from shared.db import init_db, make_engine
from shared.decision_events import xadd_decision
from shared.decisions import MAX_MEASURE_CHARS, DecisionDraft, build_decision, closing_event
from shared.plan import parse_plan
from shared.redis_runtime import EmbeddedRedis
from shared.streams import RawEntry, entry_payload
from shared.validation import Limits
from tests.integration.test_tib_service import Tib, tib  # noqa: F401 (fixture)

# Skatteverket's test personnummer, a mobile number, an address, a plate.
PNR, PHONE, MAIL, PLATE = "811218-9876", "070-123 45 67", "anna.svensson@example.se", "ABC 123"
RAW = (PNR, PHONE, MAIL, PLATE, "9876", "45 67", "anna")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def assert_clean(text: str) -> None:
    leaked = [value for value in RAW if value in text]
    assert not leaked, f"{leaked} in {text!r}"


# --- decisions --------------------------------------------------------------------------------


def test_decisions_are_scrubbed_when_built_closed_published_and_read_back(
    redis_server: EmbeddedRedis, db_url: str
) -> None:
    draft = DecisionDraft(
        kommun="0580",
        measure=f"Väktare vid entrén, kontakt {PHONE}",
        target="Skäggetorp",
        until_week="2026-W52",
        responsible=[f"Kommunpolis, {MAIL}"],
        categories=["klotter"],
        note=f"Gäller {PNR} och bilen {PLATE}",
    )
    built = build_decision(draft, categories=DEFAULT_CATEGORIES, area_names=["Skäggetorp"], now=NOW)
    assert built.measure == "Väktare vid entrén, kontakt [telefon]"
    assert built.responsible == ["Kommunpolis, [e-post]"]
    assert built.note == "Gäller [personnummer] och bilen [regnr]"
    assert built.target == "Skäggetorp"  # an area name: checked, not scrubbed

    closed = closing_event(built, f"Avslutat, ring {PHONE}", NOW)
    assert closed.note == "Avslutat, ring [telefon]" and closed.status == "closed"

    # A decision written by other code than build_decision is scrubbed on the way out...
    raw = built.model_copy(update={"measure": f"ring {PHONE}", "note": f"pnr {PNR}"})
    redis = AsyncRedis.from_url(redis_server.url)

    async def publish() -> None:
        try:
            await xadd_decision(redis, raw)
        finally:
            await redis.aclose()

    asyncio.run(publish())
    sync = Redis.from_url(redis_server.url)
    [payload] = [entry_payload(f) for _, f in sync.xrange(DECISION_STREAM)]  # type: ignore[arg-type, union-attr]
    sync.close()
    published = DecisionV1.model_validate_json(payload)
    assert (published.measure, published.note) == ("ring [telefon]", "pnr [personnummer]")

    # ... and on the way back from the aggregate's table (a hand-written stream entry).
    engine = make_engine(db_url)
    init_db(engine)
    plan_store.add_decision(engine, raw)
    again = stored_decision(engine, raw.decision_id)
    assert again is not None
    assert (again.measure, again.note) == ("ring [telefon]", "pnr [personnummer]")
    # ... and as the archive server's decision page keeps and reads it (its projection).
    decision_store.save_decision(engine, raw)
    [listed] = decision_store.open_decisions(engine, raw.kommun)
    assert (listed.measure, listed.note) == ("ring [telefon]", "pnr [personnummer]")
    assert listed == again


def test_a_scrubbed_decision_keeps_within_the_measure_limit() -> None:
    # "a@b.se" (6 characters) becomes "[e-post]" (8): the scrubbed text could outgrow the
    # limit the raw text kept.
    measure = ("a@b.se " * 80)[: MAX_MEASURE_CHARS - 2]
    draft = DecisionDraft(kommun="0580", measure=measure, target="Ryd", until_week="2026-W52",
                          responsible=["Polisen"])  # fmt: skip
    built = build_decision(draft, categories=DEFAULT_CATEGORIES, now=NOW)
    assert len(built.measure) <= MAX_MEASURE_CHARS
    assert "@" not in built.measure and built.measure.endswith("...")


# --- the plan ---------------------------------------------------------------------------------

PLAN = f"""
id = "test-plan"
kommun = "0580"
titel = "Trygghetsplan, kontakt {MAIL}"
parter = ["Polisen {PHONE}"]

[period]
fran = 2026-01-01
till = 2026-12-31

[[samverkansomraden]]
id = "ryd"
namn = "Ryd"
problembild = "Återkommande: {PNR}"
effektmal = ["Färre bilar som {PLATE}"]

[[samverkansomraden.atgarder]]
id = "vakt-ryd"
vad = "Väktare kvällstid, ring {PHONE}"
hur = "Rapport till {MAIL}"
ansvar = ["Väktarbolaget, Anna {PHONE}"]
kategorier = ["klotter"]
omraden = ["Ryd"]
platser = [{{ namn = "Ryds centrum 12B", lat = 58.396, lon = 15.563 }}]
tider = ["fre-lör 20-03"]

[[medborgarloften]]
id = "lofte-ryd"
lofte = "Vi svarar inom en vecka: {MAIL}"
atgarder = ["Ring {PHONE}"]
ansvar = ["Kommunen"]
"""


def test_plan_free_text_is_scrubbed_and_its_checked_values_are_kept() -> None:
    plan = parse_plan(PLAN)
    dumped = json.dumps(plan.model_dump(mode="json", by_alias=True), ensure_ascii=False)
    assert_clean(dumped)
    assert plan.title == "Trygghetsplan, kontakt [e-post]"
    [focus] = plan.focus_areas
    [activity] = focus.activities
    assert focus.problem == "Återkommande: [personnummer]"
    assert activity.what == "Väktare kvällstid, ring [telefon]"
    assert activity.responsible == ["Väktarbolaget, Anna [telefon]"]
    # ids, categories, areas, time windows and an ordinary house number stay as written
    assert (activity.id, activity.categories, activity.areas) == ("vakt-ryd", ["klotter"], ["Ryd"])
    assert activity.times == ["fre-lör 20-03"] and activity.places[0].name == "Ryds centrum 12B"
    assert plan.promises[0].measures == ["Ring [telefon]"]


# --- TiB orders -------------------------------------------------------------------------------


@pytest.mark.redis
def test_order_texts_are_scrubbed_before_they_are_stored_and_published(
    tib: Tib,  # noqa: F811 (the fixture)
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    order = {"place": f"Skäggetorps centrum, vid {PLATE}", "lat": 58.427, "lon": 15.589,
             "area": "Skäggetorp", "start": start.isoformat(),
             "end": (start + timedelta(hours=4)).isoformat(),
             "task": f"Ring väktaren {PHONE}, sök {PNR}",
             "reason": f"Tips från {MAIL}"}  # fmt: skip
    issued = tib.post("/api/v1/tib/orders", order)
    assert issued.status_code == 201, issued.text
    order_id = issued.json()["order"]["order_id"]
    assert_clean(issued.text)
    acked = tib.post(f"/api/v1/tib/orders/{order_id}/acknowledge", {"note": f"ok, {PHONE}"},
                     token=tib.guard_token)  # fmt: skip
    assert acked.status_code == 200, acked.text

    events = [PatrolOrderEventV1.model_validate(e) for e in tib.stream(TIB_ORDER_STREAM)]
    assert [e.kind for e in events] == ["issued", "acknowledged"]
    assert events[0].order is not None
    assert events[0].order.place == "Skäggetorps centrum, vid [regnr]"
    assert events[0].order.task == "Ring väktaren [telefon], sök [personnummer]"
    assert events[0].order.reason == "Tips från [e-post]"
    assert events[1].note == "ok, [telefon]"
    assert_clean(tib.get("/api/v1/tib/orders").text)  # the TiB's own store too


# --- the ingest's log ---------------------------------------------------------------------------


def test_a_rejected_report_is_logged_by_code_and_field_never_by_value(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    pipeline = IngestPipeline(engine=engine, kommuner=load_kommuner(),
                              categories=DEFAULT_CATEGORIES, limits=Limits(),
                              duplicates=DuplicatePolicy())  # fmt: skip
    base: dict[str, Any] = {
        "report_id": "r-1", "kommun": "0580", "source": "vaktare", "organisation": "Väktarna",
        "category": "klotter", "occurred_at": "2026-11-24T22:00:00+01:00",
        "lat": 58.4108, "lon": 15.6214, "description": "Klotter",
    }  # fmt: skip
    bad = [
        base | {"occurred_at": f"pnr {PNR}"},
        base | {"report_id": "r-2", "category": f"ring {PHONE}"},
        base | {"report_id": f"{MAIL}", "lat": f"{PLATE}"},
    ]
    entries = [RawEntry(f"{i}-0", json.dumps(p).encode()) for i, p in enumerate(bad, start=1)]
    outcome = pipeline.process(entries, NOW)
    assert len(outcome.rejected) == 3
    # The messages quote the value (the sender needs it), so the log must not use them.
    assert any(PNR in r.message_en for r in outcome.rejected)

    caplog.set_level(logging.INFO, logger="lagesbild.ingest")
    record(outcome)
    logged = [r for r in caplog.records if r.name == "lagesbild.ingest"]
    assert len(logged) == 3
    for entry in logged:
        assert_clean(entry.getMessage())
        assert_clean(json.dumps({k: str(v) for k, v in vars(entry).items()}, ensure_ascii=False))
    assert [(r.code, r.field) for r in logged] == [  # type: ignore[attr-defined]
        ("invalid_field", "occurred_at"),
        ("unknown_category", "category"),
        ("invalid_field", "lat"),
    ]
    assert logged[0].getMessage() == "rejected invalid_field (field occurred_at)"
