"""The Content-Security-Policy in force in real headless Chromium: the report form, the TiB
page, the decision page, /docs and the published map and meeting pack work with no
`securitypolicyviolation` and no CSP error on the console, and hostile user text is shown
literally (no dialog ever opens). A control page shows that a violation is caught."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import uvicorn
from redis import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from shared.contracts import ACCEPTED_STREAM, REPORTS_STREAM
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from shared.web_security import (
    SecurityHeadersMiddleware,
    content_security_policy,
    meta_tag,
    script_hashes,
)
from tests.browser.test_decision_page import PACK, Archive, archive  # noqa: F401 (fixture)
from tests.browser.test_tib_page import tib_server, xadd  # noqa: F401 (fixture)
from tests.conftest import free_port, wait_for
from tests.integration.test_tib_service import accepted
from tests.support.snapshots import HOT_NORR

pytestmark = [pytest.mark.browser, pytest.mark.redis]

HOSTILE = (
    "<img src=x onerror=alert(1)> </script><script>alert(1)</script> {{7*7}} ${7*7} "
    '"><svg onload=alert(1)>'
)
WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});
"""


@dataclass
class Watched:
    """A page that records CSP violations (events and console messages), dialogs, script
    errors and every request that tried to leave 127.0.0.1."""

    page: Any
    violations: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: Any) -> Watched:
        w = cls(context.new_page())
        w.page.expose_binding("__cspViolation", lambda _source, text: w.violations.append(text))
        w.page.add_init_script(WATCH)
        w.page.on("console", w._console)
        w.page.on("dialog", w._dialog)
        w.page.on("pageerror", lambda exc: w.errors.append(str(exc)))
        w.page.route("**/*", w._route)
        return w

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.csp_console.append(message.text)
        if message.type == "error":
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def assert_clean(self) -> None:
        self.page.wait_for_timeout(300)  # late violations (an onerror, a timer) still count
        assert self.violations == [], self.violations
        assert self.csp_console == [], self.csp_console
        assert self.dialogs == [] and self.errors == [] and self.blocked == []
        assert self.console_errors == [], self.console_errors


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE",
                              timezone_id="Europe/Stockholm")  # fmt: skip
    yield ctx
    ctx.close()


def log_in(page: Any, base: str, token: str, path: str) -> None:
    """The login form (`POST /logga-in`, the token in the body), then the page."""
    page.goto(f"{base}/logga-in?next={quote(path)}")
    page.fill("#nyckel", token)
    page.click("#logga-in")
    page.wait_for_url(f"{base}{path}")


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    return server, thread, f"http://127.0.0.1:{port}"


# --- the control: a violation is seen ----------------------------------------------------


def test_an_injected_script_is_blocked_and_reported(context: Any) -> None:
    async def page(request: Request) -> HTMLResponse:
        nonce = request.state.csp_nonce
        return HTMLResponse(
            f'<!doctype html><script nonce="{nonce}">window.ours = 1;</script>'
            "<script>window.injected = 1;</script>"
            '<img src="data:," onerror="window.handler = 1">'
            '<a id="link" href="javascript:window.viaLink = 1">x</a>'
        )

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", page)]))
    server, thread, url = _serve(app)
    try:
        w = Watched.open(context)
        w.page.goto(url + "/")
        w.page.click("#link")
        w.page.wait_for_timeout(300)
        state = w.page.evaluate("[window.ours, window.injected, window.handler, window.viaLink]")
        assert state == [1, None, None, None]
        assert len(w.violations) >= 3, w.violations  # inline script, handler, javascript:
        assert all(v.startswith("script-src") for v in w.violations)
        assert w.csp_console  # Chromium also says so on the console
    finally:
        server.should_exit = True
        thread.join(10)


# --- the report form ---------------------------------------------------------------------


@pytest.fixture
def intake(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[tuple[str, str, str]]:
    """The intake under uvicorn (SQLite, real Redis): its URL, a reporter's token, Redis."""
    from services.intake.config import IntakeSettings
    from services.intake.main import create_app
    from shared.access import create_organisation
    from shared.db import init_db, make_engine

    settings = IntakeSettings(
        redis_url=redis_server.url,
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}",
        intake_tile_url="",
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])
    server, thread, url = _serve(create_app(settings))
    yield url, token, redis_server.url
    server.should_exit = True
    thread.join(10)


def test_the_report_form_works_under_the_policy(intake: tuple[str, str, str], context: Any) -> None:
    url, token, redis_url = intake
    w = Watched.open(context)
    page = w.page
    page.goto(f"{url}/rapport#nyckel={token}")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    page.wait_for_function("() => document.querySelectorAll('#karta path').length > 0")  # the areas
    page.check("#kategori-skadegorelse")
    page.locator("#karta").click()  # the middle of the map: inside the kommun
    assert page.text_content("#plats-text").startswith("Vald plats: ")
    assert page.get_attribute("#plats-sok", "aria-invalid") is None
    page.fill("#beskrivning", HOSTILE)
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent"
        " === 'Tack! Rapporten är mottagen.'"
    )
    redis = Redis.from_url(redis_url)
    try:
        entries: Any = redis.xrange(REPORTS_STREAM)
        [(_, fields)] = entries
    finally:
        redis.close()
    assert json.loads(entry_payload(fields))["description"] == HOSTILE.strip()
    w.assert_clean()


def test_the_api_docs_work_offline_under_the_policy(
    intake: tuple[str, str, str], context: Any
) -> None:
    url, _, _ = intake
    w = Watched.open(context)
    w.page.goto(f"{url}/docs")
    w.page.wait_for_selector(".opblock", timeout=20_000)
    assert w.page.locator(".opblock").count() >= 3
    assert "/api/v1/reports" in w.page.inner_text("#swagger-ui")
    w.assert_clean()


# --- the TiB page ------------------------------------------------------------------------


def test_a_hostile_description_is_shown_literally_in_the_tib_tooltip(
    tib_server: tuple[str, str, Redis],  # noqa: F811
    context: Any,
) -> None:
    base, token, redis = tib_server
    xadd(redis, ACCEPTED_STREAM, accepted("r-hostile", hours_ago=0.5, description=HOSTILE))
    w = Watched.open(context)
    page = w.page
    log_in(page, base, token, "/tib")
    page.wait_for_function(
        "() => document.getElementById('live-status')?.textContent.includes('Live')"
    )
    page.wait_for_function("() => document.querySelectorAll('#reports li').length === 1")
    marker = page.locator("path.leaflet-interactive.rapport")  # a report, not a hotspot
    wait_for(lambda: marker.count() == 1, timeout=10)
    boxes: list[Any] = []  # the map fits the areas (animated): hover once it is still

    def settled() -> bool:
        boxes.append(marker.bounding_box())
        return len(boxes) > 2 and boxes[-1] == boxes[-2] == boxes[-3] and boxes[-1]["width"] > 8

    wait_for(settled, timeout=10, interval=0.15)
    marker.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert text.endswith(f"Ordningsstörning – Skäggetorp: {HOSTILE.strip()}"), text
    assert "{{7*7}}" in text and "${7*7}" in text  # no template evaluated them
    assert tooltip.locator("img, script, svg").count() == 0  # text, not markup
    assert page.evaluate("document.querySelectorAll('img[src=x], svg[onload]').length") == 0
    w.assert_clean()


# --- the archive: the decision page, the published map and meeting pack -----------------


def test_the_decision_page_works_under_the_policy_and_shows_text_literally(
    archive: Archive,  # noqa: F811
    context: Any,
) -> None:
    w = Watched.open(context)
    page = w.page
    log_in(page, archive.url, archive.token, "/0580/beslut")
    page.wait_for_selector("#beslutsformular")
    measure = f"Extra nattvandring {HOSTILE}"
    page.fill("#measure", measure)
    page.fill("#target", HOT_NORR)
    page.fill("#responsible", "Nattvandrarna")
    page.fill("#from_week", "2026-W48")
    page.fill("#until_week", "2026-W51")
    page.click("#registrera")
    receipt = page.locator("#kvitto")
    receipt.wait_for()
    assert f"Beslutet är registrerat: {measure.strip()} vid {HOT_NORR}" in receipt.inner_text()
    assert receipt.locator("img, script, svg").count() == 0
    w.assert_clean()


def test_the_published_map_and_meeting_pack_run_under_the_policy(
    archive: Archive,  # noqa: F811
    context: Any,
) -> None:
    w = Watched.open(context)
    page = w.page
    log_in(page, archive.url, archive.token, PACK.replace("motesunderlag", "karta"))
    page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
    assert page.locator(".folium-map.leaflet-container").count() == 1
    assert page.locator(".leaflet-overlay-pane path").count() > 0  # areas drawn by scripts
    page.goto(f"{archive.url}{PACK}")
    page.wait_for_selector("tr.hotspot")
    w.assert_clean()


def test_a_published_map_opened_from_disk_runs_under_its_meta_policy(
    tmp_path: Path,
    context: Any,
) -> None:
    """What the maps publisher does with these functions: hash the page's inline scripts and
    put the policy in a <meta> element; Chromium then runs the page from file: with it."""
    from services.maps.render import install_assets, render_week_map
    from tests.browser.test_map_page import _browser_snapshot
    from tests.support.snapshots import make_areas

    install_assets(tmp_path)
    html = render_week_map(_browser_snapshot(), make_areas(), tiles=None)
    policy = content_security_policy(script_hashes=script_hashes(html), for_meta=True)
    head = html.index("<head>") + len("<head>")
    target = tmp_path / "0580" / "2026-W47" / "karta.html"
    target.parent.mkdir(parents=True)
    target.write_text(html[:head] + meta_tag(policy) + html[head:], encoding="utf-8")

    w = Watched.open(context)
    page = w.page
    page.unroute("**/*")
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(target.as_uri())
    page.wait_for_selector(".leaflet-control-layers-overlays label", state="attached")
    page.wait_for_function("() => document.querySelectorAll('.marker-cluster').length > 0")
    w.assert_clean()
