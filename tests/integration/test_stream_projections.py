"""The stream table at work on a real redis-server and a real database (SQLite, PostgreSQL):
trimming by acknowledgement and by time, a guard company's delivery, `lagesbild status`,
`week build` over the stream, the projections that replaced reads of other services'
tables (the archive's decisions and plans, the TiB started late) and the migration that
fills them on an upgraded installation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import bindparam
from sqlalchemy import text as sa_text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime
from typer.testing import CliRunner

from services.aggregate.models import PlanRow
from services.aggregate.plan_cli import plan_message
from services.cli_ops import status
from services.ingest.models import RejectedSubmission, StoredReport
from services.intake import outcomes
from services.intake.cli import org_app
from services.maps import decision_store
from services.maps.config import MapsSettings
from services.maps.server import create_server_app
from services.supervisor import stop_services
from services.tib import store as tib_store
from services.tib.config import TibSettings
from services.tib.main import create_app as create_tib_app
from shared.access import create_organisation
from shared.config import Settings
from shared.contracts import (
    ACCEPTED_STREAM,
    AGGREGATE_GROUP,
    DECISION_STREAM,
    PLAN_STREAM,
    TIB_ORDER_STREAM,
    WEEK_BUILD_STREAM,
    DecisionV1,
    PatrolOrderEventV1,
    PatrolOrderV1,
    groups_to_create,
    guard_company_group,
)
from shared.db import alembic_config, init_db, make_engine
from shared.plan import parse_plan
from shared.redis_runtime import EmbeddedRedis
from shared.streams import (
    ensure_groups,
    entry_payload,
    reclaimers,
    send,
    trim_acknowledged,
)
from shared.weeks import iso_week_of, last_complete_week, shift_week, week_bounds
from tests.conftest import cli_json, run_cli, service_logs, wait_for

pytestmark = pytest.mark.redis
PLANS = Path(__file__).resolve().parents[2] / "plans"
HOUR_MS = 3_600_000


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def with_redis(url: str, work: Any) -> Any:
    """`work(redis)` on a client of its own event loop (asyncio.run makes one per call)."""

    async def go() -> Any:
        redis = AsyncRedis.from_url(url)
        try:
            return await work(redis)
        finally:
            await redis.aclose()

    return asyncio.run(go())


# --- trimming ------------------------------------------------------------------------------


async def test_trimming_keeps_what_a_group_has_not_acknowledged_and_what_is_young(
    redis_server: EmbeddedRedis,
) -> None:
    redis = AsyncRedis.from_url(redis_server.url)
    stream = "lagesbild.test-trim.v1"
    seconds, micros = await redis.time()
    three_hours_ago = int(seconds) * 1000 + int(micros) // 1000 - 3 * HOUR_MS
    old = [await redis.xadd(stream, {"n": str(n)}, id=f"{three_hours_ago}-{n}") for n in (1, 2, 3)]
    young = [await redis.xadd(stream, {"n": str(n)}) for n in (4, 5)]
    await ensure_groups(redis, {stream: ("a", "b")})
    for group in ("a", "b"):
        await redis.xreadgroup(group, "c", {stream: ">"}, count=10)
    await redis.xack(stream, "a", *old, *young)
    await redis.xack(stream, "b", old[0], old[2], *young)  # old[1] stays pending in "b"
    try:
        # An hour's retention: of the old entries only what precedes b's pending one goes.
        assert await trim_acknowledged(redis, stream, HOUR_MS) == 1
        assert await redis.xlen(stream) == 4
        await redis.xack(stream, "b", old[1])
        # Every group has acknowledged everything: the old ones go, the young ones stay.
        assert await trim_acknowledged(redis, stream, HOUR_MS) == 2
        assert [e for e, _ in await redis.xrange(stream) or []] == young
        assert await trim_acknowledged(redis, stream, 4 * HOUR_MS) == 0
        # Without a retention (as before), acknowledged is enough.
        assert await trim_acknowledged(redis, stream, 0) == 2
    finally:
        await redis.aclose()


def test_the_reclaimers_trim_with_the_configured_retention() -> None:
    settings = Settings(stream_retention_hours=2)
    found = reclaimers(None, "tib", _tib_handlers(), consumer="c", settings=settings)  # type: ignore[arg-type]
    assert {r.retention_ms for r in found} == {2 * HOUR_MS}
    assert Settings().stream_retention_hours == 168


def _tib_handlers() -> dict[str, Any]:
    from services.tib.consumer import Hub, TibConsumer

    return dict(TibConsumer(None, None, Hub(), 28).handlers())  # type: ignore[arg-type]


# --- a guard company's delivery ------------------------------------------------------------


def test_an_order_waits_for_a_registered_guard_company_through_trimming(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The company's group is made at `org add --guard-company`; an order issued before its
    system ever connected survives the trimming that follows the aggregate's ack."""
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    cli = _org_cli()
    added = CliRunner().invoke(
        cli, ["org", "add", "Nattvakten AB", "--kommun", "0580", "--source", "vaktare",
              "--guard-company"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    group = guard_company_group("Nattvakten AB")

    async def scenario(redis: Any) -> PatrolOrderEventV1:
        await ensure_groups(redis, groups_to_create("tib"))  # the aggregate's group too
        start = datetime.now(UTC) + timedelta(hours=1)
        order = PatrolOrderV1(kommun="0580", place="Skäggetorps centrum", start=start,
                              end=start + timedelta(hours=2), task="Synlig patrullering",
                              assigned_to="Nattvakten AB")  # fmt: skip
        event = PatrolOrderEventV1(order_id=order.order_id, kommun="0580", kind="issued",
                                   at=datetime.now(UTC), by="TiB", order=order)  # fmt: skip
        await send(redis, TIB_ORDER_STREAM, event)
        [[_stream, entries]] = await redis.xreadgroup(
            AGGREGATE_GROUP, "agg", {TIB_ORDER_STREAM: ">"}
        )
        await redis.xack(TIB_ORDER_STREAM, AGGREGATE_GROUP, *[e for e, _ in entries])
        # No time retention at all: only the company's group keeps the order.
        assert await trim_acknowledged(redis, TIB_ORDER_STREAM, 0) == 0
        [[_stream, delivered]] = await redis.xreadgroup(group, "vakt-1", {TIB_ORDER_STREAM: ">"})
        [(entry_id, fields)] = delivered
        got = PatrolOrderEventV1.model_validate_json(entry_payload(fields))
        await redis.xack(TIB_ORDER_STREAM, group, entry_id)
        assert await trim_acknowledged(redis, TIB_ORDER_STREAM, 0) == 1  # read: now it goes
        return got

    received = with_redis(service_env["LAGESBILD_REDIS_URL"], scenario)
    assert received.order is not None and received.order.assigned_to == "Nattvakten AB"


def _org_cli() -> Any:
    import typer

    cli = typer.Typer()
    cli.add_typer(org_app, name="org")
    return cli


# --- lagesbild status ------------------------------------------------------------------------


def test_status_lists_every_group_of_the_table_including_the_tibs(
    service_env: dict[str, str],
) -> None:
    url, engine = (
        service_env["LAGESBILD_REDIS_URL"],
        make_engine(service_env["LAGESBILD_DATABASE_URL"]),
    )
    init_db(engine)
    with_redis(url, lambda r: ensure_groups(r, groups_to_create("ingest")))  # a pipeline start

    def accepted() -> Any:
        return next(s for s in run(status(engine, url)).streams if s.stream == ACCEPTED_STREAM)

    before = accepted()
    assert set(before.groups) == {"aggregate"}
    assert set(before.missing_groups) == {"tib", "intake"}  # not started yet
    with_redis(url, lambda r: ensure_groups(r, groups_to_create("tib")))  # the TiB's first start
    after = accepted()
    assert set(after.groups) == {"aggregate", "tib"} and after.missing_groups == ["intake"]
    shown = run_cli(service_env, "status").stdout
    assert "tib" in shown and "ej skapad" in shown
    listed = cli_json(service_env, "status")
    [orders] = [s for s in listed["streams"] if s["stream"] == TIB_ORDER_STREAM]
    assert "aggregate" in orders["groups"]
    engine.dispose()


# --- week build over the stream ----------------------------------------------------------------


@pytest.mark.slow
def test_week_build_asks_the_aggregate_and_says_when_it_is_not_running(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    week = last_complete_week(datetime.now(UTC))
    alone = run_cli(service_env, "week", "build", "--week", week, "--timeout", "2", check=False)
    assert alone.returncode == 4, alone.stderr
    assert "Aggregate-tjänsten svarade inte inom 2 s" in alone.stderr
    assert "Traceback" not in alone.stderr
    redis = Redis.from_url(service_env["LAGESBILD_REDIS_URL"])
    assert redis.xlen(WEEK_BUILD_STREAM) == 1  # the request waits on the stream
    redis.close()

    from services.supervisor import start_services

    procs = start_services(service_env, log_dir=tmp_path / "logs")
    try:
        summary = cli_json(service_env, "week", "build", "--week", week)
        assert summary["iso_week"] == week and summary["total"] == 0
        refused = run_cli(service_env, "week", "build", "--week", "2005-W01", check=False)
        assert refused.returncode == 2, refused.stderr
        assert "Aggregate-tjänsten bygger inte veckan: Veckan 2005-W01 ligger utanför" in (
            refused.stderr.replace("\n", " ")
        )
        again = run_cli(service_env, "week", "build", "--week", week)
        assert "(oförändrad)" in again.stdout
    except AssertionError:
        raise AssertionError(service_logs(tmp_path)) from None
    finally:
        stop_services(procs)


# --- the archive server's own projection ------------------------------------------------------


@pytest.fixture
def archive(service_env: dict[str, str]) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = MapsSettings(
        redis_url=service_env["LAGESBILD_REDIS_URL"],
        database_url=service_env["LAGESBILD_DATABASE_URL"],
        data_dir=Path(service_env["LAGESBILD_DATA_DIR"]),
        output_dir=Path(service_env["LAGESBILD_OUTPUT_DIR"]),
        claim_interval_ms=300,
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Samverkansmötet", "0580", "meeting", [])
    with TestClient(create_server_app(settings), follow_redirects=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    engine.dispose()


def test_the_decision_page_lists_what_the_streams_bring_without_the_aggregate(
    archive: tuple[TestClient, dict[str, str]], service_env: dict[str, str]
) -> None:
    client, headers = archive
    now = datetime.now(UTC)
    text = (PLANS / "linkoping.toml").read_text("utf-8")
    decision = DecisionV1(
        decision_id="0580-stream01", kommun="0580", measure="Nattvandring vid centrumhuset",
        target="Skäggetorp", responsible=["Föreningslivet"], from_week=iso_week_of(now),
        until_week=shift_week(iso_week_of(now), 3), decided_at=now,
    )  # fmt: skip

    def send_all(*messages: tuple[str, Any]) -> None:
        async def write(redis: Any) -> None:
            for stream, message in messages:
                await send(redis, stream, message)

        with_redis(service_env["LAGESBILD_REDIS_URL"], write)

    def page() -> str:
        return str(client.get("/0580/beslut", headers=headers).text)

    plan = plan_message(parse_plan(text), text, now)
    send_all((PLAN_STREAM, plan), (DECISION_STREAM, decision))
    wait_for(lambda: decision.measure in page() and "klottersanering" in page(), timeout=15)
    closing = decision.model_copy(update={"message_id": "close-1", "status": "closed"})
    send_all((DECISION_STREAM, closing), (DECISION_STREAM, decision))  # a late 'open' too
    wait_for(lambda: decision.measure not in page(), timeout=15)
    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    stored = decision_store.stored_decision(engine, decision.decision_id)
    assert stored is not None and stored.status == "closed"  # closed is final
    engine.dispose()


# --- the TiB started after the others ----------------------------------------------------------


def _reports(week: str, n: int) -> list[str]:
    start, _end = week_bounds(week)
    return [
        json.dumps(
            {
                "report_id": f"sen-{i}",
                "kommun": "0580",
                "source": "vaktare",
                "organisation": "Bevakning Linköping",
                "category": "ordningsstorning",
                "occurred_at": (start + timedelta(days=i % 7, hours=20 + i % 3)).isoformat(),
                "lat": 58.4270 + i * 0.0004,
                "lon": 15.5890,
                "description": f"Oro vid entrén {i}",
            }
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_a_tib_started_after_the_others_has_the_snapshot_the_decisions_and_the_reports(
    service_env: dict[str, str], running_services: dict[str, Any], tmp_path: Path
) -> None:
    week = last_complete_week(datetime.now(UTC))
    file = tmp_path / "in.jsonl"
    file.write_text("\n".join(_reports(week, 12)) + "\n", encoding="utf-8")
    try:
        run_cli(service_env, "submit", str(file))
        wait_for(lambda: cli_json(service_env, "status")["aggregated_reports"] == 12, timeout=60)
        decided = cli_json(
            service_env, "decision", "add", "--measure", "Väktare vid centrum kvällstid",
            "--target", "Skäggetorp", "--until-week", shift_week(iso_week_of(datetime.now(UTC)), 4),
            "--responsible", "Kommunen",
        )  # fmt: skip
        built = cli_json(service_env, "week", "build", "--week", week)
        assert built["total"] == 12
        wait_for(lambda: (s := cli_json(service_env, "status"))["pending"] + s["unread"] == 0)
    except AssertionError:
        raise AssertionError(service_logs(tmp_path)) from None
    stop_services(running_services)
    redis = Redis.from_url(service_env["LAGESBILD_REDIS_URL"], decode_responses=True)
    assert "tib" not in {g["name"] for g in redis.xinfo_groups(ACCEPTED_STREAM)}
    # Every existing group has acknowledged them and the reclaimers trimmed every 0.3 s:
    # the time retention (LAGESBILD_STREAM_RETENTION_HOURS) is what keeps them for the TiB.
    assert redis.xlen(ACCEPTED_STREAM) == 12
    redis.close()

    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    _, token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])
    settings = TibSettings(
        redis_url=service_env["LAGESBILD_REDIS_URL"],
        database_url=service_env["LAGESBILD_DATABASE_URL"],
        data_dir=Path(service_env["LAGESBILD_DATA_DIR"]), tib_tile_url="",
        claim_interval_ms=300,
    )  # fmt: skip
    with TestClient(create_tib_app(settings)) as tib:

        def live() -> dict[str, Any]:
            got = tib.get("/api/v1/tib/live", params={"hours": 168},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            return dict(got.json())

        def heard_everything() -> bool:
            picture = live()
            kept = tib_store.reports_since(engine, "0580", datetime.now(UTC) - timedelta(days=28))
            return bool(picture["lagesbild"] and picture["decisions"] and len(kept) == 12)

        wait_for(heard_everything, timeout=20)
        picture = live()
    assert picture["lagesbild"]["iso_week"] == week
    assert [d["decision_id"] for d in picture["decisions"]] == [decided["decision_id"]]
    # `tib recommend` reads the TiB's own store, which has the week now.
    recommended = cli_json(service_env, "tib", "recommend", "--kommun", "0580", "--from",
                           datetime.now(UTC).isoformat(), "--hours", "4")  # fmt: skip
    assert isinstance(recommended, list)
    engine.dispose()


# --- the migration that fills the projections ---------------------------------------------------


def test_an_upgraded_installation_keeps_its_statuses_decisions_and_activities(
    db_url: str,
) -> None:
    from alembic import command

    engine = make_engine(db_url)
    config = alembic_config()
    with engine.begin() as conn:  # the schema before the projections existed
        config.attributes["connection"] = conn
        command.upgrade(config, "0006k")
    now = datetime.now(UTC)
    text = (PLANS / "linkoping.toml").read_text("utf-8")
    with Session(engine) as s:
        s.add(StoredReport(organisation="Securitas", report_id="r-1", kommun="0580",
                           source="vaktare", category="klotter", occurred_at=now,
                           iso_week=iso_week_of(now), area="Ryd", lat=58.4, lon=15.6,
                           content_hash="h", entry_id="1-0", received_at=now))  # fmt: skip
        s.add(RejectedSubmission(entry_id="2-0", code="unknown_category", field_name="category",
                                 message_sv="Okänd kategori.", message_en="Unknown category.",
                                 payload="{}", rejected_at=now))  # fmt: skip
        # the decision table as it was at 0006k (owner, progress and report-backs came later)
        s.connection().execute(
            sa_text(
                "INSERT INTO decision (decision_id, message_id, kommun, measure, target,"
                " categories_json, responsible_json, from_week, until_week, status,"
                " decided_at, note) VALUES ('0580-old1', 'm1', '0580', 'Klottersanering',"
                " 'Ryd', '[]', '[\"Kommunen\"]', '2026-W40', '2026-W52', 'open', :now, '')"
            ).bindparams(bindparam("now", now, type_=UTCDateTime()))
        )
        for version, body in ((1, text.replace("Broken Windows", "Gammal")), (2, text)):
            s.add(PlanRow(kommun="0580", plan_id="linkoping-samverkan", version=version,
                          title="Plan", toml_text=body, content_hash=str(version),
                          loaded_at=now))  # fmt: skip
        s.commit()
    init_db(engine)  # the upgrade fills the projections
    assert outcomes.stored_report_ids(engine, "Securitas", ["r-1", "r-2"]) == {"r-1"}
    assert outcomes.rejections(engine, ["2-0"]) == {
        "2-0": ("unknown_category", "Okänd kategori.", "Unknown category.", "category")
    }
    [decision] = decision_store.open_decisions(engine, "0580")
    assert (decision.decision_id, decision.responsible) == ("0580-old1", ["Kommunen"])
    activities = {a.activity_id: a for a in decision_store.plan_activities(engine, "0580")}
    assert activities["klottersanering"].what == "Broken Windows: snabb klottersanering"
    engine.dispose()
