"""Live latency: from a report's submission at the intake to its event in the TiB's page.

The real services run as `lagesbild up` runs them (separate processes via the supervisor):
intake, ingest, aggregate and TiB, on an embedded redis-server and one SQLite file. A real
headless Chromium (Playwright, the system's binary) logs in to the TiB page `/tib` and keeps
it open; an init script wraps the page's own EventSource so that every `report` event is
stamped (`performance.timeOrigin + performance.now()`, wall clock) the moment the page
receives it, before the page's own handler draws it. So the figure includes the browser's
event loop, busy drawing the earlier reports, as a TiB duty officer's screen would be.

Reports are POSTed one per request to the intake's HTTP API (`/api/v1/reports`, a
reporter's bearer token, rate limit off) at a steady rate (open loop: one started every
1/rate s, not waiting for answers). Latency = event received in the page − just before the
POST was sent, matched by the page's report id (sha256 of organisation/report_id). Each
rate runs on a freshly loaded page.

Where the time goes, hop by hop (p50 and p99 of each, in the JSON rows): `intake` =
submission → its entry on the reports stream (the entry id's time, written by Redis),
`ingest` = that → its event on the accepted stream (waiting to be read, validated, stored),
`tib` = that → the event read off the TiB's event stream by a plain HTTP client in the bench
(`probe`; the TiB storing it and pushing it out), `browser` = the probe → the page (the
browser's event loop). Refusals are counted by HTTP status (`refused_by`).

    .venv/bin/python bench/bench_live.py [--rates 200,1000] [--seconds 30] [--batch 1]
    .venv/bin/python bench/bench_live.py --quick      # a few seconds at 50/s (smoke test)

Target: p99 ≤ 500 ms at 200/s on the 2-core machine. The load generator and Chromium run on
the same machine as the services.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from redis import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.supervisor import exited, start_services, stop_services  # noqa: E402
from shared.access import create_organisation  # noqa: E402
from shared.contracts import ACCEPTED_STREAM, REPORTS_STREAM  # noqa: E402
from shared.db import init_db, make_engine  # noqa: E402
from shared.redis_runtime import EmbeddedRedis  # noqa: E402
from tests.conftest import free_port  # noqa: E402

SERVICES = ("ingest", "aggregate", "intake", "tib")
REPORTER = "Bänkbolaget AB"
CATEGORIES = ("klotter", "skadegorelse", "ordningsstorning", "nedskrapning")

# Stamps every `report` event the page's own EventSource receives (before its handlers).
STAMP_EVENTS = """
(() => {
  const Native = window.EventSource;
  window.__arrivals = [];
  function Stamped(url, init) {
    const source = new Native(url, init);
    source.addEventListener("report", (e) => {
      const at = performance.timeOrigin + performance.now();
      const m = /"id":\\s*"([0-9a-f]+)"/.exec(e.data);
      if (m) window.__arrivals.push([m[1], at]);
    });
    return source;
  }
  Stamped.prototype = Native.prototype;
  Object.assign(Stamped, { CONNECTING: 0, OPEN: 1, CLOSED: 2 });
  window.EventSource = Stamped;
})();
"""


@dataclass
class Run:
    rate: int
    seconds: float
    batch: int
    sent: dict[str, float] = field(default_factory=dict)  # page id -> wall time before POST
    answered: dict[str, float] = field(default_factory=dict)  # page id -> 202 received
    failed: int = 0
    achieved: float = 0.0
    arrivals: dict[str, float] = field(default_factory=dict)  # page id -> wall time in page
    accepted_at: dict[str, float] = field(default_factory=dict)
    refused_by: dict[str, int] = field(default_factory=dict)  # HTTP status (or error) -> n
    queued_at: dict[str, float] = field(default_factory=dict)  # reports stream entry time
    announced_at: dict[str, float] = field(default_factory=dict)  # accepted stream entry time
    probed: dict[str, float] = field(default_factory=dict)  # read off /stream by the bench


def page_id(report_id: str) -> str:
    return hashlib.sha256(f"{REPORTER}/{report_id}".encode()).hexdigest()[:32]


def report(report_id: str, rng: random.Random) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "source": "vaktare",
        "category": rng.choice(CATEGORIES),
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "lat": round(58.41 + rng.uniform(-0.02, 0.02), 6),
        "lon": round(15.62 + rng.uniform(-0.04, 0.04), 6),
    }


async def probe(tib_url: str, token: str, run: Run) -> None:
    """Read the TiB's event stream as a plain client: when each report left the server."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with (
        httpx2.AsyncClient(base_url=tib_url, timeout=None) as client,
        client.stream("GET", "/api/v1/tib/stream", headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data:") and (m := ID_IN_EVENT.search(line)):
                run.probed.setdefault(m.group(1), time.time())


async def probe_until_drained(
    tib_url: str, token: str, run: Run, drain_s: float, submitted: threading.Event
) -> None:
    reader = asyncio.create_task(probe(tib_url, token, run))
    while not submitted.is_set() and not reader.done():
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + drain_s
    while len(set(run.probed) & set(run.answered)) < len(run.answered):
        if time.monotonic() > deadline or reader.done():
            break
        await asyncio.sleep(0.1)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader


async def submit(base: str, token: str, run: Run, prefix: str) -> None:
    """POST at a steady rate for run.seconds (open loop), `batch` reports per request."""
    rng = random.Random(run.rate)
    limits = httpx2.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def post(ids: list[str]) -> None:
            body = [report(i, rng) for i in ids]
            now = time.time()
            for i in ids:
                run.sent[page_id(i)] = now
            try:
                r = await client.post("/api/v1/reports", json=body, headers=headers)
                why = str(r.status_code)
            except httpx2.HTTPError as exc:
                why = type(exc).__name__
            if why == "202":
                done = time.time()
                for i in ids:
                    run.answered[page_id(i)] = done
            else:
                run.failed += len(ids)
                run.refused_by[why] = run.refused_by.get(why, 0) + len(ids)

        loop = asyncio.get_running_loop()
        interval = run.batch / run.rate
        requests = max(1, round(run.seconds * run.rate / run.batch))
        tasks = []
        start = loop.time()
        for n in range(requests):
            await asyncio.sleep(max(0.0, start + n * interval - loop.time()))
            ids = [f"{prefix}-{n}-{k}" for k in range(run.batch)]
            tasks.append(asyncio.create_task(post(ids)))
        run.achieved = requests * run.batch / max(1e-9, loop.time() - start)
        await asyncio.gather(*tasks)


ID_IN_EVENT = re.compile(r'"id":\s*"([0-9a-f]+)"')


def stream_times(redis_url: str, run: Run) -> None:
    """When each report's entries were written on the reports and the accepted stream
    (the entry ids' milliseconds, Redis's clock on this same machine)."""
    client = Redis.from_url(redis_url)
    try:
        for stream, into in ((REPORTS_STREAM, run.queued_at), (ACCEPTED_STREAM, run.announced_at)):
            entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(stream)  # type: ignore[assignment]
            for entry_id, fields in entries:
                key = _report_key(stream, fields)
                if key is not None and (pid := page_id_of_key(key)) in run.sent:
                    into.setdefault(pid, int(entry_id.split(b"-")[0]) / 1000)
    finally:
        client.close()


def _report_key(stream: str, fields: dict[bytes, bytes]) -> str | None:
    if stream == REPORTS_STREAM:
        message_id = fields.get(b"message_id")
        return message_id.decode() if message_id else None
    payload = json.loads(fields.get(b"payload", b"{}"))
    return f"{payload.get('organisation')}/{payload.get('report_id')}"


def page_id_of_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


@contextmanager
def services(workdir: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """The services and Redis; yields (intake URL, TiB URL, reporter token, TiB token,
    Redis URL)."""
    server = EmbeddedRedis(free_port(), workdir / "redis").start()
    db_url = f"sqlite:///{workdir / 'data' / 'lagesbild.db'}"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    engine = make_engine(db_url)
    init_db(engine)
    reporter = create_organisation(engine, REPORTER, "0580", "reporter", ["vaktare"])[1]
    tib = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])[1]
    engine.dispose()
    intake_port, tib_port = free_port(), free_port()
    env = {
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATABASE_URL": db_url,
        "LAGESBILD_DATA_DIR": str(workdir / "data"),
        "LAGESBILD_OUTPUT_DIR": str(workdir / "out"),
        "LAGESBILD_MAP_TILES": "",
        "LAGESBILD_TIB_TILE_URL": "",
        "LAGESBILD_INTAKE_PORT": str(intake_port),
        "LAGESBILD_TIB_PORT": str(tib_port),
        "LAGESBILD_INTAKE_RATE_LIMIT_PER_MINUTE": "0",
        "LAGESBILD_TIB_RATE_LIMIT_PER_MINUTE": "0",
        "LAGESBILD_LOG_LEVEL": "WARNING",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAGESBILD_")} | env
    procs = start_services(env, log_dir=workdir / "logs", services=SERVICES)
    try:
        intake, tib_url = f"http://127.0.0.1:{intake_port}", f"http://127.0.0.1:{tib_port}"
        deadline = time.monotonic() + 120
        while True:
            if dead := exited(procs):
                logs = "\n".join(
                    p.read_text(errors="replace")[-2000:] for p in (workdir / "logs").glob("*.log")
                )
                raise RuntimeError(f"a service exited: {dead}\n{logs}")
            try:
                if all(httpx2.get(u, timeout=2).status_code < 500 for u in (intake, tib_url)):
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the services did not answer within 120 s")
            time.sleep(0.5)
        warm_up(intake, tib_url, reporter, tib)
        yield intake, tib_url, reporter, tib, server.url
    finally:
        stop_services(procs)
        server.stop()


def warm_up(intake: str, tib_url: str, reporter: str, tib: str, n: int = 20) -> None:
    """A few reports through the whole path first: no run pays for imports, first
    connections or the consumers' start."""
    rng = random.Random(0)
    for k in range(n):
        body = report(f"warm-{k}", rng)
        r = httpx2.post(f"{intake}/api/v1/reports", json=body, timeout=30,
                        headers={"Authorization": f"Bearer {reporter}"})  # fmt: skip
        r.raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        live = httpx2.get(f"{tib_url}/api/v1/tib/live?hours=1", timeout=30,
                          headers={"Authorization": f"Bearer {tib}"}).json()  # fmt: skip
        if len(live["reports"]) >= n:
            return
        time.sleep(0.5)
    raise RuntimeError("the warm-up reports did not reach the TiB within 60 s")


def measure(browser: Any, urls: tuple[str, str, str, str, str], run: Run, drain_s: float) -> Run:
    intake, tib_url, reporter, tib_token, redis_url = urls
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(STAMP_EVENTS)
    page.goto(f"{tib_url}/tib", wait_until="load")
    page.fill("#nyckel", tib_token)
    page.click("#logga-in")
    page.wait_for_url(f"{tib_url}/tib")
    page.wait_for_function(
        "() => document.getElementById('live-status').textContent.includes('Live')"
    )
    # Submitting runs in its own thread's loop; this thread keeps Playwright's.
    from concurrent.futures import ThreadPoolExecutor

    # The probe reads in a thread of its own: the load generator's loop is busy.
    submitted = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        prober = pool.submit(
            asyncio.run, probe_until_drained(tib_url, tib_token, run, drain_s, submitted)
        )
        time.sleep(0.7)
        job = pool.submit(asyncio.run, submit(intake, reporter, run, f"r{run.rate}"))
        while not job.done():
            page.wait_for_timeout(200)  # lets Playwright's loop serve the page meanwhile
        submitted.set()
        job.result()
        while not prober.done():
            page.wait_for_timeout(200)
        prober.result()
    deadline = time.monotonic() + drain_s
    arrivals: list[list[Any]] = []
    while True:
        arrivals += page.evaluate("() => window.__arrivals.splice(0)")
        if len({a[0] for a in arrivals} & set(run.answered)) >= len(run.answered):
            break
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    run.arrivals = {str(i): float(t) / 1000 for i, t in arrivals if i in run.sent}
    # when the ingest stored each (accepted_at), from the TiB's own API
    body = page.evaluate(
        "async () => (await fetch('/api/v1/tib/live?hours=1', {credentials: 'same-origin'})).json()"
    )
    for r in body.get("reports", []):
        if r["id"] in run.sent:
            run.accepted_at[r["id"]] = datetime.fromisoformat(r["accepted_at"]).timestamp()
    page.close()
    stream_times(redis_url, run)
    return run


def rows_of(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        lat = [(run.arrivals[i] - run.sent[i]) * 1000 for i in run.arrivals]
        stored = [
            (run.accepted_at[i] - run.sent[i]) * 1000 for i in run.arrivals if i in run.accepted_at
        ]
        shown = [
            (run.arrivals[i] - run.accepted_at[i]) * 1000
            for i in run.arrivals
            if i in run.accepted_at
        ]
        answer = [(run.answered[i] - run.sent[i]) * 1000 for i in run.answered]
        hops = {
            "intake": _hop(run.sent, run.queued_at, run.arrivals),
            "ingest": _hop(run.queued_at, run.announced_at, run.arrivals),
            "tib": _hop(run.announced_at, run.probed, run.arrivals),
            "browser": _hop(run.probed, run.arrivals, run.arrivals),
        }
        rows.append(
            {
                "rate": run.rate,
                "achieved": round(run.achieved, 1),
                "batch": run.batch,
                "sent": len(run.sent),
                "refused": run.failed,
                "arrived": len(run.arrivals),
                "missing": len(run.answered) - len(set(run.arrivals) & set(run.answered)),
                "p50_ms": round(percentile(lat, 50), 1),
                "p95_ms": round(percentile(lat, 95), 1),
                "p99_ms": round(percentile(lat, 99), 1),
                "max_ms": round(max(lat), 1) if lat else float("nan"),
                "intake_answer_p50_ms": round(percentile(answer, 50), 1),
                "to_stored_p50_ms": round(statistics.median(stored), 1) if stored else None,
                "stored_to_page_p50_ms": round(statistics.median(shown), 1) if shown else None,
                "refused_by": dict(run.refused_by),
                "hops_ms": hops,
            }
        )
    return rows


def _hop(start: dict[str, float], end: dict[str, float], among: dict[str, float]) -> dict:
    """p50/p99 (ms) of end − start over the reports that reached the page."""
    spans = [(end[i] - start[i]) * 1000 for i in among if i in start and i in end]
    if not spans:
        return {"p50": None, "p99": None, "n": 0}
    return {
        "p50": round(percentile(spans, 50), 1), "p99": round(percentile(spans, 99), 1),
        "n": len(spans),
    }  # fmt: skip


def hop_table(rows: list[dict[str, Any]]) -> str:
    """Each hop's p50/p99 (ms), per rate."""
    lines = [f"{'rate/s':>7} " + " ".join(f"{h + ' p50/p99':>19}" for h in HOPS)]
    for r in rows:
        cells = [f"{r['hops_ms'][h]['p50']!s:>9}/{r['hops_ms'][h]['p99']!s:<9}" for h in HOPS]
        lines.append(f"{r['rate']:>7} " + " ".join(cells))
    return "\n".join(lines)


HOPS = ("intake", "ingest", "tib", "browser")


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'rate/s':>7} {'achieved':>8} {'sent':>6} {'refused':>7} {'arrived':>7} {'missing':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'202 p50':>7} {'→stored':>8} {'→page':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['rate']:>7} {r['achieved']:>8} {r['sent']:>6} {r['refused']:>7} {r['arrived']:>7} "
            f"{r['missing']:>7} {r['p50_ms']:>7} {r['p95_ms']:>7} {r['p99_ms']:>7} "
            f"{r['max_ms']:>7} {r['intake_answer_p50_ms']:>7} "
            f"{r['to_stored_p50_ms']!s:>8} {r['stored_to_page_p50_ms']!s:>7}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,1000", help="reports per second, in turn")
    parser.add_argument("--seconds", type=float, default=30, help="how long each rate runs")
    parser.add_argument("--batch", type=int, default=1, help="reports per POST")
    parser.add_argument("--drain", type=float, default=30, help="wait this long for stragglers")
    parser.add_argument("--quick", action="store_true", help="3 s at 50/s: a smoke test")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (logs)")
    args = parser.parse_args(argv)
    rates = [50] if args.quick else [int(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    drain = 10.0 if args.quick else args.drain

    from tests.support.browser import launched_chromium

    runs = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        services(args.keep or Path(tmp)) as urls,
        launched_chromium() as browser,
    ):
        for rate in rates:
            runs.append(measure(browser, urls, Run(rate, seconds, args.batch), drain))
            print(table(rows_of(runs[-1:])).splitlines()[-1], flush=True)  # as it comes
    rows = rows_of(runs)
    print(f"{seconds:g} s per rate, {args.batch} report(s) per POST; latency = submission → "
          "event in the TiB page (Chromium)")  # fmt: skip
    print(table(rows))
    print("where the time goes (ms): intake = POST → reports stream, ingest → accepted "
          "stream, tib → event stream, browser → page")  # fmt: skip
    print(hop_table(rows))
    for r in rows:
        if r["refused_by"]:
            print(f"{r['rate']}/s refused by status: {r['refused_by']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
