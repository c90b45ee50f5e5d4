"""The intake writes the receipts and audit entries of concurrent requests in one
transaction (`services/intake/submit.py: ReceiptWriter`), on a real SQLite file / PostgreSQL:
every request still gets its own receipts, every report one audit entry, and a request
whose rows cannot be written fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from services.intake import submit
from services.intake.models import IntakeReceipt
from services.intake.submit import QUEUED, Receipts, ReceiptWriter
from shared.access import Caller
from shared.db import init_db, make_engine
from shared.models_access import AuditEntry
from tests.integration.test_intake_api import Intake, make_intake, report  # noqa: F401

pytestmark = pytest.mark.redis


def test_concurrent_requests_share_a_transaction_and_keep_their_own_receipts(
    make_intake: Callable[..., Intake],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    intake = make_intake()
    token = intake.org("Väktarbolaget")
    groups: list[int] = []
    write = submit._write_receipts

    def counted(engine: Any, group: list[Receipts]) -> Any:
        groups.append(len(group))
        return write(engine, group)

    monkeypatch.setattr(submit, "_write_receipts", counted)
    bodies = [[report(f"g{n}-a"), report(f"g{n}-b")] for n in range(30)]
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda body: intake.post(token, body), bodies))
    assert [a.status_code for a in answers] == [202] * 30
    for body, answer in zip(bodies, answers, strict=True):
        receipts = answer.json()["receipts"]
        assert [r["report_id"] for r in receipts] == [b["report_id"] for b in body]
        assert {r["status"] for r in receipts} == {QUEUED}
    with Session(intake.engine) as s:
        stored = s.exec(select(IntakeReceipt)).all()
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "submit")).all()
    assert len({(r.organisation, r.report_id) for r in stored}) == len(stored) == 60
    assert sorted(a.object for a in audited) == sorted(
        f"report:Väktarbolaget/{b['report_id']}" for body in bodies for b in body
    )
    urls = [r["status_url"] for a in answers for r in a.json()["receipts"]]
    sent = [b["report_id"] for body in bodies for b in body]
    assert all(u.endswith(f"/{i}/status") for u, i in zip(urls, sent, strict=True))
    assert len(intake.entries()) == 60
    assert sum(groups) == 30 and max(groups) > 1  # requests did share a transaction


def _row(report_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "organisation": "Väktarbolaget", "report_id": report_id, "kommun": "0580",
        "channel": "api", "entry_id": f"1-{report_id}", "content_hash": "h", "category": "klotter",
        "lat": 58.41, "lon": 15.62, "description_scrubbed": "", "occurred_at": now,
        "submitted_at": now, **changes,
    }  # fmt: skip


def test_a_request_whose_rows_fail_fails_alone(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    caller = Caller("Väktarbolaget", "0580", "reporter", ("vaktare",))

    def receipts(report_id: str, **changes: Any) -> Receipts:
        row = _row(report_id, **changes)
        return Receipts(caller, [row], [f"report:x/{report_id}"], "127.0.0.1", "api", [report_id])

    async def run() -> list[Any]:
        writer = ReceiptWriter(engine)
        requests = [receipts("ok-1"), receipts("bad", entry_id=None), receipts("ok-2")]
        return await asyncio.gather(*(writer.write(r) for r in requests), return_exceptions=True)

    first, failed, last = asyncio.run(run())
    assert first["ok-1"].status == QUEUED and last["ok-2"].status == QUEUED
    assert isinstance(failed, Exception)  # NOT NULL entry_id: this request's own error
    with Session(engine) as s:
        assert sorted(r.report_id for r in s.exec(select(IntakeReceipt)).all()) == ["ok-1", "ok-2"]
        assert len(s.exec(select(AuditEntry)).all()) == 2  # the failed request left none


def test_one_report_twice_in_a_group_is_one_receipt_the_last_written(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    caller = Caller("Väktarbolaget", "0580", "reporter", ("vaktare",))

    async def run() -> list[Any]:
        writer = ReceiptWriter(engine)
        requests = [
            Receipts(caller, [_row("same", entry_id=f"{n}-0")], [], "", "api", ["same"])
            for n in (1, 2)
        ]
        return await asyncio.gather(*(writer.write(r) for r in requests))

    first, second = asyncio.run(run())
    assert first["same"].status == second["same"].status == QUEUED
    with Session(engine) as s:
        [row] = s.exec(select(IntakeReceipt)).all()
    assert row.entry_id == "2-0"
