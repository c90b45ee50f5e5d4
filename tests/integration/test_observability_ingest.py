"""A real ingest process: /metrics counts what it did, /healthz says whether it can work,
and its JSON log names the report id of each rejection."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis as redis_sync

from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, run_cli, wait_for
from tests.integration.test_crash_recovery import _drained, _payloads, _start_ingest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _metric(body: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_metrics_health_and_json_logs(
    service_env: dict[str, str], redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **service_env,
        "LAGESBILD_METRICS_PORT": str(port),
        "LAGESBILD_LOG_FORMAT": "json",
        "LAGESBILD_GAUGE_INTERVAL_S": "0.3",
    }
    lines, valid, invalid = _payloads(300, seed=3)
    log = tmp_path / "ingest.log"
    proc = _start_ingest(env, log)
    client = redis_sync.Redis.from_url(env["LAGESBILD_REDIS_URL"])
    try:
        wait_for(lambda: _get(port, "/healthz")[0] == 200, timeout=30)
        health = json.loads(_get(port, "/healthz")[1])
        assert health == {
            "status": "ok",
            "checks": {"redis": True, "database": True, "consumer": True},
        }
        (tmp_path / "r.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        run_cli(env, "submit", str(tmp_path / "r.jsonl"))
        wait_for(lambda: _drained(client), timeout=60)

        def counted() -> str | None:
            body = _get(port, "/metrics")[1]
            done = _metric(body, "lagesbild_ingest_reports_accepted_total") == valid
            return body if done else None

        body = wait_for(counted, timeout=30)
        assert _metric(body, "lagesbild_ingest_reports_rejected_total") == invalid
        assert 'code="invalid_json"' in body and 'code="unknown_category"' in body
        assert 'lagesbild_stream_pending{group="ingest"' in body
        assert 'lagesbild_stream_lag{group="ingest"' in body

        records = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        rejected = [r for r in records if r.get("code") == "unknown_category"]
        assert rejected and all(r["report_id"].startswith("r-") for r in rejected)
        assert all(r["stream"] == "lagesbild.reports.v1" and r["entry_id"] for r in rejected)

        redis_server.stop()  # the process cannot work now, and says so
        _, body = wait_for(lambda: (s := _get(port, "/healthz"))[0] == 503 and s, 30)
        assert json.loads(body)["checks"]["redis"] is False
    finally:
        client.close()
        proc.terminate()
        proc.wait(20)
