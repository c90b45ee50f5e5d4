"""Security headers and the Content-Security-Policy (no 'unsafe-inline' for scripts) on
every response of the intake, the TiB and the archive server (maps-serve); the policy's
building blocks (`shared/web_security.py`) checked against independent computations."""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, StreamingResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from shared.web_security import (
    SecurityHeadersMiddleware,
    content_security_policy,
    meta_tag,
    script_hashes,
    security_headers,
    tile_sources,
)
from tests.conftest import free_port

HEADERS = ("x-content-type-options", "referrer-policy", "x-frame-options", "permissions-policy")
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)


def sha256_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def inline_scripts(body: str) -> list[tuple[str, str]]:
    """(attributes, text) of each inline script that runs, by a plain regex: an independent
    reading for the simple pages of this project (no scripts in comments or raw text)."""
    found = []
    for attrs, text in _SCRIPT.findall(body.replace("\r\n", "\n")):
        if re.search(r"\bsrc\s*=", attrs) or re.search(r"type\s*=\s*\"?application/json", attrs):
            continue
        found.append((attrs, text))
    return found


def assert_secure(response: Any) -> dict[str, list[str]]:
    """Every header is there; the script policy has no 'unsafe-*'; every inline script of
    an HTML body is allowed by its nonce or its hash. Returns the policy's directives."""
    headers = response.headers
    csp = directives(headers["content-security-policy"])
    assert csp["script-src"][0] == "'self'"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"} & set(csp["script-src"])
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["default-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer")
    assert "geolocation=(self)" in headers["permissions-policy"]
    assert "camera=()" in headers["permissions-policy"]
    if headers.get("content-type", "").startswith("text/html"):
        nonces = {s[len("'nonce-") : -1] for s in csp["script-src"] if s.startswith("'nonce-")}
        for attrs, text in inline_scripts(response.text):
            nonce = re.search(r"nonce=\"([^\"]+)\"", attrs)
            assert (nonce and nonce.group(1) in nonces) or sha256_source(text) in csp[
                "script-src"
            ], f"inline script not allowed: {text[:80]!r}"
    return csp


# --- the building blocks --------------------------------------------------------------


def test_the_policy_allows_scripts_only_from_the_origin_a_nonce_or_a_hash() -> None:
    h = sha256_source("alert(1)")
    csp = directives(content_security_policy(nonce="abc_-123", script_hashes=[h, h]))
    assert csp["script-src"] == ["'self'", "'nonce-abc_-123'", h]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]  # Leaflet's style attributes
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["frame-ancestors"] == ["'none'"]
    plain = directives(content_security_policy())
    assert plain["script-src"] == ["'self'"]


def test_the_meta_policy_leaves_out_what_browsers_ignore_in_a_meta_element() -> None:
    csp = content_security_policy(script_hashes=[sha256_source("x")], for_meta=True)
    assert "frame-ancestors" not in csp and "'sha256-" in csp
    tag = meta_tag(csp)
    assert tag.startswith('<meta http-equiv="Content-Security-Policy" content="')
    assert "&#x27;self&#x27;" in tag  # quotes escaped inside the attribute


@pytest.mark.parametrize(
    "bad",
    [
        {"nonce": "x' 'unsafe-inline"},
        {"nonce": "a b"},
        {"script_hashes": ["'unsafe-inline'"]},
        {"script_hashes": ["sha256-abc"]},
    ],
)
def test_a_bad_nonce_or_hash_cannot_widen_the_policy(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        content_security_policy(**bad)


def test_tile_hosts_are_the_only_extra_image_sources() -> None:
    assert tile_sources("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == [
        "https://tile.openstreetmap.org"
    ]
    assert tile_sources("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "", None) == [
        "https://*.tiles.example.org"
    ]
    assert tile_sources("OpenStreetMap") == ["https://tile.openstreetmap.org"]  # folium's name
    assert tile_sources("no such provider", "javascript:alert(1)") == []
    csp = directives(content_security_policy(img_sources=["https://a.example", "bad value"]))
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://a.example"]


def test_script_hashes_are_the_sha256_of_each_run_scripts_text() -> None:
    scripts = ["var a = 1;", "\n  console.log('åäö – \u2028');\n", "", "x = '</scrip' + 't>'"]
    doc = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<script>{scripts[0]}</script>"
        '<script src="/a.js"></script>'  # external: allowed by 'self', no hash
        '<script type="application/json">{"a": 1}</script>'  # a data block never runs
        "<!-- <script>commented()</script> -->"
        f"<script type=module>{scripts[1]}</script>"
        "<title><script>not a script</script></title>"
        "</head><body><textarea><script>typed()</script></textarea>"
        f'<script data-x="a>b">{scripts[2]}</script>'
        f"<SCRIPT type='text/javascript'>{scripts[3]}</SCRIPT >"
        f"<script>{scripts[0]}</script>"  # the same text twice: one hash
        "</body></html>"
    )
    assert script_hashes(doc) == [sha256_source(s) for s in scripts]
    # Line endings are normalised by the parser before the text is hashed.
    assert script_hashes("<script>a();\r\nb();\rc();</script>") == [
        sha256_source("a();\nb();\nc();")
    ]


def test_script_hashes_follow_the_script_data_escape_states() -> None:
    # "<!--<script>" inside a script: the first "</script>" does not end it.
    text = "<!--<script>x</script>-->y()"
    assert script_hashes(f"<script>{text}</script><p>after</p>") == [sha256_source(text)]
    # Unclosed: the script runs to the end of the document.
    assert script_hashes("<p>a<script>tail()") == [sha256_source("tail()")]


# --- the middleware -------------------------------------------------------------------


def _tiny_app(tmp_path: Path) -> Starlette:
    (tmp_path / "page.html").write_text(
        "<!doctype html><script>window.ok = 1;</script><p>file</p>", encoding="utf-8"
    )
    (tmp_path / "plain.txt").write_text("text", encoding="utf-8")

    async def rendered(request: Request) -> HTMLResponse:
        nonce = request.state.csp_nonce
        return HTMLResponse(f'<script nonce="{nonce}">window.ok = 1;</script>')

    async def own_policy(request: Request) -> HTMLResponse:
        return HTMLResponse("<p>x</p>", headers={"Referrer-Policy": "no-referrer"})

    async def file(request: Request) -> FileResponse:
        return FileResponse(tmp_path / "page.html")

    app = Starlette(
        routes=[
            Route("/rendered", rendered),
            Route("/own", own_policy),
            Route("/file", file),
        ]
    )
    app.mount("/static", StaticFiles(directory=tmp_path))
    return app


def test_a_rendered_page_gets_a_fresh_nonce_that_its_template_can_use(tmp_path: Path) -> None:
    app = SecurityHeadersMiddleware(_tiny_app(tmp_path))
    with TestClient(app) as client:
        first, second = client.get("/rendered"), client.get("/rendered")
    csp = assert_secure(first)
    assert_secure(second)
    nonce = re.search(r'nonce="([^"]+)"', first.text)
    assert nonce and f"'nonce-{nonce.group(1)}'" in csp["script-src"]
    assert len(nonce.group(1)) >= 22  # 18 random bytes
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


def test_headers_a_route_set_itself_are_kept(tmp_path: Path) -> None:
    with TestClient(SecurityHeadersMiddleware(_tiny_app(tmp_path))) as client:
        response = client.get("/own")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
    assert_secure(response)


def test_an_html_file_gets_the_hashes_of_its_scripts_and_a_304_keeps_the_stored_policy(
    tmp_path: Path,
) -> None:
    with TestClient(SecurityHeadersMiddleware(_tiny_app(tmp_path))) as client:
        for path in ("/file", "/static/page.html"):
            response = client.get(path)
            csp = assert_secure(response)
            assert sha256_source("window.ok = 1;") in csp["script-src"]
            assert not any(s.startswith("'nonce-") for s in csp["script-src"])
            assert response.text.endswith("<p>file</p>")  # the body is passed on whole
        # StaticFiles answers a conditional request with 304: the browser keeps its copy
        # and the policy it stored with it, so the 304 must not bring a (hashless) one.
        etag = client.get("/static/page.html").headers["etag"]
        again = client.get("/static/page.html", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert "content-security-policy" not in again.headers
        assert again.headers["x-content-type-options"] == "nosniff"
        text = client.get("/static/plain.txt")
        assert_secure(text)
        assert text.text == "text"


@contextmanager
def serve(app: Any) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_server_sent_events_stream_through_unbuffered() -> None:
    release = threading.Event()

    async def events() -> AsyncIterator[bytes]:
        import anyio.to_thread

        yield b"event: report\ndata: 1\n\n"
        await anyio.to_thread.run_sync(release.wait, 10)  # held until the client saw event 1
        yield b"event: report\ndata: 2\n\n"

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/stream", stream)]))
    with serve(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/stream")
        response = conn.getresponse()
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert "script-src 'self'" in (response.getheader("Content-Security-Policy") or "")
        first = b""
        while b"data: 1" not in first:
            first += response.read1(4096)
        assert b"data: 2" not in first  # the first event came while the second was held
        release.set()
        rest = response.read()
        assert b"data: 2" in rest
        conn.close()


# --- the three services ----------------------------------------------------------------


@pytest.mark.redis
def test_every_intake_response_carries_the_headers(tmp_path: Path, redis_server: Any) -> None:
    from services.intake.config import IntakeSettings
    from services.intake.main import create_app
    from shared.access import create_organisation
    from shared.db import init_db, make_engine

    settings = IntakeSettings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}",
        redis_url=redis_server.url,
        intake_max_body_bytes=1000,
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        form = client.get("/rapport")
        csp = assert_secure(form)
        assert "https://tile.openstreetmap.org" in csp["img-src"]  # the form's tile setting
        assert form.headers["referrer-policy"] == "no-referrer"  # the form's own choice
        assert not inline_scripts(form.text)  # settings as a JSON data block, no inline JS
        docs = client.get("/docs")
        assert_secure(docs)
        assert "/docs/static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
        assert not inline_scripts(docs.text)
        assert client.get("/redoc").status_code == 404  # needed a CDN; gone
        for path in (
            "/docs/static/swagger-ui-bundle.js",
            "/docs/static/docs-init.js",
            "/rapport/static/form.js",
            "/assets/leaflet.js",
        ):
            response = client.get(path)
            assert response.status_code == 200, path
            assert_secure(response)
        assert_secure(client.get("/openapi.json"))
        me = client.get("/api/v1/me", headers=bearer)
        assert me.status_code == 200 and me.json()["organisation"] == "Securitas"
        assert_secure(me)
        refused = client.get("/api/v1/me")
        assert refused.status_code == 401
        assert_secure(refused)
        too_large = client.post("/api/v1/reports", content=b"x" * 5000, headers=bearer)
        assert too_large.status_code == 413
        assert_secure(too_large)


@pytest.mark.redis
def test_every_tib_response_carries_the_headers(tmp_path: Path, redis_server: Any) -> None:
    from services.tib.config import TibSettings
    from services.tib.main import create_app
    from shared.access import create_organisation
    from shared.db import init_db, make_engine

    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    engine = make_engine(db_url)
    init_db(engine)
    _, token = create_organisation(engine, "TiB Linköping", "0580", "tib", ["ovrig"])
    settings = TibSettings(redis_url=redis_server.url, data_dir=tmp_path / "data",
                           database_url=db_url, tib_tile_url="")  # fmt: skip
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        login = client.get("/tib")
        assert login.status_code == 401 and "text/html" in login.headers["content-type"]
        assert_secure(login)
        page = client.get("/tib", headers=bearer)
        assert page.status_code == 200
        csp = assert_secure(page)
        assert csp["img-src"] == ["'self'", "data:", "blob:"]  # no tile host configured
        assert '<script id="config" type="application/json">' in page.text
        assert not inline_scripts(page.text)
        docs = client.get("/docs")
        assert_secure(docs)
        assert not inline_scripts(docs.text)
        for path, headers in (
            ("/api/v1/tib/live?kommun=0580", bearer),
            ("/api/v1/tib/areas.geojson?kommun=0580", bearer),
            ("/api/v1/tib/live?kommun=0580", {}),  # 401
            ("/tib/static/tib.js", {}),
            ("/openapi.json", {}),
        ):
            assert_secure(client.get(path, headers=headers))


@pytest.mark.redis
def test_every_archive_response_carries_the_headers(tmp_path: Path, redis_server: Any) -> None:
    from services.maps.config import MapsSettings
    from services.maps.publish import publish_week
    from services.maps.server import create_server_app
    from shared.access import create_organisation
    from shared.db import init_db, make_engine
    from tests.integration.test_decision_web import (
        decision_snapshot,
        load_test_plan,
        write_area_file,
    )
    from tests.support.snapshots import make_areas

    out = tmp_path / "out"
    publish_week(out, decision_snapshot(), make_areas(), tiles=None)
    settings = MapsSettings(
        redis_url=redis_server.url,
        database_url=f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}",
        output_dir=out,
        data_dir=tmp_path / "data",
        areas_dir=write_area_file(tmp_path / "areas"),
        map_tiles="OpenStreetMap",
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    load_test_plan(engine)
    _, token = create_organisation(engine, "Samverkansmötet", "0580", "meeting", [])
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_server_app(settings)) as client:
        for path in (
            "/0580/2026-W47/karta.html",
            "/0580/2026-W47/motesunderlag.html",
            "/offentlig/0580/2026-W47/karta.html",
            "/",
        ):
            response = client.get(path, headers=bearer)
            assert response.status_code == 200, path
            csp = assert_secure(response)
            assert "https://tile.openstreetmap.org" in csp["img-src"]
            expected = [sha256_source(text) for _, text in inline_scripts(response.text)]
            hashes = [s for s in csp["script-src"] if s.startswith("'sha256-")]
            assert sorted(set(expected)) == sorted(hashes), path
        decision_page = client.get("/0580/beslut", headers=bearer)
        assert decision_page.status_code == 200
        assert_secure(decision_page)
        assert decision_page.headers["referrer-policy"] == "same-origin"  # its CSRF check
        assert not inline_scripts(decision_page.text)
        for path, headers in (("/0580/2026-W47/karta.html", {}), ("/nothing/here", bearer)):
            response = client.get(path, headers=headers)
            assert response.status_code in (401, 404)
            assert_secure(response)
        assert_secure(client.get("/assets/leaflet.js"))


def test_security_headers_values() -> None:
    headers = security_headers("default-src 'self'")
    assert headers == {
        "Content-Security-Policy": "default-src 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "geolocation=(self), camera=(), microphone=(), payment=(), usb=()",
    }
    assert set(HEADERS) == {k.lower() for k in headers} - {"content-security-policy"}
