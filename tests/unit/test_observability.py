"""The ops server, the stream gauges and the JSON log format, without real services."""

from __future__ import annotations

import asyncio
import json
import logging

from shared.observability import (
    STREAM_LAG,
    STREAM_PENDING,
    JsonFormatter,
    health_checks,
    start_ops_server,
    update_stream_gauges,
)


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_metrics_and_health_are_served_and_503_when_a_check_fails() -> None:
    checks = {"redis": True, "database": True, "consumer": True}

    async def health() -> dict[str, bool]:
        return dict(checks)

    server = await start_ops_server(0, health)
    port = server.sockets[0].getsockname()[1]
    try:
        status, body = await _get(port, "/metrics")
        assert status == 200 and "lagesbild_ingest_reports_accepted_total" in body
        status, body = await _get(port, "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok", "checks": checks}
        checks["database"] = False
        status, body = await _get(port, "/healthz")
        assert status == 503 and json.loads(body)["checks"]["database"] is False
        assert (await _get(port, "/nothing"))[0] == 404
    finally:
        server.close()
        await server.wait_closed()


class _FakeRedis:
    """XINFO GROUPS as Redis 6 answers it (no lag field) and 7 (with one)."""

    async def xinfo_groups(self, stream: str) -> list[dict[str, object]]:
        if stream == "s6":
            return [{"name": b"g", "pending": 2, "last-delivered-id": b"5-0"}]
        return [{"name": "g", "pending": 1, "last-delivered-id": "1-0", "lag": 7}]

    async def xrange(self, stream: str, min: str, count: int) -> list[object]:
        assert min == "(5-0"
        return [object()] * 3


async def test_pending_and_lag_gauges_follow_xinfo_groups() -> None:
    await update_stream_gauges(_FakeRedis(), "test", {"s6": "g", "s7": "g"})
    assert STREAM_PENDING.labels("test", "s6", "g")._value.get() == 2
    assert STREAM_LAG.labels("test", "s6", "g")._value.get() == 3
    assert STREAM_PENDING.labels("test", "s7", "g")._value.get() == 1
    assert STREAM_LAG.labels("test", "s7", "g")._value.get() == 7


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.LogRecord("lagesbild.ingest", logging.INFO, "", 0, "rejected %s", ("x",), None)
    # what `log.info(..., extra={...})` does: the fields become the record's attributes
    record.__dict__.update(report_id="r-1", entry_id="1-0", stream="lagesbild.reports.v1")
    doc = json.loads(JsonFormatter().format(record))
    assert doc["message"] == "rejected x" and doc["level"] == "INFO"
    assert (doc["report_id"], doc["entry_id"], doc["stream"]) == (
        "r-1",
        "1-0",
        "lagesbild.reports.v1",
    )


async def test_a_service_without_a_database_is_healthy_on_redis_and_consumer() -> None:
    class Redis:
        async def ping(self) -> bool:
            raise ConnectionError("down")

    checks = await health_checks(Redis(), None, lambda: True)()
    assert checks == {"redis": False, "consumer": True}
