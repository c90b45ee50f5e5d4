"""The stream table (shared/contracts.py) against the services' handlers, the derived groups,
the one publish helper and the generated section of docs/architecture.md."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from services.aggregate.handlers import Aggregate
from services.ingest.handlers import Ingest
from services.intake.outcomes import Outcomes
from services.maps.decision_store import DecisionProjection
from services.maps.handlers import Maps
from services.tib.consumer import Hub, TibConsumer
from shared import stream_docs
from shared.contracts import (
    ACCEPTED_STREAM,
    CONSUMER_GROUPS,
    DECISION_STREAM,
    PIPELINE_GROUPS,
    PIPELINE_SERVICES,
    REPORTS_STREAM,
    SERVICES,
    STREAM_TABLE,
    TIB_GROUP,
    TIB_ORDER_STREAM,
    DecisionV1,
    NollrapportV1,
    consumers_of,
    groups_to_create,
)
from shared.streams import AckingSettle, check_handlers, register, send


def handlers_of(service: str) -> dict[str, Any]:
    """Each service's handlers as its main.py builds them (no connection is made)."""
    made: dict[str, Any] = {
        "ingest": lambda: Ingest(None, None, None).handlers(),  # type: ignore[arg-type]
        "aggregate": lambda: Aggregate(None, None, None).handlers(),  # type: ignore[arg-type]
        "maps": lambda: Maps(None, Path("."), {}, None).handlers(),  # type: ignore[arg-type]
        "intake": lambda: Outcomes(None, None).handlers(),  # type: ignore[arg-type]
        "tib": lambda: TibConsumer(None, None, Hub(), 28).handlers(),  # type: ignore[arg-type]
        "maps-serve": lambda: DecisionProjection(None, None).handlers(),  # type: ignore[arg-type]
    }
    return dict(made[service]())


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_and_each_services_handlers_agree(service: str) -> None:
    handlers = handlers_of(service)
    assert set(handlers) == {c.handler for _s, c in consumers_of(service)}
    check_handlers(service, handlers)  # what register/reclaimers check at start-up
    for handler in handlers.values():
        settle = handler.settle if isinstance(handler, AckingSettle) else handler
        assert inspect.iscoroutinefunction(settle)


def test_a_handler_the_table_does_not_know_or_lacks_is_a_start_up_error() -> None:
    handlers = handlers_of("maps")
    with pytest.raises(ValueError, match="missing \\['when_a_lagesbild_is_ready_render_it'\\]"):
        check_handlers("maps", {})
    with pytest.raises(ValueError, match="not in the table \\['extra'\\]"):
        check_handlers(
            "maps", {**handlers, "extra": handlers["when_a_lagesbild_is_ready_render_it"]}
        )


def test_register_subscribes_what_the_table_says() -> None:
    broker = RedisBroker()
    register(broker, "aggregate", handlers_of("aggregate"), consumer="c-1", batch_size=77)
    subscribed = {(s.config.stream_sub.name, s.config.stream_sub.group) for s in broker.subscribers}  # type: ignore[attr-defined]
    assert subscribed == {(s.name, "aggregate") for s, _c in consumers_of("aggregate")}


def test_consumer_groups_are_derived_and_include_every_service() -> None:
    assert TIB_GROUP in CONSUMER_GROUPS[ACCEPTED_STREAM]
    assert set(CONSUMER_GROUPS[DECISION_STREAM]) == {"aggregate", "tib", "maps-serve"}
    every = {g for groups in CONSUMER_GROUPS.values() for g in groups}
    assert every == set(SERVICES)  # every group is named after its service
    for spec in STREAM_TABLE:
        for consumer in spec.consumers:
            assert consumer.group == consumer.service
    # the pipeline's groups are created by everyone; a service adds only its own
    assert all(set(g) <= set(PIPELINE_SERVICES) for g in PIPELINE_GROUPS.values())
    tib = groups_to_create("tib")
    assert "tib" in tib[ACCEPTED_STREAM] and "intake" not in tib[ACCEPTED_STREAM]
    assert tib[REPORTS_STREAM] == ("ingest",)
    assert TIB_ORDER_STREAM in CONSUMER_GROUPS  # the guard companies' groups come on top


async def test_publish_checks_the_contract_of_the_stream() -> None:
    redis = Redis()  # never connected: each call is refused before any command
    decision = DecisionV1(
        decision_id="0580-1", kommun="0580", measure="m", target="Ryd", responsible=["x"],
        from_week="2026-W01", until_week="2026-W02", decided_at=datetime.now(UTC),
    )  # fmt: skip
    nollrapport = NollrapportV1(
        kommun="0580", organisation="o", source="vaktare", iso_week="2026-W01",
        submitted_at=datetime.now(UTC),
    )  # fmt: skip
    with pytest.raises(TypeError, match=r"lagesbild\.decisions\.v1 carries DecisionV1"):
        await send(redis, DECISION_STREAM, nollrapport)
    with pytest.raises(ValueError, match="not in the stream table"):
        await send(redis, "lagesbild.unknown.v1", decision)
    with pytest.raises(TypeError, match="takes DecisionV1 messages only"):
        await send(redis, DECISION_STREAM, b"raw bytes")
    await redis.aclose()


def test_the_architecture_document_shows_the_current_stream_table() -> None:
    """docs/architecture.md's streams section is generated (python -m shared.stream_docs)."""
    document = stream_docs.DOC.read_text(encoding="utf-8")
    assert stream_docs.render(document) == document, "run: python -m shared.stream_docs"
    section = document.split(stream_docs.START)[1].split(stream_docs.END)[0]
    for spec in STREAM_TABLE:
        assert f"`{spec.name}`" in section
        for consumer in spec.consumers:
            assert f"`{consumer.handler}`" in section
    for table in ("intake_stored_report", "archive_decision", "tib_snapshot", "report"):
        assert table in section


def test_the_generator_finds_every_services_tables() -> None:
    from shared.migrations.tables import all_tables

    found = {t for names in stream_docs.service_tables().values() for t in names}
    found |= set(stream_docs.shared_tables())
    assert found == set(all_tables().tables)


@pytest.mark.parametrize("service", SERVICES)
def test_the_asyncapi_document_names_what_the_table_says(service: str) -> None:
    from faststream.specification import AsyncAPI

    broker = RedisBroker()
    register(broker, service, handlers_of(service), consumer="c-1", batch_size=10)
    doc = AsyncAPI(broker, title=service).to_specification().to_jsonable()
    reads = {f"{s.name}:{c.handler}" for s, c in consumers_of(service)}
    writes = {f"{s.name}:publish" for s in STREAM_TABLE if service in s.producers}
    assert set(doc["channels"]) == reads | writes


def test_a_dead_letter_reason_never_quotes_the_values() -> None:
    from pydantic import ValidationError
    from sqlalchemy.exc import IntegrityError

    from shared.contracts import ReportV1
    from shared.streams import error_kind

    class DriverError(Exception):
        pass

    secret = "070-123 45 67"
    driver = DriverError(
        'duplicate key value violates unique constraint "uq_report_org_id"\n'
        f"DETAIL:  Key (organisation, report_id)=(Securitas, {secret}) already exists."
    )
    reason = error_kind(IntegrityError("INSERT INTO report …", {"report_id": secret}, driver))
    assert "uq_report_org_id" in reason and "IntegrityError (DriverError)" in reason
    assert secret not in reason
    with pytest.raises(ValidationError) as caught:
        ReportV1.model_validate({"report_id": secret, "kommun": "0580"})
    reason = error_kind(caught.value)
    assert "source: missing" in reason and secret not in reason
    assert error_kind(RuntimeError("cannot process\nline two")) == "RuntimeError: cannot process"
