"""Tokens never travel in addresses, the login form sets the cookie only for a verified
token and redirects relatively, and a revoked token's open live stream is closed within a
heartbeat. Real redis-server, a real SQLite file, the real apps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.access import revoke_organisation
from shared.redis_runtime import EmbeddedRedis
from tests.security.access_world import OWN, WEEK, World, build_world

pytestmark = pytest.mark.redis
HEARTBEAT = 1.0  # long enough that a check every second heartbeat would show


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[World]:
    world = build_world(tmp_path, redis_server.url, tib_heartbeat_seconds=HEARTBEAT)
    yield world
    world.close()


def fresh(world: World, service: str) -> TestClient:
    """The service's client without the cookies of an earlier test step. (One client per
    app: the apps' Redis connections belong to its event loop.)"""
    client = world.clients[service]
    client.cookies.clear()
    return client


@pytest.mark.parametrize(
    ("service", "role", "page"),
    [("tib", "tib", "/tib"), ("maps", "meeting", f"/{OWN}/{WEEK}/motesunderlag.html")],
)
def test_login_sets_the_cookie_only_after_a_valid_token_and_redirects_relatively(
    world: World, service: str, role: str, page: str
) -> None:
    client = world.clients[service]
    client.cookies.clear()
    form = client.get("/logga-in", params={"next": page})
    assert form.status_code == 200 and f'value="{page}"' in form.text
    assert 'type="password"' in form.text and 'method="post"' in form.text
    for token, status in (("lgb_fel", 401), ("", 401), (world.token("reporter"), 403)):
        refused = client.post("/logga-in", data={"token": token, "next": page})
        assert refused.status_code == status
        assert "set-cookie" not in refused.headers and not client.cookies
    # a forged Host header changes nothing: the redirect is relative
    done = client.post(
        "/logga-in",
        data={"token": world.token(role), "next": page},
        headers={"Host": "evil.example"},
    )
    assert done.status_code == 303 and done.headers["location"] == page
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert str(world.token(role)) not in done.headers["location"]
    assert client.get(page).status_code == 200  # the cookie opens the page
    out = client.post("/logga-ut")
    assert out.status_code == 303 and out.headers["location"] == "/logga-in"


@pytest.mark.parametrize("service", ["tib", "maps"])
@pytest.mark.parametrize(
    "bad_next", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_next_must_be_a_path_of_the_service(world: World, service: str, bad_next: str) -> None:
    client = fresh(world, service)
    token = world.token("tib")
    done = client.post("/logga-in", data={"token": token, "next": bad_next})
    assert done.status_code == 303
    assert done.headers["location"] == ("/tib" if service == "tib" else "/")


@pytest.mark.parametrize("service", ["tib", "maps"])
def test_over_https_the_cookie_is_secure(world: World, service: str) -> None:
    client = fresh(world, service)
    data = {"token": world.token("tib"), "next": "/"}
    done = client.post("https://testserver/logga-in", data=data)
    assert done.status_code == 303 and "secure" in done.headers["set-cookie"].lower()


def test_a_token_in_the_address_is_accepted_nowhere(world: World) -> None:
    """Only Open311 keeps `api_key` in the query (its spec); everything else ignores it."""
    tib, meeting, reporter = world.token("tib"), world.token("meeting"), world.token("reporter")
    cases = [
        ("intake", f"/api/v1/me?token={reporter}"),
        ("intake", f"/api/v1/me?api_key={reporter}"),
        ("intake", f"/api/v1/audit?api_key={world.token('admin')}"),
        ("tib", f"/api/v1/tib/live?token={tib}"),
        ("tib", f"/tib?token={tib}"),
        ("tib", f"/api/v1/tib/orders?api_key={tib}"),
        ("maps", f"/{OWN}/{WEEK}/motesunderlag.html?token={meeting}"),
        ("maps", f"/{OWN}/beslut?token={meeting}"),
        ("maps", f"/?token={meeting}"),
    ]
    for service, path in cases:
        response = fresh(world, service).get(path)
        assert response.status_code == 401, (service, path, response.status_code)
        assert "set-cookie" not in response.headers, (service, path)
    open311 = fresh(world, "intake").get(f"/open311/v2/requests.json?api_key={reporter}")
    assert open311.status_code == 200


def test_no_redirect_is_built_from_the_host_header(world: World) -> None:
    evil = {"Host": "evil.example"}
    assert fresh(world, "intake").get("/", headers=evil).headers["location"] == "/rapport"
    moved = fresh(world, "maps").get(f"/{OWN}/{WEEK}/beslut?target=Ryd", headers=evil)
    assert moved.status_code == 303 and moved.headers["location"] == f"/{OWN}/beslut?target=Ryd"
    # a trailing slash is a 404, not Starlette's absolute redirect to the Host it was given
    for service, path in (("intake", "/api/v1/me/"), ("tib", "/api/v1/tib/live/")):
        response = fresh(world, service).get(path, headers=evil | world.bearer("tib"))
        assert response.status_code == 404, (service, path)
        assert "evil.example" not in response.headers.get("location", "")


@pytest.mark.timeout(60)
def test_revocation_closes_an_open_live_stream_within_a_heartbeat(world: World) -> None:
    client = world.clients["tib"]
    client.cookies.clear()
    lines: list[str] = []
    revoked_at = None
    with client.stream("GET", "/api/v1/tib/stream", headers=world.bearer("tib")) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            lines.append(line)
            if revoked_at is None and lines.count(": heartbeat") == 2:
                # the stream lives on while the token is good; now revoke it
                revoke_organisation(world.engine, "tib-0580")
                revoked_at = time.monotonic()
            assert len(lines) < 100, "the stream was not closed"
    assert revoked_at is not None
    closed_after = time.monotonic() - revoked_at
    assert "event: revoked" in lines and "Logga in igen" in "".join(lines)
    # the check runs at every heartbeat: closed within one (plus the time to look it up)
    assert closed_after < HEARTBEAT + 0.6, f"closed {closed_after:.2f} s after the revocation"
    again = client.get("/api/v1/tib/stream", headers=world.bearer("tib"))
    assert again.status_code == 401
