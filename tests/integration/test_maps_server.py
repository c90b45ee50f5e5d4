"""The archive server's role checks over HTTP, with a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.maps.config import MapsSettings
from services.maps.publish import publish_week
from services.maps.server import COOKIE, PERMISSION, create_server_app
from shared.access import ROLES as ACCESS_ROLES
from shared.access import create_organisation, revoke_organisation, role_allows
from shared.db import init_db, make_engine
from shared.models_access import AuditEntry
from tests.support.snapshots import make_areas, rich_snapshot

RESTRICTED_PAGE = "/0580/2026-W47/motesunderlag.html"
OTHER_KOMMUN_PAGE = "/0581/2026-W47/karta.html"
PUBLIC_PAGE = "/offentlig/0580/2026-W47/motesunderlag.html"
# role -> may it see the restricted pages of its own kommun? The issue names meeting, tib
# and admin; the rule itself is the permission in shared/access.py.
ROLES = {role: role_allows(role, PERMISSION) for role in ACCESS_ROLES}
assert ROLES["meeting"] and ROLES["admin"] and not ROLES["reporter"] and not ROLES["public"]


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> tuple[TestClient, dict[str, str], object]:
    out = tmp_path / "out"
    snap = rich_snapshot()
    publish_week(out, snap, make_areas(), tiles=None)
    publish_week(out, snap.model_copy(update={"kommun": "0581"}), make_areas(), tiles=None)
    settings = MapsSettings(database_url=db_url, output_dir=out, data_dir=tmp_path / "data")
    app = create_server_app(settings)
    engine = make_engine(db_url)
    init_db(engine)  # the app migrates when it starts; the fixture writes before that
    tokens = {}
    for role in ROLES:
        sources = ["vaktare"] if role in ("reporter", "tib", "admin") else []
        _, tokens[role] = create_organisation(engine, f"Org {role}", "0580", role, sources)
    _, tokens["admin of both"] = create_organisation(
        engine, "Admin för 0580 och 0581", "0580", "admin", ["vaktare"], extra_kommuner=["0581"]
    )
    return TestClient(app, follow_redirects=False), tokens, engine


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ROLES)  # each of 0580
def test_each_role_on_restricted_public_and_other_kommun_pages(server, role: str) -> None:
    client, tokens, _ = server
    headers = _bearer(tokens[role])
    allowed = ROLES[role]
    page = client.get(RESTRICTED_PAGE, headers=headers)
    assert page.status_code == (200 if allowed else 403), page.text
    if allowed:
        assert "Mötesunderlag Testköping" in page.text
        assert page.headers["cache-control"] == "private, no-store"
    for path in ("/", "/0580/2026-W47/export.csv", "/index.json"):
        assert client.get(path, headers=headers).status_code == (200 if allowed else 403)
    other = client.get(OTHER_KOMMUN_PAGE, headers=headers)
    assert other.status_code == 403  # an admin too, unless configured for that kommun
    assert client.get(PUBLIC_PAGE, headers=headers).status_code == 200
    if allowed:  # the index lists the token's kommun only
        index = client.get("/index.json", headers=headers).json()
        assert {e["kommun"] for e in index} == {"0580"}
        html = client.get("/", headers=headers).text
        assert "0580/2026-W47" in html and "0581" not in html


def test_an_admin_of_two_kommuner_sees_both(server) -> None:
    client, tokens, _ = server
    headers = _bearer(tokens["admin of both"])
    assert client.get(OTHER_KOMMUN_PAGE, headers=headers).status_code == 200
    assert client.get(RESTRICTED_PAGE, headers=headers).status_code == 200
    assert {e["kommun"] for e in client.get("/index.json", headers=headers).json()} == {
        "0580",
        "0581",
    }


def test_without_a_token_only_public_pages_and_assets(server) -> None:
    client, _, _ = server
    for path in (RESTRICTED_PAGE, "/", "/0580/2026-W47/r2/karta.html"):
        response = client.get(path)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "Ingen åtkomst" in response.text
        # the login form, which brings the browser back to this page
        assert 'action="/logga-in"' in response.text
        assert f'name="next" value="{path}"' in response.text
    assert client.get(RESTRICTED_PAGE, headers=_bearer("lgb_wrong")).status_code == 401
    assert client.get(PUBLIC_PAGE).status_code == 200
    assert client.get("/offentlig/").status_code == 200  # the public index
    assert client.get("/offentlig/0580/2026-W47/r2/karta.html").status_code == 200
    assert client.get("/assets/leaflet.js").status_code == 200
    assert client.get("/offentlig/assets/leaflet.js").status_code == 200
    assert client.get("/offentlig/0580/2026-W47/export.csv").status_code == 404
    # a way round the check through the public folder is still the restricted page
    assert client.get("/offentlig/../0580/2026-W47/export.csv").status_code in (401, 404)
    assert client.get("/offentlig/%2e%2e/0580/2026-W47/export.csv").status_code == 401


def test_the_login_form_sets_an_httponly_strict_cookie_once_the_token_is_verified(
    server,
) -> None:
    client, tokens, engine = server
    # a token in the address is ignored: no cookie, no page
    ignored = client.get(f"{RESTRICTED_PAGE}?token={tokens['meeting']}")
    assert ignored.status_code == 401 and "set-cookie" not in ignored.headers
    assert client.get("/logga-in").status_code == 200
    for bad in ("lgb_wrong", "", tokens["reporter"]):
        refused = client.post("/logga-in", data={"token": bad, "next": RESTRICTED_PAGE})
        assert refused.status_code in (401, 403) and "set-cookie" not in refused.headers
    first = client.post("/logga-in", data={"token": tokens["meeting"], "next": RESTRICTED_PAGE})
    assert first.status_code == 303 and first.headers["location"] == RESTRICTED_PAGE
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "secure" not in cookie.lower()  # http
    followed = client.get(RESTRICTED_PAGE)  # the client now sends the cookie
    assert followed.status_code == 200 and "Mötesunderlag" in followed.text
    assert client.get("/0580/2026-W47/karta.html").status_code == 200

    with Session(engine) as s:
        views = s.exec(select(AuditEntry).where(AuditEntry.action == "view")).all()
    assert {(v.organisation, v.object) for v in views} >= {
        ("Org meeting", f"lagesbild:{RESTRICTED_PAGE}")
    }

    revoke_organisation(engine, "Org meeting")
    assert client.get(RESTRICTED_PAGE).status_code == 401
    out = client.post("/logga-ut")
    assert out.status_code == 303 and out.headers["location"] == "/logga-in"


def test_refusals_are_audited(server) -> None:
    client, tokens, engine = server
    assert client.get(OTHER_KOMMUN_PAGE, headers=_bearer(tokens["tib"])).status_code == 403
    with Session(engine) as s:
        denied = s.exec(select(AuditEntry).where(AuditEntry.action == "denied")).all()
    assert [(d.organisation, d.object) for d in denied] == [
        ("Org tib", f"lagesbild:{OTHER_KOMMUN_PAGE}")
    ]
