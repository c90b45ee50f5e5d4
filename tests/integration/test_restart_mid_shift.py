"""Restart every service in turn mid-shift: nothing lost, the TiB page recovers by itself.

The real services run as processes (`services.supervisor`, as `lagesbild up` starts them):
ingest, aggregate, maps, intake and TiB on a real redis-server and a SQLite file. A
reporter keeps submitting through the intake's HTTP API (retrying, with the same report and
id, while the intake is down, as a phone's queue does); the TiB issues an order and a guard
company acknowledges, checks in and out of it over the shift. Each service is stopped
(SIGTERM) and started again in turn; after each restart a report submitted then must show
on the TiB page, a real Chromium that stays open the whole time (no reload). At the end
every submitted report is stored exactly once by the ingest, counted once by the aggregate
and shown once by the TiB, and every order event reached the aggregate and the page.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from redis import Redis
from sqlmodel import Session, col, select

from services.aggregate.models import PatrolEventRow, WeekIncident
from services.ingest.models import StoredReport
from services.supervisor import exited, start_services, stop_services
from services.tib.models import TibLiveReport
from shared.access import create_organisation
from shared.contracts import (
    ACCEPTED_STREAM,
    AGGREGATE_GROUP,
    INGEST_GROUP,
    REPORTS_STREAM,
    TIB_GROUP,
    TIB_ORDER_STREAM,
)
from shared.db import init_db, make_engine
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, service_logs, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.browser]

REPORTER = "Bevakning Linköping AB"
GUARD = "Vaktbolaget Öst AB"
SERVICES = ("ingest", "aggregate", "maps", "intake", "tib")


def page_id(report_id: str) -> str:
    """The TiB page's id of a report (services/tib/store.py: a hash, never the name)."""
    return hashlib.sha256(f"{REPORTER}/{report_id}".encode()).hexdigest()[:32]


class Reporter:
    """Submits one report every `interval` s through the intake; a report that could not be
    sent (the intake down or busy) is sent again, unchanged, until it is received."""

    def __init__(self, intake: str, token: str, interval: float = 0.15) -> None:
        self.intake, self.token, self.interval = intake, token, interval
        self.rng = random.Random(16)
        self.received: list[str] = []
        self.retries = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._n = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def body(self, report_id: str) -> dict[str, Any]:
        return {
            "report_id": report_id,
            "source": "vaktare",
            "category": self.rng.choice(["klotter", "skadegorelse", "ordningsstorning"]),
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "lat": round(58.41 + self.rng.uniform(-0.02, 0.02), 6),
            "lon": round(15.62 + self.rng.uniform(-0.04, 0.04), 6),
        }

    def send(self, client: httpx2.Client, report_id: str) -> None:
        with self._lock:
            body = self.body(report_id)
        while True:
            try:
                r = client.post("/api/v1/reports", json=body,
                                headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
                if r.status_code == 202:
                    with self._lock:
                        self.received.append(report_id)
                    return
                assert r.status_code in (429, 502, 503), r.text  # never a refusal
            except httpx2.TransportError:
                pass
            self.retries += 1
            if self._stop.is_set() and self.retries > 10_000:
                return
            time.sleep(0.3)

    def one(self, prefix: str) -> str:
        """Submit one report now (retrying until received); its id."""
        with self._lock:
            self._n += 1
            report_id = f"{prefix}-{self._n}"
        with httpx2.Client(base_url=self.intake, timeout=10) as client:
            self.send(client, report_id)
        return report_id

    def _run(self) -> None:
        with httpx2.Client(base_url=self.intake, timeout=10) as client:
            while not self._stop.is_set():
                with self._lock:
                    self._n += 1
                    report_id = f"flow-{self._n}"
                self.send(client, report_id)
                time.sleep(self.interval)

    def __enter__(self) -> Reporter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=60)


@pytest.fixture
def shift(service_env: dict[str, str], tmp_path: Path, db_url: str) -> Iterator[dict[str, Any]]:
    engine = make_engine(db_url)
    init_db(engine)
    tokens = {
        "reporter": create_organisation(engine, REPORTER, "0580", "reporter", ["vaktare"])[1],
        "tib": create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1],
        "guard": create_organisation(
            engine, GUARD, "0580", "reporter", ["vaktare"], guard_company=True
        )[1],
    }
    ports = {"intake": free_port(), "tib": free_port()}
    env = service_env | {
        "LAGESBILD_INTAKE_PORT": str(ports["intake"]),
        "LAGESBILD_TIB_PORT": str(ports["tib"]),
        "LAGESBILD_TIB_TILE_URL": "",
        "LAGESBILD_INTAKE_RATE_LIMIT_PER_MINUTE": "0",
        "LAGESBILD_TIB_RATE_LIMIT_PER_MINUTE": "0",
        "LAGESBILD_TIB_HEARTBEAT_SECONDS": "2",
    }
    procs = start_services(env, log_dir=tmp_path / "logs", services=SERVICES)
    state = {
        "env": env,
        "procs": procs,
        "engine": engine,
        "tokens": tokens,
        "intake": f"http://127.0.0.1:{ports['intake']}",
        "tib": f"http://127.0.0.1:{ports['tib']}",
    }
    try:
        wait_until_serving(state)
        yield state
    finally:
        stop_services(procs)
        engine.dispose()


def wait_until_serving(state: dict[str, Any], timeout: float = 120) -> None:
    def serving() -> bool:
        assert not exited(state["procs"]), exited(state["procs"])
        try:
            return all(
                httpx2.get(url, timeout=2).status_code < 500
                for url in (f"{state['intake']}/rapport", f"{state['tib']}/tib")
            )
        except httpx2.TransportError:
            return False

    wait_for(serving, timeout=timeout, interval=0.5)


def restart(state: dict[str, Any], name: str, tmp_path: Path) -> None:
    procs = state["procs"]
    stop_services({name: procs[name]})
    time.sleep(1.0)  # reports keep coming while it is down
    procs.update(start_services(state["env"], log_dir=tmp_path / "logs", services=[name]))
    wait_until_serving(state)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_restarting_every_service_mid_shift_loses_nothing(
    shift: dict[str, Any], browser: Any, tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    tib_api = httpx2.Client(base_url=f"{shift['tib']}/api/v1/tib", timeout=10)
    as_tib = {"Authorization": f"Bearer {shift['tokens']['tib']}"}
    as_guard = {"Authorization": f"Bearer {shift['tokens']['guard']}"}
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{shift['tib']}/tib", wait_until="load")
        page.fill("#nyckel", shift["tokens"]["tib"])
        page.click("#logga-in")
        page.wait_for_url(f"{shift['tib']}/tib")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        page.wait_for_function(
            "() => document.getElementById('live-status')?.textContent.includes('Live')"
        )

        start = datetime.now(UTC).replace(microsecond=0)
        order = {"place": "Skäggetorps centrum", "lat": 58.427, "lon": 15.589,
                 "area": "Skäggetorp", "start": start.isoformat(),
                 "end": (start + timedelta(hours=4)).isoformat(),
                 "task": "Synlig patrullering", "priority": "hög"}  # fmt: skip
        issued = tib_api.post("/orders", json=order, headers=as_tib)
        assert issued.status_code == 201, issued.text
        order_id = issued.json()["order"]["order_id"]
        # the guard's steps, one after the restarts named
        steps = {"aggregate": "acknowledge", "intake": "check-in", "tib": "check-out"}
        labels = {"acknowledge": "kvitterad", "check-in": "på plats", "check-out": "avslutad"}

        with Reporter(shift["intake"], shift["tokens"]["reporter"]) as reporter:
            for name in SERVICES:
                restart(shift, name, tmp_path)
                # a report sent after the restart shows on the open page, without a reload
                marker = reporter.one(f"after-{name}")
                selector = f'#reports li[data-id="{page_id(marker)}"]'
                try:
                    page.wait_for_function(
                        f"() => !!document.querySelector('{selector}')",
                        timeout=30000,
                    )
                except Exception as exc:
                    raise AssertionError(
                        f"after restarting {name}: {exc}\n{service_logs(tmp_path)}"
                    ) from exc
                if name in steps:
                    step = steps[name]
                    done = tib_api.post(f"/orders/{order_id}/{step}", json={"note": ""},
                                        headers=as_guard)  # fmt: skip
                    assert done.status_code == 200, (name, done.text)
                    label = labels[step]
                    try:
                        page.wait_for_function(
                            f"() => document.querySelector('#orders li[data-order=\"{order_id}\"]')"
                            f"?.textContent.includes('{label}')",
                            timeout=15000,
                        )
                    except Exception as exc:
                        shown = page.locator("#orders").inner_text()
                        raise AssertionError(f"{step} after {name}: {shown!r}") from exc
            time.sleep(1.0)
        received = set(reporter.received)
        assert len(received) == len(reporter.received)  # each id was received once
        assert len(received) >= 5 + 20, len(received)  # the flow went on through the restarts

        engine = shift["engine"]

        def stored(key: Any, where: Any) -> list[str]:
            with Session(engine) as s:
                return list(s.exec(select(key).where(where)).all())

        def ingest_keys() -> list[str]:
            return stored(StoredReport.report_id, StoredReport.organisation == REPORTER)

        wait_for(lambda: set(ingest_keys()) >= received, timeout=60)
        ids = ingest_keys()
        assert sorted(ids) == sorted(received)  # each exactly once, nothing else

        def aggregate_keys() -> list[str]:
            return stored(WeekIncident.key, col(WeekIncident.key).startswith(f"{REPORTER}/"))

        wait_for(lambda: len(aggregate_keys()) >= len(received), timeout=60)
        assert sorted(aggregate_keys()) == sorted(f"{REPORTER}/{i}" for i in received)

        wanted = {page_id(i) for i in received}

        def tib_keys() -> list[str]:
            return stored(TibLiveReport.key_hash, col(TibLiveReport.key_hash).in_(wanted))

        wait_for(lambda: len(tib_keys()) >= len(wanted), timeout=60)
        assert sorted(tib_keys()) == sorted(wanted)
        # … and the open page shows each of them once
        page.wait_for_function(
            f"() => document.querySelectorAll('#reports li').length >= {len(wanted)}",
            timeout=20000,
        )
        shown = page.eval_on_selector_all(
            "#reports li", "items => items.map((li) => li.dataset.id)"
        )
        assert len(shown) == len(set(shown)) and wanted <= set(shown)

        # every order event reached the aggregate, once
        def kinds() -> list[str]:
            with Session(engine) as s:
                rows = s.exec(
                    select(PatrolEventRow.kind)
                    .where(PatrolEventRow.order_id == order_id)
                    .order_by(col(PatrolEventRow.at), col(PatrolEventRow.id))
                ).all()
            return list(rows)

        wait_for(lambda: "checked_out" in kinds(), timeout=60)
        assert kinds() == ["issued", "acknowledged", "checked_in", "checked_out"]

        # no consumer left anything pending
        redis = Redis.from_url(redis_server.url)
        for stream, group in (
            (REPORTS_STREAM, INGEST_GROUP),
            (ACCEPTED_STREAM, AGGREGATE_GROUP),
            (ACCEPTED_STREAM, TIB_GROUP),
            (TIB_ORDER_STREAM, AGGREGATE_GROUP),
        ):
            wait_for(lambda: redis.xpending(stream, group)["pending"] == 0, timeout=30)  # noqa: B023
        redis.close()
        assert reporter.retries > 0  # the intake's restart was felt, and ridden out
        assert navigations == [] and errors == []
    finally:
        page.close()
        tib_api.close()
