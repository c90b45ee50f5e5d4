"""Every role sees only what it may: a role × endpoint × kommun matrix over every HTTP
route of every service (intake, TiB with the guards' order endpoints, the archive server).

The routes come from the apps' own route tables: a route without an entry in `TABLE` fails
`test_every_route_has_an_entry` (and an entry for a route that no longer exists fails it
too). Each entry says which callers may use the route in their own kommun and what a
caller gets for another kommun:

- DENIED: asking for kommun 0581's data (a `kommun` parameter, a path, or a resource of
  0581) is refused (403/404) for every token of 0580, an administrator of 0580 included;
- FILTERED: the route takes no kommun but answers with the token's kommun's data; the
  answer of every allowed caller is checked for 0581's data;
- NA(reason): the route holds no kommun's data (a form, a static file) or acts only for
  the token's own kommun with no way to name another.

Then every (route × caller × kommun) runs against the real apps (a real SQLite file and a
real redis-server): allowed means 2xx/3xx; refused means 401 without a token and 403/404
with one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from PIL import Image
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from shared.photos import PhotoStore
from shared.redis_runtime import EmbeddedRedis
from tests.security.access_world import (
    OTHER,
    OWN,
    ROLES,
    WEEK,
    World,
    build_world,
    decision_form,
    order_body,
    org_name,
    report,
)

pytestmark = pytest.mark.redis


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str] | None = None
    json: Any = None
    data: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    content: bytes | None = None  # a raw body (with its Content-Type in `headers`)


Probe = Callable[[World, str, str], Call]  # (world, role, kommun of the data) -> request


@dataclass(frozen=True)
class NA:
    reason: str


DENIED, FILTERED = "denied", "filtered"


@dataclass(frozen=True)
class Rule:
    probe: Probe
    allowed: frozenset[str]  # callers that may use it in their own kommun
    other: str | NA  # DENIED, FILTERED or NA(reason)
    leak: Callable[[World, Any], bool] | None = None  # FILTERED: does 0581's data show?


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - set(ROLES)
    assert not unknown, unknown
    return frozenset(names)


EVERYONE = frozenset(ROLES)
ANY_TOKEN = EVERYONE - {"none"}
SUBMITTERS = roles("reporter", "tib", "admin", "guard", "fieldworker")
LIVE = roles("tib", "admin")
TASKING = roles("tib", "admin")
DECIDERS = roles("meeting", "admin")
ARCHIVE = roles("tib", "meeting", "admin")
NO_KOMMUN = NA("no kommun's data: the same for every caller")


def get(path: str, **params: str) -> Probe:
    return lambda w, role, kommun: Call("GET", path, params or None, headers=w.bearer(role))


def public(method: str, path: str) -> Rule:
    return Rule(lambda w, role, kommun: Call(method, path), EVERYONE, NO_KOMMUN)


def static_file(app: FastAPI, mount_path: str) -> Call:
    """A file that exists under the mount (its directory's first file)."""
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount) and route.path == mount_path:
            assert isinstance(route.app, StaticFiles) and route.app.directory is not None
            first = sorted(p for p in Path(route.app.directory).rglob("*") if p.is_file())[0]
            return Call("GET", f"{mount_path}/{first.relative_to(route.app.directory)}")
    raise AssertionError(f"no mount {mount_path}")


def mount(service: str, path: str) -> Rule:
    return Rule(lambda w, role, kommun: static_file(w.apps[service], path), EVERYONE, NO_KOMMUN)


# --- intake ----------------------------------------------------------------------------------


def _status(w: World, role: str, kommun: str) -> Call:
    """Own kommun: the caller's own report; other: a reporter of 0581's report."""
    params = None if kommun == OWN else {"organisation": org_name("reporter", OTHER)}
    return Call("GET", "/api/v1/reports/r-1/status", params, headers=w.bearer(role))


def _open311_key(w: World, role: str) -> dict[str, str]:
    """The restricted view needs a valid key: "none" sends one that is not (403)."""
    return w.bearer(role) if role != "none" else {"Authorization": "Bearer ogiltig-nyckel"}


def _open311_receipt(w: World, role: str, kommun: str) -> int:
    own = (role if (role, OWN) in w.receipts else "reporter", OWN)
    return w.receipts[own] if kommun == OWN else w.receipts[("reporter", OTHER)]


def _open311_one(w: World, role: str, kommun: str) -> Call:
    receipt = _open311_receipt(w, role, kommun)
    return Call("GET", f"/open311/v2/requests/{receipt}.xml", headers=_open311_key(w, role))


def _open311_list(w: World, role: str, kommun: str) -> Call:
    return Call("GET", "/open311/v2/requests.json", headers=_open311_key(w, role))


def _open311_public(one: bool) -> Probe:
    """Without a key: the public view of the kommun named by jurisdiction_id."""

    def probe(w: World, role: str, kommun: str) -> Call:
        receipt = _open311_receipt(w, "reporter", OWN)
        path = f"/open311/v2/requests/{receipt}.xml" if one else "/open311/v2/requests.json"
        return Call("GET", path, {"jurisdiction_id": OWN})

    return probe


def _open311_post(w: World, role: str, kommun: str) -> Call:
    data = {"service_code": "klotter", "lat": "58.4108", "long": "15.6214"}
    token = w.token(role)
    return Call(
        "POST", "/open311/v2/requests.xml", data=data | ({"api_key": token} if token else {})
    )


def _other_receipt_shown(w: World, body: Any) -> bool:
    theirs = {str(v) for (_, k), v in w.receipts.items() if k == OTHER}
    return any(r["service_request_id"] in theirs for r in body)


def _photo(w: World, role: str, kommun: str) -> Call:
    """A small real PNG for the caller's own report r-1."""
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(image, format="PNG")
    headers = {**w.bearer(role), "Content-Type": "image/png"}
    return Call("PUT", "/api/v1/reports/r-1/photo", headers=headers, content=image.getvalue())


def _places(w: World, role: str, kommun: str) -> Call:
    return Call("GET", "/api/v1/places", {"kommun": kommun}, headers=w.bearer(role))


def _other_orgs_in_audit(w: World, body: Any) -> bool:
    return any(e["organisation"].endswith(f"-{OTHER}") for e in body)


INTAKE: dict[tuple[str, str], Rule | tuple[Rule, ...]] = {
    ("GET", "/"): public("GET", "/"),
    ("GET", "/rapport"): public("GET", "/rapport"),
    ("GET", "/docs"): public("GET", "/docs"),
    ("GET", "/openapi.json"): public("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"): public("HEAD", "/openapi.json"),
    ("MOUNT", "/assets"): mount("intake", "/assets"),
    ("MOUNT", "/rapport/static"): mount("intake", "/rapport/static"),
    ("MOUNT", "/docs/static"): mount("intake", "/docs/static"),
    ("POST", "/api/v1/reports"): Rule(
        lambda w, role, k: Call("POST", "/api/v1/reports", json=report(k), headers=w.bearer(role)),
        SUBMITTERS,
        DENIED,
    ),
    ("GET", "/api/v1/reports/{report_id:path}/status"): Rule(
        _status, roles("reporter", "tib", "admin", "guard", "fieldworker"), DENIED
    ),
    ("POST", "/api/v1/nollrapporter"): Rule(
        lambda w, role, k: Call("POST", "/api/v1/nollrapporter", json={}, headers=w.bearer(role)),
        SUBMITTERS,
        NA("for the token's own kommun only: no kommun parameter"),
    ),
    ("GET", "/api/v1/me"): Rule(get("/api/v1/me"), ANY_TOKEN, NA("the token's own identity")),
    ("GET", "/api/v1/categories"): Rule(
        get("/api/v1/categories"), ANY_TOKEN, NA("counts of the token's own kommun only")
    ),
    ("GET", "/api/v1/places"): Rule(_places, ANY_TOKEN, DENIED),
    ("PUT", "/api/v1/reports/{report_id:path}/photo"): Rule(
        _photo, SUBMITTERS, NA("a photo goes only to the caller's own report")
    ),
    ("GET", "/rapport/platser/{kommun}.json"): Rule(
        lambda w, role, k: Call("GET", f"/rapport/platser/{OWN}.json"),
        EVERYONE,
        NA("names that the public map shows anyway"),
    ),
    ("GET", "/tillganglighet"): public("GET", "/tillganglighet"),
    ("GET", "/api/v1/areas.geojson"): Rule(
        get("/api/v1/areas.geojson"), ANY_TOKEN, NA("the token's own kommun's areas only")
    ),
    ("GET", "/api/v1/audit"): Rule(
        get("/api/v1/audit"), roles("admin"), FILTERED, _other_orgs_in_audit
    ),
    ("GET", "/open311/v2/discovery.{response_format}"): public("GET", "/open311/v2/discovery.xml"),
    ("GET", "/open311/v2/services.{response_format}"): public("GET", "/open311/v2/services.json"),
    ("GET", "/open311/v2/services/{service_code}.{response_format}"): public(
        "GET", "/open311/v2/services/klotter.xml"
    ),
    ("POST", "/open311/v2/requests.{response_format}"): Rule(
        _open311_post, SUBMITTERS, NA("reports for the token's own kommun only")
    ),
    ("GET", "/open311/v2/requests.{response_format}"): (
        Rule(
            _open311_list,
            roles("reporter", "tib", "meeting", "admin", "guard", "fieldworker"),
            FILTERED,
            _other_receipt_shown,
        ),
        Rule(_open311_public(one=False), EVERYONE, FILTERED, _other_receipt_shown),
    ),
    ("GET", "/open311/v2/requests/{service_request_id}.{response_format}"): (
        Rule(
            _open311_one,
            roles("reporter", "tib", "meeting", "admin", "guard", "fieldworker"),
            DENIED,
        ),
        Rule(
            _open311_public(one=True),
            EVERYONE,
            NA("the public view: jurisdiction_id names the kommun, whose ids alone it finds"),
        ),
    ),
}


# --- TiB (with the guards' order endpoints) -------------------------------------------------


def tib_get(path: str) -> Probe:
    return lambda w, role, k: Call("GET", path, {"kommun": k}, headers=w.bearer(role))


def _stream(w: World, role: str, k: str) -> Call:
    return Call("GET", "/api/v1/tib/stream", {"kommun": k}, headers=w.bearer(role), stream=True)


def _issue(w: World, role: str, k: str) -> Call:
    return Call(
        "POST", "/api/v1/tib/orders", {"kommun": k}, json=order_body(), headers=w.bearer(role)
    )


def order_step(step: str, status: str, body: dict[str, Any] | None = None) -> Probe:
    """A fresh order of kommun `k` in `status`; the step on it (no kommun parameter: an
    order id of 0581 must be unknown to 0580's tokens)."""

    def probe(w: World, role: str, k: str) -> Call:
        order_id = w.order(k, status)
        path = f"/api/v1/tib/orders/{order_id}{step}"
        method = "PUT" if step == "" else "POST"
        payload = order_body() if step == "" else (body or {"note": "ok"})
        return Call(method, path, json=payload, headers=w.bearer(role))

    return probe


def _other_order_listed(w: World, body: Any) -> bool:
    return any(o["order"]["kommun"] == OTHER for o in body)


def _tib_login(w: World, role: str, k: str) -> Call:
    token = w.token(role)
    return Call("POST", "/logga-in", data={"next": "/tib"} | ({"token": token} if token else {}))


TIB: dict[tuple[str, str], Rule | tuple[Rule, ...]] = {
    ("GET", "/docs"): public("GET", "/docs"),
    ("GET", "/openapi.json"): public("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"): public("HEAD", "/openapi.json"),
    ("MOUNT", "/docs/static"): mount("tib", "/docs/static"),
    ("MOUNT", "/assets"): mount("tib", "/assets"),
    ("MOUNT", "/tib/static"): mount("tib", "/tib/static"),
    ("GET", "/api/v1/tib/live"): Rule(tib_get("/api/v1/tib/live"), LIVE, DENIED),
    ("GET", "/api/v1/tib/stream"): Rule(_stream, LIVE, DENIED),
    ("GET", "/api/v1/tib/areas.geojson"): Rule(tib_get("/api/v1/tib/areas.geojson"), LIVE, DENIED),
    ("GET", "/api/v1/tib/recommendation"): Rule(
        tib_get("/api/v1/tib/recommendation"), TASKING, DENIED
    ),
    ("GET", "/api/v1/tib/presence"): Rule(tib_get("/api/v1/tib/presence"), LIVE, DENIED),
    ("GET", "/api/v1/tib/orders"): (
        Rule(tib_get("/api/v1/tib/orders"), LIVE | {"guard"}, DENIED),
        Rule(get("/api/v1/tib/orders"), LIVE | {"guard"}, FILTERED, _other_order_listed),
    ),
    ("POST", "/api/v1/tib/orders"): Rule(_issue, TASKING, DENIED),
    ("PUT", "/api/v1/tib/orders/{order_id}"): Rule(order_step("", "issued"), TASKING, DENIED),
    ("POST", "/api/v1/tib/orders/{order_id}/cancel"): Rule(
        order_step("/cancel", "issued"), TASKING, DENIED
    ),
    ("POST", "/api/v1/tib/orders/{order_id}/acknowledge"): Rule(
        order_step("/acknowledge", "issued"), roles("guard"), DENIED
    ),
    ("POST", "/api/v1/tib/orders/{order_id}/check-in"): Rule(
        order_step("/check-in", "issued"), roles("guard"), DENIED
    ),
    ("POST", "/api/v1/tib/orders/{order_id}/check-out"): Rule(
        order_step("/check-out", "checked_in"), roles("guard"), DENIED
    ),
    ("POST", "/api/v1/tib/orders/{order_id}/outcome"): Rule(
        order_step("/outcome", "checked_in", {"note": "Lugnt"}), roles("guard"), DENIED
    ),
    ("GET", "/tib"): Rule(
        get("/tib"), LIVE, NA("the page shows the token's kommun; its API calls are checked")
    ),
    ("GET", "/uppdrag"): Rule(
        get("/uppdrag"),
        roles("guard"),
        NA("the guards' page shows the token's own orders; its API calls are checked"),
    ),
    ("GET", "/uppdrag.webmanifest"): public("GET", "/uppdrag.webmanifest"),
    ("GET", "/tillganglighet"): public("GET", "/tillganglighet"),
    ("GET", "/uppdrag-sw.js"): public("GET", "/uppdrag-sw.js"),
    ("GET", "/logga-in"): public("GET", "/logga-in"),
    # the TiB to /tib, a guard company to /uppdrag
    ("POST", "/logga-in"): Rule(
        _tib_login, LIVE | {"guard"}, NA("logs in to the token's own kommun")
    ),
    ("POST", "/logga-ut"): public("POST", "/logga-ut"),
}


# --- the archive server (maps-serve) -----------------------------------------------------


def _maps_login(w: World, role: str, k: str) -> Call:
    token = w.token(role)
    return Call("POST", "/logga-in", data={"next": "/"} | ({"token": token} if token else {}))


def _decide(w: World, role: str, k: str) -> Call:
    return Call("POST", f"/{k}/beslut", data=decision_form(k), headers=w.bearer(role))


def _close(w: World, role: str, k: str) -> Call:
    decision_id = w.decision(k)
    return Call("POST", f"/{k}/beslut/{decision_id}/stang", data={"note": "Klart"},
                headers=w.bearer(role))  # fmt: skip


def _report_back(w: World, role: str, k: str) -> Call:
    decision_id = w.decision(k)
    return Call("POST", f"/{k}/beslut/{decision_id}/aterrapport",
                data={"text": "Gjort", "progress": "pågår"}, headers=w.bearer(role))  # fmt: skip


def _photo_view(w: World, role: str, k: str) -> Call:
    """A stored photo of kommun `k`'s report (as the intake keeps it)."""
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 30, 200)).save(image, format="JPEG")
    stored = PhotoStore.under(w.out.parent / "data").save(
        kommun=k, organisation=f"foto-{k}", report_id="r-1",
        occurred_at=datetime.now(UTC), jpeg=image.getvalue(), size=(8, 8),
    )  # fmt: skip
    return Call("GET", f"/{k}/foto/{stored.photo_id}.jpg", headers=w.bearer(role))


def _page(name: str) -> Probe:
    return lambda w, role, k: Call("GET", f"/{k}/{WEEK}/{name}", headers=w.bearer(role))


def _other_kommun_indexed(w: World, body: Any) -> bool:
    text = body if isinstance(body, str) else json.dumps(body)
    return OTHER in text


MAPS: dict[tuple[str, str], Rule | tuple[Rule, ...]] = {
    ("GET", "/api/v1/openapi.json"): public("GET", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"): public("HEAD", "/api/v1/openapi.json"),
    ("GET", "/api/v1/lagesbild/{kommun}/{week}.json"): Rule(
        lambda w, role, k: Call(
            "GET", f"/api/v1/lagesbild/{k}/{WEEK}.json", headers=w.bearer(role)
        ),
        ARCHIVE,
        DENIED,
    ),
    ("GET", "/offentlig/api/v1/lagesbild/{kommun}/{week}.json"): Rule(
        lambda w, role, k: Call("GET", f"/offentlig/api/v1/lagesbild/{k}/{WEEK}.json"),
        EVERYONE,
        NA("the public version: no token needed"),
    ),
    ("GET", "/logga-in"): public("GET", "/logga-in"),
    ("POST", "/logga-in"): Rule(_maps_login, ARCHIVE, NA("logs in; the pages check the kommun")),
    ("POST", "/logga-ut"): public("POST", "/logga-ut"),
    ("GET", "/{kommun}/beslut"): Rule(
        lambda w, role, k: Call("GET", f"/{k}/beslut", headers=w.bearer(role)), DECIDERS, DENIED
    ),
    ("GET", "/{kommun}/{sub:path}/beslut"): Rule(
        lambda w, role, k: Call("GET", f"/{k}/{WEEK}/beslut", headers=w.bearer(role)),
        EVERYONE,
        NA("a relative redirect to /{kommun}/beslut, which checks the token"),
    ),
    ("POST", "/{kommun}/beslut"): Rule(_decide, DECIDERS, DENIED),
    ("POST", "/{kommun}/beslut/{decision_id}/stang"): Rule(_close, DECIDERS, DENIED),
    ("POST", "/{kommun}/beslut/{decision_id}/aterrapport"): Rule(_report_back, DECIDERS, DENIED),
    ("GET", "/{kommun}/foto/{name}"): Rule(_photo_view, ARCHIVE, DENIED),
    ("GET", "/favicon.ico"): public("GET", "/favicon.ico"),
    ("GET", "/favicon.svg"): public("GET", "/favicon.svg"),
    ("GET", "/{path:path}"): (
        Rule(_page("motesunderlag.html"), ARCHIVE, DENIED),
        Rule(_page("export.csv"), ARCHIVE, DENIED),
        Rule(_page("r2/karta.html"), ARCHIVE, DENIED),
        Rule(get("/"), ARCHIVE, FILTERED, _other_kommun_indexed),
        Rule(get("/index.json"), ARCHIVE, FILTERED, _other_kommun_indexed),
        Rule(
            lambda w, role, k: Call("GET", f"/offentlig/{k}/{WEEK}/karta.html"),
            EVERYONE,
            NA("the public version: no token needed"),
        ),
        public("GET", "/assets/leaflet.js"),  # the archive's own copy of Leaflet
    ),
}

TABLE = {"intake": INTAKE, "tib": TIB, "maps": MAPS}


# --- the routes the apps have ---------------------------------------------------------------


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, ("MOUNT", path) of every mounted app."""
    found: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            continue
        assert ctx.path is not None, route
        found |= {(method, ctx.path) for method in ctx.methods or ()}
    return found


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[World]:
    world = build_world(tmp_path, redis_server.url)
    yield world
    world.close()


def test_every_route_has_an_entry(world: World) -> None:
    """A new route without an entry (or an entry without a route) fails here."""
    for service, app in world.apps.items():
        have, table = routes_of(app), set(TABLE[service])
        assert have - table == set(), f"{service}: routes without an entry: {have - table}"
        assert table - have == set(), f"{service}: entries without a route: {table - have}"


def test_every_entry_says_what_another_kommun_gets() -> None:
    for service, table in TABLE.items():
        for key, rules in table.items():
            for rule in rules if isinstance(rules, tuple) else (rules,):
                assert rule.other in (DENIED, FILTERED) or (
                    isinstance(rule.other, NA) and rule.other.reason
                ), (service, key)
                assert (rule.other == FILTERED) == (rule.leak is not None), (service, key)


def send(world: World, service: str, call: Call) -> tuple[int, Any]:
    client = world.clients[service]
    client.cookies.clear()  # each caller on its own: no cookie from an earlier login
    kwargs: dict[str, Any] = {"params": call.params, "headers": call.headers}
    if call.json is not None:
        kwargs["json"] = call.json
    if call.data is not None:
        kwargs["data"] = call.data
    if call.content is not None:
        kwargs["content"] = call.content
    if call.stream:
        with client.stream(call.method, call.path, **kwargs) as response:
            return response.status_code, None
    response = client.request(call.method, call.path, **kwargs)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def verdict(status: int, allowed: bool, role: str, path: str = "") -> str | None:
    """None when the status is what the rule says; else what was expected. GeoReport v2
    answers a missing or invalid api_key with 403 (the spec's status), not 401."""
    if allowed:
        return None if 200 <= status < 400 else "2xx/3xx"
    if role == "none":
        no_key = 403 if path.startswith("/open311/") else 401
        return None if status == no_key else str(no_key)
    return None if status in (403, 404) else "403/404"


@pytest.mark.parametrize("service", TABLE)
def test_each_caller_gets_what_the_table_says(world: World, service: str) -> None:
    problems: list[str] = []
    runs = 0
    for rules in TABLE[service].values():
        for rule in rules if isinstance(rules, tuple) else (rules,):
            for role in ROLES:
                kommuner = [OWN, OTHER] if rule.other == DENIED else [OWN]
                for kommun in kommuner:
                    call = rule.probe(world, role, kommun)
                    status, body = send(world, service, call)
                    runs += 1
                    allowed = role in rule.allowed and kommun == OWN
                    expected = verdict(status, allowed, role, call.path)
                    where = f"{service} {call.method} {call.path} as {role}, kommun {kommun}"
                    if expected is not None:
                        problems.append(f"{where}: {status}, expected {expected}")
                    elif allowed and rule.other == FILTERED:
                        assert rule.leak is not None
                        if rule.leak(world, body):
                            problems.append(f"{where}: shows kommun {OTHER}'s data")
    assert problems == [], "\n".join(problems)
    assert runs >= len(TABLE[service]) * len(ROLES)
