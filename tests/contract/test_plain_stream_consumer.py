"""Streams readable without FastStream (issue #17): a consumer written with plain redis-py
reads every stream the product writes, json-parses each entry's `payload` field and finds
the stream's contract in it.

The ingest, aggregate and maps run as real processes on a real redis-server and SQLite
file; the path is driven like the demo: reports submitted (one broken), a decision, a plan,
a week built and published. The intake's nollrapport and the TiB's patrol order are
written with the producers' own helper (`shared.streams.send`), as those services do.
An entry without a `payload` field on the reports stream is rejected to its sender, and one
on an internal stream dead-lettered, each with a reason that names the field."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from services.demo_run import demo_patrols
from shared.contracts import (
    DEAD_LETTER_STREAM,
    REJECTED_STREAM,
    REPORTS_STREAM,
    STREAM_TABLE,
    WEEK_BUILD_STREAM,
    NollrapportV1,
)
from shared.streams import MISSING_PAYLOAD_CODE, send
from shared.weeks import iso_week_of, last_complete_week, shift_week, week_bounds
from tests.conftest import cli_json, run_cli, service_logs, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BROKEN = '{"report_id": "trasig"'
PLANS = Path(__file__).resolve().parents[2] / "plans"


def _reports(week: str) -> list[str]:
    start = week_bounds(week)[0] + timedelta(hours=2)
    good = [
        {
            "report_id": f"plain-{n}",
            "kommun": "0580",
            "source": "vaktare",
            "organisation": "Bevakning Linköping",
            "category": "klotter",
            "occurred_at": (start + timedelta(days=n)).isoformat(),
            "lat": 58.4108,
            "lon": 15.6214,
            "description": f"Klotter på vägg {n}",
        }
        for n in range(3)
    ]
    return [json.dumps(r) for r in good] + [BROKEN]


async def _publish_as_intake_and_tib(url: str, week: str) -> None:
    client = AsyncRedis.from_url(url)
    try:
        await send(
            client,
            "lagesbild.nollrapporter.v1",
            NollrapportV1(
                kommun="0580",
                organisation="Nattvandrarna Ryd",
                source="nattvandrare",
                iso_week=week,
                area="Ryd",
                submitted_at=datetime.now(UTC),
            ),
        )
        event = demo_patrols([week])[0]
        await send(client, "lagesbild.tib.orders.v1", event)
    finally:
        await client.aclose()


def _read_everything(redis: Redis) -> dict[str, list[dict[bytes, bytes]]]:
    """What a plain redis-py consumer does: XREAD every stream from the start."""
    out: dict[str, list[dict[bytes, bytes]]] = {}
    reply: Any = redis.xread({s.name: "0-0" for s in STREAM_TABLE}, count=10_000)
    for name, entries in reply:
        out[name.decode()] = [fields for _id, fields in entries]
    return out


def test_a_plain_redis_py_consumer_reads_every_stream(
    running_services: dict[str, Any], service_env: dict[str, str], tmp_path: Path
) -> None:
    url = service_env["LAGESBILD_REDIS_URL"]
    redis = Redis.from_url(url)
    week = last_complete_week(datetime.now(UTC))
    file = tmp_path / "in.jsonl"
    file.write_text("\n".join(_reports(week)) + "\n", encoding="utf-8")
    try:
        run_cli(service_env, "submit", str(file))
        # Plain fields instead of `payload`: rejected (reports), dead-lettered (internal).
        redis.xadd(REPORTS_STREAM, {"report_id": "utan-payload", "kommun": "0580"})
        redis.xadd(WEEK_BUILD_STREAM, {"kommun": "0580", "iso_week": week})
        wait_for(
            lambda: (
                (s := cli_json(service_env, "status"))["stored_reports"] == 3
                and s["rejected_reports"] == 2
                and s["pending"] + s["unread"] == 0
            ),
            timeout=60,
        )
        run_cli(service_env, "plan", "load", str(PLANS / "linkoping.toml"))
        cli_json(
            service_env, "decision", "add", "--measure", "Väktare vid centrum kvällstid",
            "--target", "Skäggetorp", "--until-week",
            shift_week(iso_week_of(datetime.now(UTC)), 4), "--responsible", "Kommunen",
        )  # fmt: skip
        cli_json(service_env, "week", "build", "--week", week)
        asyncio.run(_publish_as_intake_and_tib(url, week))
        wait_for(lambda: all(_read_everything(redis).get(s.name) for s in STREAM_TABLE), 60)
    except AssertionError:
        raise AssertionError(service_logs(tmp_path)) from None

    entries = _read_everything(redis)
    assert sorted(entries) == sorted(s.name for s in STREAM_TABLE)
    for spec in STREAM_TABLE:
        for fields in entries[spec.name]:
            if b"payload" not in fields:  # the test's own payload-less entries
                assert spec.name in (REPORTS_STREAM, WEEK_BUILD_STREAM), fields
                continue
            assert b"__data__" not in fields
            text = fields[b"payload"].decode("utf-8")
            if spec.name == REPORTS_STREAM and text == BROKEN:
                continue  # the reports stream carries what senders wrote, broken or not
            spec.contract.model_validate(json.loads(text))

    rejections = [json.loads(f[b"payload"]) for f in entries[REJECTED_STREAM]]
    missing = [r for r in rejections if r["code"] == MISSING_PAYLOAD_CODE]
    assert len(missing) == 1
    assert "payload" in missing[0]["message_sv"] and "payload" in missing[0]["message_en"]
    letters = [json.loads(f[b"payload"]) for f in entries[DEAD_LETTER_STREAM]]
    assert [d["stream"] for d in letters] == [WEEK_BUILD_STREAM]
    assert "payload" in letters[0]["reason"]
