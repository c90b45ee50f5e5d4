"""Real Open311 clients, unpatched, against the running intake (issue #17): `lagesbild
intake` under uvicorn on a free port, a real redis-server and a SQLite file.

- `georeport` 0.3.1 (PyPI), in both its formats (JSON and XML through xmltodict): lists
  the services, reads a service definition, lists requests and reads one. It cannot
  create a request (it has no POST), and it sends no key: it reads the public view.
- `civicbot` 0.4.0 (PyPI, its `Open311Client`): lists the services, checks the form
  against the service definition (`validate_remote`), POSTs requests (lat/long, and an
  `address_string`), lists them by `service_request_id` and reads one.

The key a client sends in the address never reaches the access log."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, run_cli, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def running(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[tuple[str, str, Path]]:
    """(Open311 base URL, a reporter's key, the intake's log file)."""
    env = {
        "LAGESBILD_REDIS_URL": redis_server.url,
        "LAGESBILD_DATA_DIR": str(tmp_path / "data"),
        "LAGESBILD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "LAGESBILD_INTAKE_PORT": str(port := free_port()),
    }
    run_cli(env, "db", "upgrade")
    added = run_cli(env, "org", "add", "Securitas", "--kommun", "0580", "--role", "reporter",
                    "--source", "vaktare")  # fmt: skip
    token = added.stdout.strip().splitlines()[-1].strip()
    log = tmp_path / "intake.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "intake"],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}/open311/v2"
    try:
        wait_for(lambda: _up(f"{base}/discovery.json"), timeout=60)
        yield base, token, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_civicbot_creates_lists_and_reads_requests(running: tuple[str, str, Path]) -> None:
    base, token, _ = running
    client = Open311Client(
        Endpoint(id="lagesbild", name="Lägesbild", base_url=base, write=True),
        jurisdiction_id="0580",
    )
    codes = [s["service_code"] for s in client.list_services()]
    assert "klotter" in codes
    definition = client.get_service_definition("klotter")
    assert [a["code"] for a in definition["attributes"]][:2] == ["source", "occurred_at"]
    sent = client.create_request(
        "klotter", dry_run=False, confirm="SEND", api_key=token, validate_remote=True,
        lat=58.4108, lng=15.6214, description="Klotter på muren",
        attributes={"source": "vaktare"},
    )  # fmt: skip
    [created] = sent.response
    by_place = client.create_request(
        "nedskrapning", dry_run=False, confirm="SEND", api_key=token,
        address_string="Skäggetorp, Linköping",
    )  # fmt: skip
    ids = [created["service_request_id"], by_place.response[0]["service_request_id"]]
    listed = client.list_requests(service_request_ids=ids)
    assert sorted(r["service_request_id"] for r in listed) == sorted(ids)
    one = client.get_request(ids[0])
    assert one is not None and one["service_code"] == "klotter" and one["status"] == "open"
    assert "description" not in one  # no key: the public view


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_lists_services_and_reads_requests(
    running: tuple[str, str, Path], output_format: str
) -> None:
    base, token, log = running
    form = {"service_code": "klotter", "lat": "58.4108", "long": "15.6214"}
    for _ in range(3):  # three in one area × category × week: the public view names the area
        request = urllib.request.Request(
            f"{base}/requests.json?api_key={token}",
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 201
    client = GeoReport(base, jurisdiction="0580", output_format=output_format)
    services = client.get_service_list()
    assert "klotter" in [s["service_code"] for s in services]
    definition = client.get_service_definition("klotter")
    assert definition["service_code"] == "klotter"
    listed = client.get_service_requests(service_code="klotter", status="open")
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one is a dict
    ids = [r["service_request_id"] for r in listed]
    assert len(ids) >= 3
    one = client.get_service_request(ids[0])
    assert one["service_code"] == "klotter" and one["status"] == "open"
    assert one["address_id"].startswith("omrade:")
    # uvicorn's access log has the line of the request with the key, but not the key
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "/open311/v2/requests.json?api_key=" in text and token not in text
