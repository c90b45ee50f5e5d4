"""The HTTP intake against a real redis-server and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from services.ingest.config import IngestSettings
from services.ingest.handlers import Ingest
from services.ingest.main import build_pipeline
from services.ingest.models import RejectedSubmission, StoredReport
from services.intake.cli import audit_app, import_app, org_app
from services.intake.config import IntakeSettings
from services.intake.main import create_app
from shared.access import create_organisation, revoke_organisation
from shared.config import settings_for as service_settings
from shared.contracts import (
    ACCEPTED_STREAM,
    INTAKE_GROUP,
    NOLLRAPPORT_STREAM,
    REJECTED_STREAM,
    REPORTS_STREAM,
    NollrapportV1,
)
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from shared.streams import RawEntry, entry_payload
from tests.conftest import wait_for
from tests.support.redis_entries import stream_entries

pytestmark = pytest.mark.redis

# As services/cli.py registers them.
lagesbild = typer.Typer()
lagesbild.add_typer(org_app, name="org")
lagesbild.add_typer(audit_app, name="audit")
lagesbild.add_typer(import_app, name="import")

IN_LINKOPING = {"lat": 58.4108, "lon": 15.6214}


def report(report_id: str = "r-1", **changes: Any) -> dict[str, Any]:
    when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    base = {"report_id": report_id, "category": "klotter", "occurred_at": when, **IN_LINKOPING}
    return {**base, "source": "vaktare", "description": "Klotter på muren", **changes}


@dataclass
class Intake:
    client: TestClient
    engine: Engine
    redis: Redis
    settings: IntakeSettings

    def org(self, name: str, role: str = "reporter", sources: tuple[str, ...] = ("vaktare",),
            kommun: str = "0580") -> str:  # fmt: skip
        return create_organisation(self.engine, name, kommun, role, list(sources))[1]

    def entries(self, stream: str = REPORTS_STREAM) -> list[dict[str, Any]]:
        return [json.loads(entry_payload(f)) for _, f in stream_entries(self.redis, stream)]

    def post(self, token: str | None, body: Any, path: str = "/api/v1/reports") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post(path, json=body, headers=headers)

    def get(self, token: str, path: str) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    def ingest(self) -> None:
        """Run what is on the stream through the real ingest (its own catalog): it stores
        the reports and announces the outcomes on the accepted and rejected streams, and
        waits until the intake has them in its own projection (its outcome consumers)."""
        own_catalog = self.settings.model_copy(update={"extra_categories": {}})
        pipeline = build_pipeline(service_settings(IngestSettings, own_catalog))
        raw = [
            RawEntry(i.decode(), entry_payload(f))
            for i, f in stream_entries(self.redis, REPORTS_STREAM)
        ]

        async def settle() -> None:
            redis = AsyncRedis.from_url(self.settings.resolved_redis_url)
            try:
                await Ingest(None, redis, pipeline).settle(raw)  # type: ignore[arg-type]
            finally:
                await redis.aclose()

        asyncio.run(settle())
        wait_for(lambda: self.group_caught_up(ACCEPTED_STREAM), timeout=10)
        wait_for(lambda: self.group_caught_up(REJECTED_STREAM), timeout=10)

    def group_caught_up(self, stream: str) -> bool:
        """The intake's group has read and acknowledged everything on `stream`."""
        groups = {g["name"]: g for g in self.redis.xinfo_groups(stream)}
        group = groups.get(INTAKE_GROUP.encode()) or groups.get(INTAKE_GROUP)
        last: Any = self.redis.xrevrange(stream, count=1)
        return (
            group is not None
            and group["pending"] == 0
            and (not last or group["last-delivered-id"] == last[0][0])
        )


def settings_for(tmp_path: Path, redis_url: str, db_url: str, **changes: Any) -> IntakeSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "intake_rate_limit_per_minute": 10_000,
    }
    return IntakeSettings(**(values | changes))


@pytest.fixture
def make_intake(
    tmp_path: Path, redis_server: EmbeddedRedis, db_url: str
) -> Iterator[Callable[..., Intake]]:
    """The app on a real Redis and a fresh database (SQLite file and PostgreSQL)."""
    opened: list[tuple[TestClient, Redis]] = []

    def make(**changes: Any) -> Intake:
        settings = settings_for(tmp_path, redis_server.url, db_url, **changes)
        engine = make_engine(settings.resolved_database_url)
        init_db(engine)
        client = TestClient(create_app(settings)).__enter__()
        redis = Redis.from_url(redis_server.url)
        opened.append((client, redis))
        return Intake(client, engine, redis, settings)

    yield make
    for client, redis in opened:
        client.__exit__(None, None, None)
        redis.close()


@pytest.fixture
def intake(make_intake: Callable[..., Intake]) -> Intake:
    return make_intake(extra_categories={"elsparkcyklar": "Elsparkcyklar"})


# --- submitting --------------------------------------------------------------------


def test_a_report_is_queued_on_the_stream_under_the_tokens_organisation(intake: Intake) -> None:
    token = intake.org("Securitas")
    r = intake.post(token, report(organisation="Någon annan AB", kommun="0580"))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["message_sv"] == "Tack! Rapporten är mottagen."
    assert body["receipts"] == [
        {"report_id": "r-1", "status": "queued", "reason": None,
         "status_url": "/api/v1/reports/r-1/status"}
    ]  # fmt: skip
    [entry] = intake.entries()
    assert entry["organisation"] == "Securitas"
    assert entry["kommun"] == "0580" and entry["source"] == "vaktare"


def test_many_reports_at_once_and_a_retry_publishes_nothing_again(intake: Intake) -> None:
    token = intake.org("Securitas")
    batch = [report("a"), report("b", category="skadegorelse")]
    first = intake.post(token, batch)
    assert first.status_code == 202
    assert [x["report_id"] for x in first.json()["receipts"]] == ["a", "b"]
    again = intake.post(token, batch)  # the phone did not see the answer and sent again
    assert again.status_code == 202
    assert len(intake.entries()) == 2


def test_kommun_and_source_come_from_the_token_when_left_out(intake: Intake) -> None:
    token = intake.org("Nattvandrarna", sources=("nattvandrare",))
    payload = {k: v for k, v in report().items() if k not in ("source",)}
    assert intake.post(token, payload).status_code == 202
    assert intake.entries()[0]["source"] == "nattvandrare"


def test_status_follows_the_report_through_the_ingest(intake: Intake) -> None:
    token = intake.org("Securitas")
    intake.post(token, [report("ok"), report("ny", category="elsparkcyklar")])
    assert intake.get(token, "/api/v1/reports/ok/status").json()["status"] == "queued"
    intake.ingest()  # the ingest does not know the intake's extra category
    assert intake.get(token, "/api/v1/reports/ok/status").json()["status"] == "stored"
    rejected = intake.get(token, "/api/v1/reports/ny/status").json()
    assert rejected["status"] == "rejected"
    assert rejected["reason"]["code"] == "unknown_category"
    assert "elsparkcyklar" in rejected["reason"]["message_sv"]
    missing = intake.get(token, "/api/v1/reports/finns-inte/status")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"
    # The answers come from the intake's own projection of the outcome streams, not from
    # the ingest's tables: with those emptied, the statuses stay.
    with intake.engine.begin() as conn:
        conn.execute(delete(StoredReport))
        conn.execute(delete(RejectedSubmission))
    assert intake.get(token, "/api/v1/reports/ok/status").json()["status"] == "stored"
    assert intake.get(token, "/api/v1/reports/ny/status").json()["status"] == "rejected"


def test_another_organisations_report_is_not_visible_to_a_reporter(intake: Intake) -> None:
    a, b = intake.org("A"), intake.org("B")
    intake.post(a, report("x"))
    assert intake.get(b, "/api/v1/reports/x/status").status_code == 404
    assert intake.get(b, "/api/v1/reports/x/status?organisation=A").status_code == 403
    tib = intake.org("TiB", role="tib")
    assert intake.get(tib, "/api/v1/reports/x/status?organisation=A").json()["status"] == "queued"


# --- every rejection code ----------------------------------------------------------

LONG = "x" * 2001


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ([1], "not_an_object", None),
        ([], "not_an_object", None),
        (report(version=2), "unsupported_version", "version"),
        ({k: v for k, v in report().items() if k != "category"}, "missing_field", "category"),
        (report(category="elefant"), "unknown_category", "category"),
        (report(description=LONG), "description_too_long", "description"),
        (report(lat="norr"), "invalid_field", "lat"),
        (report(occurred_at="2026-11-20T22:15:00"), "invalid_field", "occurred_at"),
        (report(lat=59.33, lon=18.07), "outside_kommun", None),
        (
            report(occurred_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()),
            "future_time",
            None,
        ),
        (report(occurred_at="2001-01-01T12:00:00+01:00"), "too_old", None),
    ],
)
def test_each_rejection_is_a_422_with_the_ingest_code(
    intake: Intake, body: Any, code: str, field: str | None
) -> None:
    token = intake.org("Securitas")
    r = intake.post(token, body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["code"] == code
    assert error["message_sv"] and error["message_en"]
    if field:
        assert error["field"] == field
    assert intake.entries() == []


def test_one_bad_report_in_a_list_publishes_none(intake: Intake) -> None:
    token = intake.org("Securitas")
    r = intake.post(token, [report("a"), report("b", category="elefant")])
    assert r.status_code == 422
    assert [(e["index"], e["report_id"]) for e in r.json()["errors"]] == [(1, "b")]
    assert intake.entries() == []


@pytest.mark.parametrize(
    ("raw", "code"), [(b"{not json", "invalid_json"), (b'{"a": "\xff"}', "invalid_encoding")]
)
def test_unreadable_bodies(intake: Intake, raw: bytes, code: str) -> None:
    token = intake.org("Securitas")
    r = intake.client.post(
        "/api/v1/reports", content=raw, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == code


def test_unknown_kommun_when_the_tokens_kommun_has_no_areas(intake: Intake) -> None:
    token = intake.org("Stockholmsvakt", kommun="0180")
    r = intake.post(token, report())
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_kommun"


# --- 401, 403, 413, 429 ------------------------------------------------------------


def test_missing_wrong_and_revoked_tokens_are_401(intake: Intake) -> None:
    token = intake.org("Securitas")
    assert intake.post(None, report()).json()["errors"][0]["code"] == "missing_token"
    wrong = intake.post(token + "x", report())
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "invalid_token"
    revoke_organisation(intake.engine, "Securitas")
    assert intake.post(token, report()).status_code == 401


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"source": "polis"}, "source_not_allowed"), ({"kommun": "0180"}, "kommun_not_allowed")],
)
def test_a_source_or_kommun_the_token_does_not_allow_is_403(
    intake: Intake, changes: dict[str, str], code: str
) -> None:
    token = intake.org("Securitas", sources=("vaktare", "ordningsvakt"))
    r = intake.post(token, report(**changes))
    assert r.status_code == 403
    [error] = r.json()["errors"]
    assert error["code"] == code and "Securitas" in error["message_sv"]
    assert intake.entries() == []


def test_bodies_over_the_limit_are_413_before_parsing(make_intake: Callable[..., Intake]) -> None:
    intake = make_intake(intake_max_body_bytes=2000)
    token = intake.org("Securitas")
    big = [report(f"r{i}") for i in range(20)]
    r = intake.post(token, big)
    assert r.status_code == 413 and r.json()["errors"][0]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield json.dumps(big).encode()

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    chunked = intake.client.post("/api/v1/reports", content=chunks(), headers=headers)
    assert chunked.status_code == 413
    assert intake.entries() == []


def test_too_many_requests_per_token_are_429_with_retry_after(
    make_intake: Callable[..., Intake],
) -> None:
    intake = make_intake(intake_rate_limit_per_minute=3)
    token, other = intake.org("Securitas"), intake.org("Annan")
    codes = [intake.get(token, "/api/v1/me").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = intake.get(token, "/api/v1/me")
    assert r.json()["errors"][0]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert intake.get(other, "/api/v1/me").status_code == 200  # per token


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's single write lock
def test_a_database_locked_too_long_is_503_and_the_report_is_not_lost(intake: Intake) -> None:
    """SQLite's write lock held past the busy timeout: 503 with Retry-After in the API's
    shape, never a 500; sending again once the lock is free gives one report."""
    url = intake.settings.resolved_database_url
    token = intake.org("Securitas")
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        r = intake.post(token, report("locked-1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503, r.text
    assert r.json()["errors"][0]["code"] == "database_busy"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    again = intake.post(token, report("locked-1"))
    assert again.status_code == 202, again.text
    intake.ingest()  # the first send may have reached the stream before the lock refused it
    with Session(intake.engine) as s:
        stored = s.exec(select(StoredReport.report_id)).all()
    assert stored == ["locked-1"]


# --- the authorisation matrix ------------------------------------------------------

ROLES = ("reporter", "tib", "meeting", "public", "admin")
ENDPOINTS: dict[str, tuple[str, str, set[str]]] = {
    # name: (method, path, roles allowed)
    "submit": ("POST", "/api/v1/reports", {"reporter", "tib", "admin"}),
    "status": ("GET", "/api/v1/reports/x/status", {"reporter", "tib", "admin"}),
    "nollrapport": ("POST", "/api/v1/nollrapporter", {"reporter", "tib", "admin"}),
    "me": ("GET", "/api/v1/me", set(ROLES)),
    "areas": ("GET", "/api/v1/areas.geojson", set(ROLES)),
    "audit": ("GET", "/api/v1/audit", {"admin"}),
    "open311_services": ("GET", "/open311/v2/services.json", set(ROLES)),
    "open311_create": ("POST", "/open311/v2/requests.json", {"reporter", "tib", "admin"}),
    "open311_list": ("GET", "/open311/v2/requests.json", {"reporter", "tib", "meeting", "admin"}),
    "open311_get": ("GET", "/open311/v2/requests/1.json", {"reporter", "tib", "meeting", "admin"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_authorisation_matrix(intake: Intake, role: str, endpoint: str) -> None:
    method, path, allowed = ENDPOINTS[endpoint]
    token = intake.org(f"org-{role}", role=role)
    headers = {"Authorization": f"Bearer {token}"}
    if endpoint == "submit":
        r = intake.client.post(path, json=report(), headers=headers)
    elif endpoint == "nollrapport":
        r = intake.client.post(path, json={}, headers=headers)
    elif endpoint == "open311_create":
        form = {"service_code": "klotter", "lat": "58.4108", "long": "15.6214", "api_key": token}
        r = intake.client.post(path, data=form)
    else:
        r = intake.client.request(method, path, headers=headers)
    assert r.status_code != 401
    if role in allowed:
        assert r.status_code in (200, 201, 202, 404), r.text
    else:
        assert r.status_code == 403, r.text


def test_a_refusal_is_in_the_audit_log(intake: Intake) -> None:
    token = intake.org("Mötet", role="meeting", sources=())
    assert intake.post(token, report()).status_code == 403
    admin = intake.org("Admin", role="admin")
    log = intake.get(admin, "/api/v1/audit").json()
    denied = [e for e in log if e["action"] == "denied"]
    assert denied[0]["organisation"] == "Mötet" and denied[0]["object"] == "permission:submit"


# --- nollrapporter -----------------------------------------------------------------


def test_a_nollrapport_goes_on_its_stream_with_a_deterministic_id(intake: Intake) -> None:
    token = intake.org("Nattvandrarna", sources=("nattvandrare",))
    r = intake.post(token, {"area": "Ryd"}, "/api/v1/nollrapporter")
    assert r.status_code == 202, r.text
    week = r.json()["iso_week"]
    assert r.json()["message_id"] == f"Nattvandrarna/0580/{week}/Ryd"
    [entry] = intake.entries(NOLLRAPPORT_STREAM)
    message = NollrapportV1.model_validate(entry)
    assert (message.organisation, message.source, message.area) == (
        "Nattvandrarna", "nattvandrare", "Ryd",
    )  # fmt: skip
    whole = intake.post(token, {}, "/api/v1/nollrapporter").json()
    assert whole["message_id"].endswith("/*")
    bad = intake.post(token, {"area": "Atlantis"}, "/api/v1/nollrapporter")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "area"
    future = intake.post(token, {"iso_week": "2999-W01"}, "/api/v1/nollrapporter")
    assert future.status_code == 422


# --- Open311 -----------------------------------------------------------------------


def test_open311_services_are_the_categories(intake: Intake) -> None:
    services = intake.client.get("/open311/v2/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["skadegorelse"]["service_name"] == "Skadegörelse"
    assert by_code["elsparkcyklar"]["service_name"] == "Elsparkcyklar"


def test_open311_round_trip_shows_no_personal_data(intake: Intake) -> None:
    token = intake.org("Securitas", sources=("vaktare", "ordningsvakt"))
    form = {
        "api_key": token,
        "service_code": "skadegorelse",
        "lat": "58.4108",
        "long": "15.6214",
        "description": "Krossad ruta, ring mig på 070-123 45 67",
        "email": "vakt@example.se",
        "first_name": "Kalle",
        "attribute[source]": "ordningsvakt",
    }
    created = intake.client.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 201, created.text
    [answer] = created.json()
    request_id = answer["service_request_id"]
    assert intake.entries()[0]["source"] == "ordningsvakt"

    tib = intake.org("TiB", role="tib")
    listed = intake.client.get("/open311/v2/requests.json", params={"api_key": tib}).json()
    one = intake.client.get(f"/open311/v2/requests/{request_id}.json?api_key={tib}").json()
    assert listed == one
    [shown] = one
    assert shown["service_code"] == "skadegorelse" and shown["status"] == "open"
    assert shown["lat"] == 58.4108 and shown["long"] == 15.6214
    assert shown["description"] == "Krossad ruta, ring mig på [telefon]"
    text = json.dumps(one, ensure_ascii=False)
    for personal in ("070-123", "Securitas", "Kalle", "vakt@example.se", "ordningsvakt"):
        assert personal not in text
    assert set(shown) == {
        "service_request_id", "status", "status_notes", "service_code", "service_name",
        "description", "requested_datetime", "updated_datetime", "lat", "long",
    }  # fmt: skip

    intake.ingest()
    [after] = intake.client.get("/open311/v2/requests.json", params={"api_key": tib}).json()
    assert after["status"] == "closed" and after["status_notes"] == "Registrerad i lägesbilden."


def test_open311_readers_see_only_what_their_role_allows(intake: Intake) -> None:
    a, b = intake.org("A"), intake.org("B")
    form = {"service_code": "klotter", "lat": "58.4108", "long": "15.6214"}
    intake.client.post("/open311/v2/requests.json", data={**form, "api_key": a})
    assert len(intake.client.get("/open311/v2/requests.json", params={"api_key": a}).json()) == 1
    assert intake.client.get("/open311/v2/requests.json", params={"api_key": b}).json() == []
    public = intake.org("Allmänheten", role="public", sources=())
    refused = intake.client.get("/open311/v2/requests.json", params={"api_key": public})
    assert refused.status_code == 403
    [error] = refused.json()  # the GeoReport error shape, with our code beside it
    assert error["code"] == 403 and error["reason"] == "role_not_allowed"


def test_open311_errors_use_the_georeport_shape(intake: Intake) -> None:
    token = intake.org("A")
    form = {"service_code": "elefant", "lat": "58.4108", "long": "15.6214", "api_key": token}
    r = intake.client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 400  # GeoReport v2: 400 for an invalid parameter
    [error] = r.json()
    assert error["code"] == 400 and error["reason"] == "unknown_category"
    assert "elefant" in error["description"]


# --- audit and documentation -------------------------------------------------------


def test_submits_and_views_are_audited(intake: Intake) -> None:
    token = intake.org("Securitas")
    intake.post(token, report("a"))
    intake.get(token, "/api/v1/reports/a/status")
    admin = intake.org("Admin", role="admin")
    log = intake.get(admin, "/api/v1/audit").json()
    seen = {(e["organisation"], e["action"], e["object"]) for e in log}
    assert ("Securitas", "submit", "report:Securitas/a") in seen
    assert ("Securitas", "view", "report:Securitas/a") in seen
    assert all(e["remote_addr"] == "testclient" for e in log)
    runner = CliRunner()
    listed = runner.invoke(lagesbild, ["audit", "list", "--json"], env=_env(intake))
    assert listed.exit_code == 0, listed.output
    assert any(e["action"] == "submit" for e in json.loads(listed.stdout))


def test_the_api_is_documented(intake: Intake) -> None:
    spec = intake.client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/reports"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["oneOf"][1]["type"] == "array"
    assert "organisation" not in schema["oneOf"][0]["required"]
    assert {"202", "401", "403", "413", "422", "429"} <= set(post["responses"])
    assert "/open311/v2/requests.{response_format}" in spec["paths"]  # .json and .xml


# --- the command line: org, import -------------------------------------------------


def _env(intake: Intake) -> dict[str, str]:
    s = intake.settings
    return {
        "LAGESBILD_REDIS_URL": str(s.redis_url),
        "LAGESBILD_DATA_DIR": str(s.data_dir),
        "LAGESBILD_DATABASE_URL": str(s.database_url),
    }


def test_org_add_prints_the_token_once_and_list_and_revoke(intake: Intake) -> None:
    runner, env = CliRunner(), _env(intake)
    args = ["add", "Securitas Linköping", "--kommun", "0580", "--role", "reporter",
            "--source", "vaktare", "--source", "ordningsvakt"]  # fmt: skip
    added = runner.invoke(lagesbild, ["org", *args], env=env)
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("lgb_")
    assert intake.post(token, report()).status_code == 202
    listed = runner.invoke(lagesbild, ["org", "list", "--json"], env=env)
    [org] = json.loads(listed.stdout)
    assert org["sources"] == ["vaktare", "ordningsvakt"] and token not in listed.stdout
    assert runner.invoke(lagesbild, ["org", *args], env=env).exit_code == 1  # the name is taken
    assert (
        runner.invoke(lagesbild, ["org", "revoke", "Securitas Linköping"], env=env).exit_code == 0
    )
    assert intake.post(token, report("b")).status_code == 401


MIXED_CSV = """\
Rapport-id;Tidpunkt;Kategori;Lat;Lon;Beskrivning;Kommun
v-1;{when};Skadegörelse;58,4108;15,6214;Krossad ruta vid entrén;580
v-2;{when};klotter;58.4108;15.6214;Tag på muren;0580
v-3;{when};elefant;58.4108;15.6214;Okänd kategori;0580
v-4;{when};klotter;59.33;18.07;I Stockholm;0580
v-5;igår kväll;klotter;58.4108;15.6214;Utan tid;0580

v-6;{when};klotter;58.4108;15.6214;Fel kommun;0180
"""


def test_csv_import_of_a_mixed_sheet(intake: Intake, tmp_path: Path) -> None:
    intake.org("Securitas")
    when = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    sheet = tmp_path / "vecka.csv"
    sheet.write_text(MIXED_CSV.format(when=when), encoding="cp1252")  # Excel's "CSV"
    args = ["csv", str(sheet), "--org", "Securitas"]
    result = CliRunner().invoke(lagesbild, ["import", *args], env=_env(intake))
    assert result.exit_code == 0, result.output
    assert "6 rader, 2 godkända (2 skickade), 4 avvisade" in result.stdout
    for code in ("unknown_category", "outside_kommun", "invalid_field", "kommun_not_allowed"):
        assert code in result.stdout
    entries = intake.entries()
    assert [e["report_id"] for e in entries] == ["v-1", "v-2"]
    assert entries[0]["category"] == "skadegorelse" and entries[0]["organisation"] == "Securitas"
    rejects = (tmp_path / "vecka.avvisade.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[0].startswith("Rad;Kod;Fält;Orsak;Rapport-id")
    assert [line.split(";")[:2] for line in rejects[1:]] == [
        ["4", "unknown_category"], ["5", "outside_kommun"], ["6", "invalid_field"],
        ["8", "kommun_not_allowed"],
    ]  # fmt: skip


def test_xlsx_import_with_a_column_mapping_and_a_dry_run(intake: Intake, tmp_path: Path) -> None:
    from openpyxl import Workbook

    intake.org("Securitas")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Datum", "Kl", "Händelse", "N", "E"])
    day = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None)
    sheet.append([day.replace(hour=0, minute=0, second=0, microsecond=0), day.time(),
                  "Klotter", 58.4108, 15.6214])  # fmt: skip
    path = tmp_path / "vecka.xlsx"
    book.save(path)
    mapping = ["time=Kl", "category=Händelse", "lat=N", "lon=E"]
    args = ["csv", str(path), "--org", "Securitas", *(f"--map={m}" for m in mapping)]
    dry = CliRunner().invoke(lagesbild, ["import", *args, "--dry-run"], env=_env(intake))
    assert dry.exit_code == 0, dry.output
    assert "1 godkända (1 skulle skickas (provkörning))" in dry.stdout
    assert intake.entries() == []
    real = CliRunner().invoke(lagesbild, ["import", *args], env=_env(intake))
    assert real.exit_code == 0, real.output
    [entry] = intake.entries()
    assert entry["report_id"].startswith("csv-") and entry["category"] == "klotter"
    CliRunner().invoke(lagesbild, ["import", *args], env=_env(intake))  # the same sheet again
    assert len(intake.entries()) == 2  # published again, but the same id: one stored row
    assert {e["report_id"] for e in intake.entries()} == {entry["report_id"]}


def test_import_refuses_an_unknown_column_mapping(intake: Intake, tmp_path: Path) -> None:
    intake.org("Securitas")
    sheet = tmp_path / "v.csv"
    sheet.write_text("Tidpunkt;Kategori\n", encoding="utf-8")
    args = ["csv", str(sheet), "--org", "Securitas", "--map", "category=Typ"]
    r = CliRunner().invoke(lagesbild, ["import", *args], env=_env(intake))
    assert r.exit_code == 1 and "Typ" in r.output
