"""Bad input that used to crash gets a clear 4xx or a clear CLI error, and nothing is lost.

HTTP: the intake, the TiB and the archive server under a real uvicorn (shared/http_server
`server_config`, the limits `lagesbild intake` runs with) on a free port, spoken to over
raw sockets where the bytes matter (NUL in the path, slow and vanishing clients). Streams:
a real redis-server and the real ingest and aggregate processes. CSV: the real
`lagesbild import csv` command on files with bad encodings and hostile dimensions.
"""

from __future__ import annotations

import codecs
import csv
import http.client
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from services.aggregate.models import WeekSnapshotRow
from services.ingest.models import RejectedSubmission, StoredReport
from services.intake import csv_import
from services.intake.cli import import_app
from services.intake.config import IntakeSettings
from services.intake.main import create_app as create_intake_app
from services.maps.exports import (
    export_counts_csv,
    export_incidents_csv,
    export_incidents_machine_csv,
)
from shared.access import create_organisation
from shared.contracts import (
    DEAD_LETTER_STREAM,
    REPORTS_STREAM,
    WEEK_BUILD_STREAM,
    WeekBuildRequestedV1,
)
from shared.csv_safety import safe_cell, safe_row
from shared.db import init_db, make_engine
from shared.http_server import server_config
from shared.models_access import AuditEntry
from shared.redis_runtime import EmbeddedRedis
from shared.scrub import scrub
from shared.streams import entry_payload, envelope
from shared.weeks import (
    WeekOutOfRangeError,
    buildable_weeks,
    check_buildable,
    iso_week_of,
    last_complete_week,
)
from tests.conftest import free_port, run_cli, wait_for
from tests.support.redis_entries import stream_entries

pytestmark = pytest.mark.redis

IN_LINKOPING = {"lat": 58.4108, "lon": 15.6214}
ON_STREAM = {"kommun": "0580", "organisation": "Väktarna"}  # what the intake adds


def report(report_id: str, **changes: Any) -> dict[str, Any]:
    when = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    base = {"report_id": report_id, "category": "klotter", "occurred_at": when, **IN_LINKOPING}
    return {**base, "source": "vaktare", "description": "Klotter på muren", **changes}


# --- a real uvicorn, raw sockets ---------------------------------------------------


@contextmanager
def served(app: Any, settings: Any) -> Iterator[int]:
    """`app` under uvicorn with the product's limits, in a thread; its port. Uvicorn's own
    logging setup is skipped so its records reach pytest's caplog."""
    port = free_port()
    config = server_config(app, "127.0.0.1", port, settings, log_config=None, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(15)


def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert match, raw[:200]
    return int(match[1]), body


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n".encode()


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Tracebacks and errors in the log (there must be none)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()
    ]


@dataclass
class Intake:
    settings: IntakeSettings
    engine: Engine
    token: str
    redis_url: str

    def entries(self) -> list[dict[str, Any]]:
        redis = Redis.from_url(self.redis_url)
        try:
            return [json.loads(entry_payload(f)) for _, f in stream_entries(redis, REPORTS_STREAM)]
        finally:
            redis.close()


@pytest.fixture
def make_intake(tmp_path: Path, redis_server: EmbeddedRedis) -> Callable[..., Intake]:
    def make(db_url: str | None = None, **changes: Any) -> Intake:
        settings = IntakeSettings(
            redis_url=redis_server.url,
            data_dir=tmp_path / "data",
            database_url=db_url or f"sqlite:///{tmp_path / 'intake.db'}",
            intake_rate_limit_per_minute=10_000,
            **changes,
        )
        engine = make_engine(settings.resolved_database_url)
        init_db(engine)
        token = create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])[1]
        return Intake(settings, engine, token, redis_server.url)

    return make


def _apps(tmp_path: Path, redis_url: str) -> dict[str, Any]:
    from services.maps.config import MapsSettings
    from services.maps.server import create_server_app
    from services.tib.config import TibSettings
    from services.tib.main import create_app as create_tib_app

    common: dict[str, Any] = {
        "redis_url": redis_url,
        "data_dir": tmp_path / "data",
        "database_url": f"sqlite:///{tmp_path / 'apps.db'}",
    }
    (tmp_path / "out" / "offentlig").mkdir(parents=True)
    maps = MapsSettings(**common, output_dir=tmp_path / "out")
    tib = TibSettings(**common)
    intake = IntakeSettings(**common)
    return {
        "intake": lambda: (create_intake_app(intake), intake),
        "tib": lambda: (create_tib_app(tib), tib),
        "maps-serve": lambda: (create_server_app(maps), maps),
    }


@pytest.mark.parametrize("name", ["intake", "tib", "maps-serve"])
def test_a_nul_or_control_character_in_the_address_is_a_clear_400(
    name: str, tmp_path: Path, redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app, settings = _apps(tmp_path, redis_server.url)[name]()
    paths = [
        "/%00", "/offentlig/%00", "/a%00b/index.html", "/x%01y", "/assets/%00.js",
        "/api/v1/reports/%00/status", "/open311/v2/requests/%00.json", "/?token=%00",
    ]  # fmt: skip
    with served(app, settings) as port:
        for path in paths:
            status, body = status_and_body(exchange(port, get(path)))
            assert status == 400, (path, body[:300])
            assert "otillåtet tecken" in body.decode("utf-8"), (path, body[:300])
        # the same server still answers ordinary requests
        status, _ = status_and_body(exchange(port, get("/offentlig/")))
        assert status in (200, 401, 404)
    assert problems(caplog) == []


def test_report_ids_with_any_printable_character_round_trip_over_http(
    make_intake: Callable[..., Intake], db_url: str
) -> None:
    """The receipt's status_url is percent-encoded; GET of it finds the report; a retry is
    answered from the receipt (idempotent) instead of a 500 after publishing."""
    intake = make_intake(db_url)
    ids = ["a/b", "a?b#c d", "å/ä ö%2F", "x%y", "../status", "100 % /?#&=+", "رقم ١٢٣"]
    auth = {"Authorization": f"Bearer {intake.token}", "Content-Type": "application/json"}
    with served(create_intake_app(intake.settings), intake.settings) as port:

        def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers=auth)
            response = conn.getresponse()
            payload = json.loads(response.read() or b"null")
            conn.close()
            return response.status, payload

        reports = [report(i) for i in ids]
        status, first = call("POST", "/api/v1/reports", reports)
        assert status == 202, first
        urls = {r["report_id"]: r["status_url"] for r in first["receipts"]}
        assert set(urls) == set(ids)
        for report_id, url in urls.items():
            assert url.isascii() and " " not in url and "?" not in url and "#" not in url
            status, found = call("GET", url)
            assert status == 200, (report_id, url, found)
            assert found["report_id"] == report_id and found["status_url"] == url
        status, again = call("POST", "/api/v1/reports", reports)  # a retry
        assert status == 202 and [r["status_url"] for r in again["receipts"]] == list(urls.values())
    assert [e["report_id"] for e in intake.entries()] == ids  # published once, not twice


@pytest.mark.parametrize(
    ("request_id", "status"),
    [
        ("١٢٣", 400),  # Arabic-Indic digits: int() reads them, the database must not
        ("１２３", 400),  # full-width digits
        ("12ab", 400),
        ("12345678901234567890", 404),  # 20 digits: past any id
        ("2147483648", 404),  # one past the integer column
        ("9" * 5000, 404),  # longer than int() converts by default
    ],
)
def test_open311_ids_that_are_not_plain_numbers_get_a_clear_open311_error(
    make_intake: Callable[..., Intake], db_url: str, request_id: str, status: int
) -> None:
    intake = make_intake(db_url)
    with TestClient(create_intake_app(intake.settings)) as client:
        one = client.get(f"/open311/v2/requests/{request_id}.json?api_key={intake.token}")
        listed = client.get(
            "/open311/v2/requests.json",
            params={"service_request_id": f"1,{request_id}", "api_key": intake.token},
        )
    assert one.status_code == status, one.text
    [error] = one.json()  # GeoReport v2's error shape: a list of {code, description}
    assert error["code"] == status and error["description"] == error["message_sv"]
    assert ("nummer med siffrorna 0–9" if status == 400 else "Ingen rapport") in error[
        "description"
    ]
    if status == 400:
        assert listed.status_code == 400 and listed.json()[0]["code"] == 400
    else:  # an id that cannot exist matches nothing
        assert listed.status_code == 200 and listed.json() == []


def test_a_body_that_does_not_arrive_in_time_is_408_and_logged_as_one_line(
    make_intake: Callable[..., Intake], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    intake = make_intake(http_body_timeout_s=1.0)
    head = (
        "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: {kind}\r\nContent-Length: 100\r\n\r\n"
    )
    with served(create_intake_app(intake.settings), intake.settings) as port:
        for path, kind in [
            ("/api/v1/reports", "application/json"),
            ("/open311/v2/requests.json", "application/x-www-form-urlencoded"),
        ]:
            started = time.monotonic()
            raw = exchange(
                port, head.format(path=path, token=intake.token, kind=kind).encode() + b'[{"rep'
            )
            elapsed = time.monotonic() - started
            status, body = status_and_body(raw)
            assert status == 408 and 0.9 < elapsed < 6, (status, elapsed, body)
            data = json.loads(body)
            item = data["errors"][0] if path.startswith("/api") else data[0]
            assert item["code"] in ("request_timeout", 408)
            assert "inom 1 sekunder" in item["message_sv"]
    lines = [
        r.getMessage() for r in caplog.records if "request body not received" in r.getMessage()
    ]
    assert len(lines) == 2 and "got 6 of 100 bytes" in lines[0]
    assert problems(caplog) == []
    assert intake.entries() == []


def test_slow_headers_time_out_and_a_silent_connection_is_closed(
    make_intake: Callable[..., Intake], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    intake = make_intake(http_header_timeout_s=1.0)
    with served(create_intake_app(intake.settings), intake.settings) as port:
        started = time.monotonic()
        raw = exchange(port, b"GET /rapport HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never ends
        assert status_and_body(raw)[0] == 408 and time.monotonic() - started < 6
        assert "inte fram i tid" in raw.decode("utf-8")
        started = time.monotonic()
        assert exchange(port, b"") == b""  # said nothing: closed without an answer
        assert time.monotonic() - started < 6
        # headers over the limit (16 KiB by default), in one piece or trickled
        big = get("/rapport", extra=f"X-Big: {'a' * 20_000}\r\n")
        assert status_and_body(exchange(port, big))[0] == 431
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for part in range(0, len(big), 4000):
                sock.sendall(big[part : part + 4000])
            assert sock.recv(100).startswith(b"HTTP/1.1 431 ")
        # and an ordinary request still works
        assert status_and_body(exchange(port, get("/rapport")))[0] == 200
    assert problems(caplog) == []


def test_a_client_that_goes_away_is_one_log_line_not_a_traceback(
    make_intake: Callable[..., Intake], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    intake = make_intake()
    head = (
        f"POST /api/v1/reports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {intake.token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with served(create_intake_app(intake.settings), intake.settings) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + b'[{"report_id": "r-1"')
            time.sleep(0.3)  # the handler is reading the body now
        gone = lambda: [  # noqa: E731
            r.getMessage() for r in caplog.records if "client went away" in r.getMessage()
        ]
        wait_for(gone, timeout=10)
        time.sleep(0.5)  # anything the handler logs after it would show now
    [line] = gone()
    assert "POST /api/v1/reports" in line and "got 20 of 1000 bytes" in line
    assert problems(caplog) == []
    assert intake.entries() == []


def test_more_connections_than_the_limit_get_503(
    make_intake: Callable[..., Intake], caplog: pytest.LogCaptureFixture
) -> None:
    intake = make_intake(http_limit_concurrency=2)
    with served(create_intake_app(intake.settings), intake.settings) as port:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.2)
            assert status_and_body(exchange(port, get("/rapport")))[0] == 503
        finally:
            for sock in idle:
                sock.close()
        wait_for(lambda: status_and_body(exchange(port, get("/rapport")))[0] == 200, timeout=10)


def test_deeply_nested_json_posted_to_the_api_is_a_clear_422(
    make_intake: Callable[..., Intake],
) -> None:
    intake = make_intake()
    auth = {"Authorization": f"Bearer {intake.token}", "Content-Type": "application/json"}
    deep_id = json.dumps([report("X")]).replace('"X"', "[" * 900 + "]" * 900)
    with TestClient(create_intake_app(intake.settings)) as client:
        for body in ("[" * 100_000 + "]" * 100_000, deep_id):
            r = client.post("/api/v1/reports", content=body, headers=auth)
            assert r.status_code == 422, r.text[:300]
            [error] = r.json()["errors"]
            assert error["code"] == "invalid_json" and "för djupt nästlad" in error["message_sv"]
    assert intake.entries() == []


# --- deep JSON on the stream, through the real ingest --------------------------------


@pytest.mark.slow
def test_deeply_nested_json_on_the_stream_is_rejected_and_the_consumer_goes_on(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    redis = Redis.from_url(service_env["LAGESBILD_REDIS_URL"])
    hostile = [
        b"[" * 30_000 + b"]" * 30_000,  # under the 64 KiB limit, far past the recursion limit
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        json.dumps(report("deep-1", description="X", **ON_STREAM))
        .replace('"X"', "[" * 900 + "]" * 900)
        .encode(),
        b'{"report_id": "nul-\x00", "kommun": "0580"}',  # a raw NUL byte, kept as data
    ]
    for payload in hostile:
        redis.xadd(REPORTS_STREAM, {"payload": payload})
    valid = json.dumps(report("after-the-bad-ones", **ON_STREAM)).encode()
    redis.xadd(REPORTS_STREAM, {"payload": valid})
    log = tmp_path / "ingest.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "ingest"],
        env={**os.environ, **service_env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    init_db(engine)
    try:

        def stored() -> list[str]:
            with Session(engine) as s:
                return list(s.exec(select(StoredReport.report_id)).all())

        assert wait_for(stored, timeout=60) == ["after-the-bad-ones"]
        with Session(engine) as s:
            rejected = s.exec(select(RejectedSubmission)).all()
        assert len(rejected) == len(hostile), log.read_text(errors="replace")[-6000:]
        assert [r.code for r in rejected] == ["invalid_json"] * len(hostile)
        assert sum("för djupt nästlad" in r.message_sv for r in rejected) == 3
        assert proc.poll() is None  # the consumer is alive
        output = log.read_text(errors="replace")
        assert "Traceback" not in output and "RecursionError" not in output, output[-3000:]
    finally:
        proc.terminate()
        proc.wait(15)
        redis.close()
        engine.dispose()


# --- weeks far outside the data ------------------------------------------------------


def test_the_buildable_weeks_reach_a_margin_before_the_data_and_one_week_ahead() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)  # a Sunday in 2026-W49
    assert buildable_weeks(now, None) == ("2025-W49", "2026-W50")
    assert buildable_weeks(now, "2024-W10") == ("2023-W10", "2026-W50")
    check_buildable("2026-W50", now)
    check_buildable("2023-W10", now, oldest="2024-W10")
    for week, oldest in [("2026-W51", None), ("2023-W09", "2024-W10"), ("9999-W01", None)]:
        with pytest.raises(WeekOutOfRangeError, match=f"Veckan {week} ligger utanför"):
            check_buildable(week, now, oldest)
    assert buildable_weeks(datetime(2000, 6, 1, tzinfo=UTC), None)[0] == "2000-W01"


@pytest.mark.slow
def test_week_build_refuses_a_week_far_outside_the_data(
    service_env: dict[str, str], running_services: dict[str, Any]
) -> None:
    """Refused before anything is asked of the aggregate: a week no data can make buildable
    (the CLI), one too far from the stored data (the aggregate's dead letter, its reason)."""
    for week in ("9999-W01", "1999-W52"):
        proc = run_cli(service_env, "week", "build", "--week", week, check=False)
        assert proc.returncode == 2, proc.stderr
        assert f"Veckan {week} ligger utanför det som kan byggas" in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = run_cli(service_env, "week", "build", "--week", "2026-W99", check=False)
    assert proc.returncode == 2 and "Ogiltig vecka" in proc.stderr
    proc = run_cli(service_env, "week", "build", "--week", "2001-W05", check=False)
    assert proc.returncode == 2, proc.stderr  # no data: the aggregate's range is near today
    assert "Veckan 2001-W05 ligger utanför det som kan byggas" in proc.stderr.replace("\n", " ")
    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    init_db(engine)
    with Session(engine) as s:
        assert s.exec(select(WeekSnapshotRow)).all() == []  # nothing was built
    last = last_complete_week(datetime.now(UTC))
    assert run_cli(service_env, "week", "build", "--week", last).returncode == 0


@pytest.mark.slow
async def test_a_build_request_for_an_absurd_week_is_dead_lettered_not_built(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    from redis.asyncio import Redis as AsyncRedis

    redis = AsyncRedis.from_url(service_env["LAGESBILD_REDIS_URL"])
    absurd = WeekBuildRequestedV1(kommun="0580", iso_week="9999-W01")
    fine = WeekBuildRequestedV1(kommun="0580", iso_week=iso_week_of(datetime.now(UTC)))
    for request in (absurd, fine):
        await redis.xadd(WEEK_BUILD_STREAM, await envelope(request, request.message_id))  # type: ignore[arg-type]
    await redis.aclose()
    log = tmp_path / "aggregate.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "aggregate"],
        env={**os.environ, **service_env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(service_env["LAGESBILD_DATABASE_URL"])
    init_db(engine)
    sync = Redis.from_url(service_env["LAGESBILD_REDIS_URL"])
    try:

        def letters() -> list[dict[str, Any]]:
            return [
                json.loads(entry_payload(f)) for _, f in stream_entries(sync, DEAD_LETTER_STREAM)
            ]

        def built() -> list[str]:
            with Session(engine) as s:
                return list(s.exec(select(WeekSnapshotRow.iso_week)).all())

        [letter] = wait_for(letters, timeout=60)
        assert letter["stream"] == WEEK_BUILD_STREAM
        assert "Veckan 9999-W01 ligger utanför" in letter["reason"]
        assert wait_for(built, timeout=60) == [fine.iso_week]  # the next request is built
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(15)
        sync.close()
        engine.dispose()


# --- CSV import: encodings, dimensions ------------------------------------------------

lagesbild = typer.Typer()
lagesbild.add_typer(import_app, name="import")


@dataclass
class Importer:
    env: dict[str, str]
    engine: Engine
    redis_url: str

    def run(self, *args: str) -> Any:
        return CliRunner().invoke(lagesbild, ["import", "csv", *args, "--org", "Securitas"],
                                  env=self.env)  # fmt: skip

    def entries(self) -> list[dict[str, Any]]:
        redis = Redis.from_url(self.redis_url)
        try:
            return [json.loads(entry_payload(f)) for _, f in stream_entries(redis, REPORTS_STREAM)]
        finally:
            redis.close()

    def audit_count(self) -> int:
        with Session(self.engine) as s:
            return len(s.exec(select(AuditEntry)).all())


@pytest.fixture
def importer(tmp_path: Path, redis_server: EmbeddedRedis) -> Importer:
    db = f"sqlite:///{tmp_path / 'import.db'}"
    engine = make_engine(db)
    init_db(engine)
    create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])
    env = {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_DATABASE_URL": db,
    }
    return Importer(env, engine, redis_server.url)


def _sheet_text(rows: int = 2) -> str:
    when = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    lines = ["Rapport-id;Tidpunkt;Kategori;Lat;Lon;Beskrivning"]
    lines += [f"v-{i};{when};Skadegörelse;58,4108;15,6214;Krossad ruta på torget"
              for i in range(1, rows + 1)]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def test_a_csv_with_bytes_undefined_in_cp1252_is_refused_naming_line_and_byte(
    importer: Importer, tmp_path: Path
) -> None:
    sheet = tmp_path / "vecka.csv"
    raw = _sheet_text(3).encode("cp1252").splitlines(keepends=True)
    raw[2] = raw[2].replace(b"Krossad", b"Kro\x81ssad")  # line 3 of the file
    sheet.write_bytes(b"".join(raw))
    result = importer.run(str(sheet))
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "Rad 3: tecken som inte kan läsas (byte 0x81). Spara filen som UTF-8." in message
    assert importer.entries() == []  # nothing half-sent
    assert not csv_import.rejects_path(sheet).exists()


@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
def test_a_utf16_csv_with_a_byte_order_mark_is_read(
    importer: Importer, tmp_path: Path, bom: bytes
) -> None:
    sheet = tmp_path / "vecka.csv"
    encoding = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    sheet.write_bytes(bom + _sheet_text(2).encode(encoding))
    result = importer.run(str(sheet))
    assert result.exit_code == 0, result.output
    entries = importer.entries()
    assert [e["report_id"] for e in entries] == ["v-1", "v-2"]
    assert {e["category"] for e in entries} == {"skadegorelse"}  # "Skadegörelse" read right
    assert entries[0]["description"] == "Krossad ruta på torget"


def test_a_utf16_csv_without_a_byte_order_mark_is_refused(
    importer: Importer, tmp_path: Path
) -> None:
    sheet = tmp_path / "vecka.csv"
    sheet.write_bytes(_sheet_text(2).encode("utf-16-le"))
    result = importer.run(str(sheet))
    assert result.exit_code == 1
    assert "NUL-tecken" in result.output and "Spara filen som UTF-8" in result.output
    assert importer.entries() == []


def _xlsx(path: Path, rows: list[list[Any]], *, claim: str | None = None,
          stray_row: int | None = None) -> Path:  # fmt: skip
    """A real workbook, its sheet XML then edited: a false `<dimension>`, and a stray cell
    far down (as a sheet someone once typed in at XFD1048576 has)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                if claim:
                    data = re.sub(rb'<dimension ref="[^"]*" ?/>',
                                  f'<dimension ref="{claim}"/>'.encode(), data)  # fmt: skip
                if stray_row:
                    cell = (
                        f'<row r="{stray_row}"><c r="XFD{stray_row}" t="inlineStr">'
                        "<is><t>x</t></is></c></row>"
                    )
                    data = data.replace(b"</sheetData>", cell.encode() + b"</sheetData>")
            dst.writestr(item, data)
    plain.unlink()
    return path


def _xlsx_rows() -> list[list[Any]]:
    day = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    return [
        ["Rapport-id", "Tidpunkt", "Kategori", "Lat", "Lon"],
        ["x-1", day, "Klotter", 58.4108, 15.6214],
        ["x-2", day, "Klotter", 58.4108, 15.6214],
        ["x-3", day, "elefant", 58.4108, 15.6214],  # rejected: unknown category
    ]


def test_an_xlsx_claiming_a_huge_dimension_is_streamed_and_a_dry_run_writes_nothing(
    importer: Importer, tmp_path: Path
) -> None:
    book = _xlsx(tmp_path / "vecka.xlsx", _xlsx_rows(), claim="A1:XFD1048576")
    audit_before = importer.audit_count()
    started = time.monotonic()
    dry = importer.run(str(book), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert time.monotonic() - started < 10
    assert "3 rader, 2 godkända (2 skulle skickas (provkörning)), 1 avvisade" in dry.output
    assert "ingen fil skrevs" in dry.output
    assert importer.entries() == []
    assert not csv_import.rejects_path(book).exists()
    assert importer.audit_count() == audit_before
    real = importer.run(str(book))
    assert real.exit_code == 0, real.output
    assert [e["report_id"] for e in importer.entries()] == ["x-1", "x-2"]
    assert csv_import.rejects_path(book).exists()


def test_an_xlsx_with_a_cell_at_row_1048576_is_refused_quickly(
    importer: Importer, tmp_path: Path
) -> None:
    book = _xlsx(tmp_path / "vecka.xlsx", _xlsx_rows(), claim="A1:XFD1048576",
                 stray_row=1_048_576)  # fmt: skip
    started = time.monotonic()
    result = importer.run(str(book), "--dry-run")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert f"fler än {csv_import.MAX_ROWS} rader" in " ".join(result.output.split())
    assert elapsed < 20, elapsed
    assert importer.entries() == []


def test_a_csv_longer_than_the_row_cap_is_refused(
    importer: Importer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "MAX_ROWS", 5)
    sheet = tmp_path / "vecka.csv"
    sheet.write_text(_sheet_text(6), encoding="utf-8")
    result = importer.run(str(sheet))
    assert result.exit_code == 1 and "fler än 5 rader" in result.output
    assert importer.entries() == []
    sheet.write_text(_sheet_text(5), encoding="utf-8")
    assert importer.run(str(sheet)).exit_code == 0
    assert len(importer.entries()) == 5


# --- CSV formula injection -----------------------------------------------------------

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(1+1)", "-2+3", "\t=1+1", "\r=1+1",
           " =1+1", "＝1+1", "=HYPERLINK(\"http://x\";\"klick\")"]  # fmt: skip
# Text that would split a row if a line break were left unquoted, starting the next one
# with a formula.
SPLITTERS = ["ok\r=cmd|' /C calc'!A0", "ok\n@SUM(1+1)", "ok\r\n+1+1"]
HARMLESS = ["-2", "-12.5", "-12,5", "58,4108", "Klotter", "", "e-post: x"]


def _formula_like(cell: str) -> bool:
    start = cell.lstrip(" \u00a0")
    return bool(start) and start[0] in "=+-@\t\r\n＝＋－＠" and cell not in HARMLESS


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_safe_row_neutralises_formulas_in_both_dialects(delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(safe_row([*HOSTILE, *HARMLESS, -2, 3.5]))
    [row] = list(csv.reader(io.StringIO(buffer.getvalue(), newline=""), delimiter=delimiter))
    hostile, harmless = row[: len(HOSTILE)], row[len(HOSTILE) :]
    assert hostile == ["'" + h for h in HOSTILE]  # each shown as text, unchanged after the '
    assert harmless == [*HARMLESS, "-2", "3.5"]  # plain numbers stay numbers
    assert safe_cell(-2) == -2 and safe_cell(None) is None


def test_exports_neutralise_formulas_in_every_text_column() -> None:
    from tests.support.snapshots import incident, make_snapshot

    snap = make_snapshot(
        [
            incident(f"a/{i}", "klotter", "Centrum", 58.39, 15.56, description=text)
            for i, text in enumerate([*HOSTILE, *SPLITTERS])
        ]
    )
    snap = snap.model_copy(update={"categories": {**snap.categories, "klotter": "@SUM(A1:A9)"}})
    # both dialects: for Swedish Excel (BOM, ";", Swedish headers) and RFC 4180 (issue #14)
    every: list[dict[str, str]] = []
    for text, delimiter, description, label in (
        (export_incidents_machine_csv(snap), ",", "beskrivning", "kategorinamn"),
        (export_incidents_csv(snap).removeprefix("\ufeff"), ";", "Beskrivning", "Kategori"),
    ):
        incidents = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
        assert len(incidents) == len(HOSTILE) + len(SPLITTERS)  # no row was split
        shown = sorted(r[description] for r in incidents)
        assert shown == sorted(safe_cell(scrub(h)) for h in [*HOSTILE, *SPLITTERS])
        assert sum(d.startswith("'") for d in shown) == len(HOSTILE)
        assert {r[label] for r in incidents} == {"'@SUM(A1:A9)"}
        every += incidents
    text = export_counts_csv(snap).removeprefix("\ufeff")
    counts = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert counts and all(r["Kategori"] == "'@SUM(A1:A9)" for r in counts)
    for row in [*every, *counts]:
        assert not any(_formula_like(v) for v in row.values()), row


def test_the_rejected_rows_file_neutralises_formulas(importer: Importer, tmp_path: Path) -> None:
    when = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["Rapport-id", "Tidpunkt", "Kategori", "Lat", "Lon", "Beskrivning", "@Extra"])
    for i, text in enumerate([*HOSTILE, *SPLITTERS]):  # unknown categories, cells hostile
        writer.writerow([f"r-{i}", when, text, "-2", "15,6", text, text])
    writer.writerow(["=cmd|' /C calc'!A0", when, "klotter", "-2", "15,6", "-2+3", "-2"])
    sheet = tmp_path / "vecka.csv"
    sheet.write_text(buffer.getvalue(), encoding="utf-8")
    result = importer.run(str(sheet))
    assert result.exit_code == 0, result.output
    text = csv_import.rejects_path(sheet).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0][-1] == "'@Extra"  # the sheet's own header too
    assert len(rows) == len(HOSTILE) + len(SPLITTERS) + 2  # header, rows, last: none split
    for row in rows:
        assert not any(_formula_like(cell) for cell in row), row
    last = rows[-1]
    assert last[4] == "'=cmd|' /C calc'!A0" and last[-2] == "'-2+3" and last[-1] == "-2"
    assert importer.entries() == []
