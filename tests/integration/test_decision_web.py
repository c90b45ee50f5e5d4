"""The meeting's decision page of the archive server (`/{kommun}/beslut`) over HTTP, with a
real redis-server and a real database (SQLite, PostgreSQL): who may record and close
decisions, what bad input gets, what lands on DECISION_STREAM, and the way through the real
aggregate service into `lagesbild decision list`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.aggregate.plan_cli import plan_message
from services.maps import decision_store
from services.maps.config import MapsSettings
from services.maps.publish import PUBLIC_DIR, publish_week
from services.maps.server import create_server_app
from shared.access import ROLES, create_organisation
from shared.contracts import DECISION_STREAM, DecisionV1, PlanLinkV1, WeekSnapshotV1
from shared.db import init_db, make_engine
from shared.decisions import activities_in_plan
from shared.models_access import AuditEntry
from shared.plan import parse_plan
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from tests.conftest import cli_json, run_cli, wait_for
from tests.support.redis_entries import stream_entries
from tests.support.snapshots import HOT_CENTRUM, HOT_NORR, make_areas, rich_snapshot

pytestmark = pytest.mark.redis

PAGE = "/0580/beslut"
PLANS = Path(__file__).resolve().parents[2] / "plans"
ACTIVITY_ID = "klottersanering"
PLAN_TOML = f"""
id = "testplan"
kommun = "0580"
titel = "Testköpings handlingsplan"
period = {{ fran = 2024-01-01, till = 2030-12-31 }}

[[samverkansomraden]]
id = "trygg-stadsmiljo"
namn = "Trygg stadsmiljö"

[[samverkansomraden.atgarder]]
id = "{ACTIVITY_ID}"
vad = "Klottersanering inom 24 timmar"
ansvar = ["Tekniska förvaltningen", "Fastighetsägarna"]
kategorier = ["klotter", "skadegorelse"]
omraden = ["Centrum"]
"""
GOOD = {
    "measure": "Extra nattvandring fredag och lördag",
    "target": HOT_NORR,
    "categories": ["skadegorelse", "storande_samling"],
    "responsible": "Nattvandrarna\r\nKommunen, fritidsförvaltningen",
    "from_week": "2026-W48",
    "until_week": "2026-W51",
    "note": "Följs upp om fyra veckor",
}


# --- helpers the browser test shares ------------------------------------------------------


def decision_snapshot() -> WeekSnapshotV1:
    """The meeting pack's test week, its plan links pointing at PLAN_TOML's activity."""
    snap = rich_snapshot()
    links = [
        PlanLinkV1.model_validate({**link.model_dump(), "activity_id": ACTIVITY_ID})
        for link in snap.plan_links
    ]
    return snap.model_copy(update={"plan_links": links})


def write_area_file(directory: Path) -> Path:
    """Testköping's areas (Centrum, Norr, Ryd & <Lambohov>) as kommun 0580's area file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "0580.geojson").write_text(json.dumps(make_areas().geojson), "utf-8")
    return directory


def load_test_plan(engine: Engine) -> None:
    """PLAN_TOML in the archive server's projection, as it hears `plan load` on the stream."""
    message = plan_message(parse_plan(PLAN_TOML), PLAN_TOML, datetime.now(UTC))
    assert decision_store.save_plan(engine, message)


def stream_decisions(redis_url: str) -> list[DecisionV1]:
    redis = Redis.from_url(redis_url)
    try:
        return [
            DecisionV1.model_validate_json(entry_payload(fields))
            for _, fields in stream_entries(redis, DECISION_STREAM)
        ]
    finally:
        redis.close()


# --- fixtures --------------------------------------------------------------------------------


@dataclass
class Web:
    client: TestClient
    tokens: dict[str, str]
    engine: Engine
    redis_url: str

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def published(self) -> list[DecisionV1]:
        return stream_decisions(self.redis_url)

    def audit(self, action: str) -> list[AuditEntry]:
        with Session(self.engine) as s:
            return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def _server_settings(env: dict[str, str], areas_dir: Path | None) -> MapsSettings:
    return MapsSettings(
        redis_url=env["LAGESBILD_REDIS_URL"],
        database_url=env["LAGESBILD_DATABASE_URL"],
        output_dir=Path(env["LAGESBILD_OUTPUT_DIR"]),
        data_dir=Path(env["LAGESBILD_DATA_DIR"]),
        areas_dir=areas_dir,
        kommuner=["0580", "0581"],
    )


@pytest.fixture
def web(tmp_path: Path, service_env: dict[str, str], redis_server: EmbeddedRedis) -> Web:
    out = Path(service_env["LAGESBILD_OUTPUT_DIR"])
    publish_week(out, decision_snapshot(), make_areas(), tiles=None)
    settings = _server_settings(service_env, write_area_file(tmp_path / "areas"))
    app = create_server_app(settings)
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)  # the app migrates when it starts; the fixture writes before that
    load_test_plan(engine)
    tokens = {}
    for role in ROLES:
        sources = ["vaktare"] if role in ("reporter", "tib", "admin") else []
        _, tokens[role] = create_organisation(engine, f"Org {role}", "0580", role, sources)
    _, tokens["other-kommun meeting"] = create_organisation(
        engine, "Mötet i 0581", "0581", "meeting", []
    )
    _, tokens["other-kommun admin"] = create_organisation(
        engine, "Admin i 0581", "0581", "admin", ["vaktare"]
    )
    _, tokens["admin of 0581 and 0580"] = create_organisation(
        engine, "Admin i 0581 och 0580", "0581", "admin", ["vaktare"], extra_kommuner=["0580"]
    )
    return Web(TestClient(app, follow_redirects=False), tokens, engine, redis_server.url)


def _open_decision(engine: Engine, decision_id: str = "0580-0000beef") -> DecisionV1:
    """An open decision as the archive server heard it on the decision stream."""
    decision = DecisionV1(
        decision_id=decision_id,
        kommun="0580",
        measure="Väktare vid skolan kvällstid",
        target=HOT_CENTRUM,
        categories=["klotter"],
        responsible=["Securitas"],
        from_week="2026-W45",
        until_week="2026-W50",
        decided_at=datetime(2026, 11, 2, 18, tzinfo=UTC),
    )
    assert decision_store.save_decision(engine, decision)
    return decision


# --- who may ----------------------------------------------------------------------------------

# caller -> expected status of (view, create, close); the rule: permission
# "record_decisions" (meeting, admin) and a kommun the token acts for (its own, or one of
# an administrator's configured kommuner).
MATRIX = {
    "meeting": (200, 303, 303),
    "admin": (200, 303, 303),
    "admin of 0581 and 0580": (200, 303, 303),
    "other-kommun admin": (403, 403, 403),
    "tib": (403, 403, 403),
    "public": (403, 403, 403),
    "reporter": (403, 403, 403),
    "other-kommun meeting": (403, 403, 403),
    "no token": (401, 401, 401),
}


def test_every_role_is_in_the_matrix() -> None:
    assert set(ROLES) <= set(MATRIX)


@pytest.mark.parametrize("who", MATRIX)
def test_who_may_see_record_and_close_decisions(web: Web, who: str) -> None:
    view, create, close = MATRIX[who]
    stored = _open_decision(web.engine)
    page = web.client.get(PAGE, headers=web.as_(who))
    assert page.status_code == view, page.text
    if view == 200:
        assert "Registrera ett beslut" in page.text and stored.measure in page.text
        assert page.headers["cache-control"] == "private, no-store"
    else:
        assert "Ingen åtkomst" in page.text and "Registrera ett beslut" not in page.text
    if who in ("other-kommun meeting", "other-kommun admin"):
        assert "Nyckeln gäller kommun 0581, inte 0580" in page.text
    if who == "tib":
        assert "får inte registrera eller stänga beslut" in page.text

    created = web.client.post(PAGE, data=GOOD, headers=web.as_(who))
    assert created.status_code == create, created.text
    closed = web.client.post(f"{PAGE}/{stored.decision_id}/stang", headers=web.as_(who))
    assert closed.status_code == close, closed.text

    events = web.published()
    if create == 303:
        assert created.headers["location"] == PAGE
        assert [(e.status, e.decision_id == stored.decision_id) for e in events] == [
            ("open", False),
            ("closed", True),
        ]
        assert [a.object for a in web.audit("decision_add")] == [f"beslut:{events[0].decision_id}"]
        assert [a.object for a in web.audit("decision_close")] == [f"beslut:{stored.decision_id}"]
    else:
        assert events == []  # nothing published
        assert web.audit("decision_add") == [] and web.audit("decision_close") == []
        if who != "no token":  # a known organisation's refusals are audited
            assert len(web.audit("denied")) == 3


def login(client: TestClient, token: str, next_path: str = PAGE) -> Any:
    """`POST /logga-in` as the login form sends it."""
    return client.post("/logga-in", data={"token": token, "next": next_path})


def test_the_login_cookie_and_the_week_links_reach_the_page(web: Web) -> None:
    assert web.client.get(f"{PAGE}?target=Centrum&token={web.tokens['meeting']}").status_code == 401
    first = login(web.client, web.tokens["meeting"], f"{PAGE}?target=Centrum")
    assert first.status_code == 303 and first.headers["location"] == f"{PAGE}?target=Centrum"
    assert "HttpOnly" in first.headers["set-cookie"]
    assert "samesite=strict" in first.headers["set-cookie"].lower()
    assert web.client.get(f"{PAGE}?target=Centrum").status_code == 200
    # the meeting pack links `../beslut` from its week folder and from every r{n}/ copy
    for folder in ("/0580/2026-W47", "/0580/2026-W47/r2"):
        moved = web.client.get(f"{folder}/beslut?target=Norr&activity={ACTIVITY_ID}")
        assert moved.status_code == 303
        assert moved.headers["location"] == f"{PAGE}?target=Norr&activity={ACTIVITY_ID}"
    stray = web.client.get(f"/0580/2026-W47/beslut?token={web.tokens['meeting']}&target=Norr")
    assert stray.headers["location"] == f"{PAGE}?target=Norr"  # a token is not passed on
    assert web.client.get("/9999/beslut").status_code == 404  # no such kommun


def test_a_post_from_another_origin_is_refused(web: Web) -> None:
    login(web.client, web.tokens["meeting"])  # the cookie, as a browser has it
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://testserver:8080"},  # same host, another port (another service)
        {"Origin": "null"},
        {"Referer": "http://evil.example/form.html"},
    ):
        refused = web.client.post(PAGE, data=GOOD, headers=headers)
        assert refused.status_code == 403, headers
        assert "Formuläret skickades inte från lägesbildens egen sida" in refused.text
    assert web.published() == []
    ok = web.client.post(PAGE, data=GOOD, headers={"Origin": "http://testserver"})
    assert ok.status_code == 303
    ok = web.client.post(PAGE, data=GOOD, headers={"Referer": f"http://testserver{PAGE}"})
    assert ok.status_code == 303
    assert len(web.published()) == 2


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "  "}, "Plats: Ange var: en hotspot eller ett område"),
        ({"target": "Atlantis"}, "Okänt område &#39;Atlantis&#39;"),
        ({"target": "Atlantis, norra delen"}, "Okänt område &#39;Atlantis, norra delen&#39;"),
        (
            {"from_week": "2026-W50", "until_week": "2026-W48"},
            "Sista veckan 2026-W48 ligger före första veckan 2026-W50",
        ),
        ({"until_week": "2026-48"}, "Sista veckan &#39;2026-48&#39; är ingen vecka"),
        ({"from_week": "2026-W54"}, "Första veckan &#39;2026-W54&#39; är ingen vecka"),
        ({"categories": ["klotter", "graffiti"]}, "Okänd kategori graffiti"),
        ({"activity": "finns-inte"}, "Ingen åtgärd &#39;finns-inte&#39; i kommunens gällande"),
        ({"measure": ""}, "Ange åtgärden: vad ska göras?"),
        ({"measure": "x" * 501}, "Åtgärden är 501 tecken; högst 500"),
        ({"responsible": "\n "}, "Ange vem som ansvarar"),
    ],
)
def test_bad_input_is_shown_on_the_form_with_the_values_kept(
    web: Web, change: dict[str, Any], message: str
) -> None:
    form = {**GOOD, **change}
    answer = web.client.post(PAGE, data=form, headers=web.as_("meeting"))
    assert answer.status_code == 422
    assert "Beslutet kan inte registreras" in answer.text and message in answer.text
    assert 'aria-invalid="true"' in answer.text
    kept = answer.text
    assert f'value="{form["from_week"]}"' in kept and f'value="{form["until_week"]}"' in kept
    assert form["measure"][:500] in kept and "Följs upp om fyra veckor" in kept
    for code in form["categories"]:
        if code != "graffiti":
            assert f'value="{code}" checked' in kept
    assert web.published() == [] and web.audit("decision_add") == []


def test_without_redis_nothing_is_recorded_and_the_form_says_so(
    web: Web, redis_server: EmbeddedRedis
) -> None:
    redis_server.stop()
    answer = web.client.post(PAGE, data=GOOD, headers=web.as_("meeting"))
    assert answer.status_code == 503
    assert "Beslutet kunde inte skickas" in answer.text and str(GOOD["measure"]) in answer.text
    assert web.audit("decision_add") == []


# --- good input ------------------------------------------------------------------------------


def test_a_decision_goes_on_the_stream_with_the_forms_values(web: Web) -> None:
    form = web.client.get(f"{PAGE}?target={HOT_NORR}", headers=web.as_("meeting")).text
    assert f'value="{HOT_NORR}"' in form
    decision_id = form.split('name="decision_id" value="', 1)[1].split('"', 1)[0]
    assert decision_id.startswith("0580-")
    created = web.client.post(
        PAGE, data={**GOOD, "decision_id": decision_id}, headers=web.as_("meeting")
    )
    assert created.status_code == 303 and created.headers["location"] == PAGE
    [event] = web.published()
    assert event.decision_id == decision_id and event.kommun == "0580"
    assert (event.measure, event.target, event.note) == (
        GOOD["measure"],
        HOT_NORR,
        GOOD["note"],
    )
    assert event.categories == ["skadegorelse", "storande_samling"]
    assert event.responsible == ["Nattvandrarna", "Kommunen, fritidsförvaltningen"]
    assert (event.from_week, event.until_week, event.status) == ("2026-W48", "2026-W51", "open")
    assert event.activity_id is None

    receipt = web.client.get(PAGE, headers=web.as_("meeting"))  # the redirect, followed
    assert "Beslutet är registrerat: Extra nattvandring fredag och lördag vid Norr" in receipt.text
    assert f"id {decision_id}" in receipt.text and "vid nästa bygge" in receipt.text
    again = web.client.get(PAGE, headers=web.as_("meeting"))
    assert "Beslutet är registrerat" not in again.text  # shown once

    # the same form sent twice is the same decision (the aggregate stores it once)
    web.client.post(PAGE, data={**GOOD, "decision_id": decision_id}, headers=web.as_("meeting"))
    assert {e.decision_id for e in web.published()} == {decision_id}
    # an id the page did not make for this kommun is replaced
    web.client.post(PAGE, data={**GOOD, "decision_id": "0581-deadbeef"}, headers=web.as_("admin"))
    assert web.published()[-1].decision_id not in ("0581-deadbeef", decision_id)


def test_a_plan_activity_prefills_the_form_and_fills_in_what_is_left_empty(web: Web) -> None:
    form = web.client.get(
        f"{PAGE}?target=Centrum&activity={ACTIVITY_ID}", headers=web.as_("meeting")
    ).text
    assert f'<option value="{ACTIVITY_ID}" selected>' in form
    assert "Klottersanering inom 24 timmar</textarea>" in form
    assert 'value="klotter" checked' in form and "Tekniska förvaltningen\nFastighetsägarna" in form
    sent = {**GOOD, "target": "Centrum", "activity": ACTIVITY_ID, "responsible": ""}
    sent.pop("categories")
    assert web.client.post(PAGE, data=sent, headers=web.as_("meeting")).status_code == 303
    [event] = web.published()
    assert event.activity_id == ACTIVITY_ID
    assert event.responsible == ["Tekniska förvaltningen", "Fastighetsägarna"]
    assert event.categories == ["klotter", "skadegorelse"]


def test_closing_from_the_page(web: Web) -> None:
    stored = _open_decision(web.engine)
    page = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert f'action="beslut/{stored.decision_id}/stang"' in page and ">Stäng</button>" in page
    closed = web.client.post(
        f"{PAGE}/{stored.decision_id}/stang", data={"note": "Klart"}, headers=web.as_("meeting")
    )
    assert closed.status_code == 303
    [event] = web.published()
    assert (event.decision_id, event.status, event.note) == (stored.decision_id, "closed", "Klart")
    assert (event.measure, event.target) == (stored.measure, stored.target)
    assert event.message_id != stored.message_id
    receipt = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert f"Beslutet är stängt: {stored.measure}" in receipt

    unknown = web.client.post(f"{PAGE}/0580-nope/stang", headers=web.as_("meeting"))
    assert unknown.status_code == 404 and "Det finns inget beslut" in unknown.text
    # The page keeps what it published in its own projection at once: closed is closed.
    twice = web.client.post(f"{PAGE}/{stored.decision_id}/stang", headers=web.as_("meeting"))
    assert twice.status_code == 409 and "redan stängt" in twice.text
    # a decision of another kommun cannot be closed through this kommun's page
    other = stored.model_copy(update={"decision_id": "0581-00000001", "kommun": "0581"})
    decision_store.save_decision(web.engine, other)
    assert (
        web.client.post(f"{PAGE}/0581-00000001/stang", headers=web.as_("admin")).status_code == 404
    )
    assert len(web.published()) == 1


def test_the_restricted_pack_links_to_the_page_and_the_public_one_does_not(web: Web) -> None:
    headers = web.as_("meeting")
    pack = web.client.get("/0580/2026-W47/motesunderlag.html", headers=headers).text
    assert 'href="../beslut?target=Norr%2C+v%C3%A4stra+delen"' in pack
    assert f'href="../beslut?target=Centrum%2C+norra+delen&amp;activity={ACTIVITY_ID}"' in pack
    assert f'href="../beslut?target=Centrum&amp;activity={ACTIVITY_ID}"' in pack  # the rise
    assert 'href="../beslut">Registrera, återrapportera eller stäng beslut' in pack
    public = web.client.get(f"/{PUBLIC_DIR}/0580/2026-W47/motesunderlag.html").text
    assert "beslut?" not in public and "Registrera" not in public


def test_the_page_offers_every_activity_and_promise_of_the_plan() -> None:
    linkoping = {
        a.activity_id: a for a in activities_in_plan((PLANS / "linkoping.toml").read_text("utf-8"))
    }
    broken_windows = linkoping["klottersanering"]
    assert broken_windows.what == "Broken Windows: snabb klottersanering"
    assert broken_windows.responsible == ("Kommunen, tekniska förvaltningen", "Fastighetsägarna")
    assert broken_windows.categories == ("klotter", "skadegorelse", "nedskrapning")
    assert broken_windows.plan_id == "linkoping-samverkan"
    mjolby = activities_in_plan((PLANS / "mjolby.toml").read_text("utf-8"))
    promise = next(a for a in mjolby if a.activity_id == "jarnvagsgatan-2018")
    assert (promise.focus, promise.responsible) == ("Medborgarlöfte", ("Polisen", "Mjölby kommun"))
    assert promise.what.startswith("Vi ska öka tryggheten på Järnvägsgatan")


# --- end to end ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_decision_from_the_page_reaches_the_aggregate_and_the_cli(
    service_env: dict[str, str], running_services: dict[str, Any]
) -> None:
    """Linköping's real areas and example plan; the aggregate service stores what the page
    published, `lagesbild decision list` shows it, and the page closes it again."""
    settings = _server_settings(service_env, None)
    client = TestClient(create_server_app(settings), follow_redirects=False).__enter__()
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Samverkansmötet Linköping", "0580", "meeting", [])
    headers = {"Authorization": f"Bearer {token}"}
    # `plan load` sends the plan; the aggregate keeps it and the page offers its activities.
    run_cli(service_env, "plan", "load", str(PLANS / "linkoping.toml"))
    wait_for(lambda: "nattvandring" in client.get(PAGE, headers=headers).text, timeout=30)
    form = {
        "measure": "Nattvandring vid centrumhuset",
        "target": "Skäggetorp, centrala delen",
        "activity": "nattvandring",
        "from_week": "2026-W47",
        "until_week": "2026-W50",
    }
    assert client.post(PAGE, data=form, headers=headers).status_code == 303

    def listed() -> list[dict[str, Any]]:
        return cli_json(service_env, "decision", "list")

    [stored] = wait_for(listed, timeout=30)
    assert (stored["measure"], stored["target"], stored["status"]) == (
        form["measure"],
        form["target"],
        "open",
    )
    assert stored["responsible"] == ["Kommunen", "Föreningslivet"]  # the plan's activity
    page = client.get(PAGE, headers=headers).text
    assert form["measure"] in page  # the open decisions, from the page's own projection
    closed = client.post(f"{PAGE}/{stored['decision_id']}/stang", headers=headers)
    assert closed.status_code == 303
    wait_for(lambda: listed()[0]["status"] == "closed", timeout=30)
    closing_form = f'action="beslut/{stored["decision_id"]}/stang"'
    assert closing_form not in client.get(PAGE, headers=headers).text  # no longer open
    client.__exit__(None, None, None)
    assert form["measure"] not in client.get(PAGE, headers=headers).text.split("Öppna beslut")[1]
