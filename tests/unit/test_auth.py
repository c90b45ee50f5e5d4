"""Tokens, roles and organisations of the intake (no Redis, a SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared import access
from shared.access import (
    AGGREGATED,
    AUDIT,
    OWN_STATUS,
    SUBMIT,
    VIEW_REPORTS,
    OrganisationError,
    create_organisation,
    find_caller,
    hash_token,
    new_token,
    revoke_organisation,
    role_allows,
    token_matches,
)
from shared.db import init_db, make_engine
from shared.models_access import Organisation


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'access.db'}")
    init_db(engine)
    return engine


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith("lgb_") and len(a) > 40
    assert hash_token(a) == hash_token(a) != hash_token(b)
    assert len(hash_token(a)) == 64 and a not in hash_token(a)
    assert token_matches(a, hash_token(a))
    assert not token_matches(b, hash_token(a))


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("reporter", {SUBMIT, OWN_STATUS}, {VIEW_REPORTS, AGGREGATED, AUDIT}),
        ("tib", {SUBMIT, OWN_STATUS, VIEW_REPORTS, "live", "tasking"}, {AUDIT}),
        ("meeting", {VIEW_REPORTS, "restricted_lagesbild"}, {SUBMIT, OWN_STATUS, AUDIT}),
        ("public", {AGGREGATED}, {SUBMIT, OWN_STATUS, VIEW_REPORTS, AUDIT}),
        ("admin", {SUBMIT, VIEW_REPORTS, AUDIT, "admin"}, set()),
    ],
)
def test_what_each_role_may_do(role: str, allowed: set[str], refused: set[str]) -> None:
    assert all(role_allows(role, p) for p in allowed)
    assert not any(role_allows(role, p) for p in refused)
    assert role_allows(role, None)  # any valid token


def test_an_unknown_role_may_do_nothing() -> None:
    assert not role_allows("superuser", SUBMIT)


def test_create_find_and_revoke(engine: Engine) -> None:
    org, token = create_organisation(
        engine, " Securitas ", "0580", "reporter", ["vaktare", "ordningsvakt", "vaktare"]
    )
    assert org.name == "Securitas" and org.sources == ["vaktare", "ordningsvakt"]
    with Session(engine) as s:
        stored = s.exec(select(Organisation)).one()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    caller = find_caller(engine, token)
    assert caller == access.Caller("Securitas", "0580", "reporter", ("vaktare", "ordningsvakt"))
    assert find_caller(engine, token + "x") is None
    assert revoke_organisation(engine, "Securitas")
    assert find_caller(engine, token) is None
    assert not revoke_organisation(engine, "Securitas")  # already revoked


@pytest.mark.parametrize(
    ("name", "kommun", "role", "sources", "says"),
    [
        ("", "0580", "reporter", ["vaktare"], "namn"),
        ("A", "580", "reporter", ["vaktare"], "fyra siffror"),
        ("A", "0580", "boss", ["vaktare"], "Okänd roll"),
        ("A", "0580", "reporter", ["hund"], "Okänd källa"),
        ("A", "0580", "reporter", [], "minst en --source"),
    ],
)
def test_bad_organisations_are_refused_in_swedish(
    engine: Engine, name: str, kommun: str, role: str, sources: list[str], says: str
) -> None:
    with pytest.raises(OrganisationError, match=says):
        create_organisation(engine, name, kommun, role, sources)


def test_names_are_unique_and_readers_need_no_source(engine: Engine) -> None:
    create_organisation(engine, "Samverkan", "0580", "meeting", [])
    with pytest.raises(OrganisationError, match="finns redan"):
        create_organisation(engine, "Samverkan", "0580", "meeting", [])


# --- kommun scope, guard companies --------------------------------------------------


def test_only_an_admin_acts_for_further_kommuner(engine: Engine) -> None:
    _, token = create_organisation(
        engine, "Länet", "0580", "admin", ["ovrig"], extra_kommuner=["0581", "0580", "0582"]
    )
    admin = find_caller(engine, token)
    assert admin is not None and admin.kommuner == ("0580", "0581", "0582")
    assert admin.covers("0582") and not admin.covers("0583") and not admin.covers(None)
    with pytest.raises(OrganisationError, match="Bara en administratör"):
        create_organisation(engine, "TiB", "0580", "tib", ["ovrig"], extra_kommuner=["0581"])
    with pytest.raises(OrganisationError, match="fyra siffror"):
        create_organisation(engine, "Fel", "0580", "admin", ["ovrig"], extra_kommuner=["58"])
    _, token = create_organisation(engine, "Mötet", "0580", "meeting", [])
    meeting = find_caller(engine, token)
    assert meeting is not None and meeting.kommuner == ("0580",)


@pytest.mark.parametrize(
    ("role", "sources", "guard", "may"),
    [
        ("reporter", ["vaktare"], True, True),
        ("reporter", ["vaktare", "ordningsvakt"], True, True),
        ("reporter", ["vaktare"], False, False),  # the source alone is no mark
    ],
)
def test_guard_orders_come_with_the_mark(
    engine: Engine, role: str, sources: list[str], guard: bool, may: bool
) -> None:
    _, token = create_organisation(engine, "Bolaget", "0580", role, sources, guard_company=guard)
    caller = find_caller(engine, token)
    assert caller is not None and caller.can(access.GUARD_ORDERS) is may
    assert not any(access.GUARD_ORDERS in p for p in access.ROLE_PERMISSIONS.values())


# --- client address, secrets in logs ------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("10.0.0.5", "198.51.100.7", [], "10.0.0.5"),  # no proxy configured: header ignored
        ("192.0.2.1", "198.51.100.7", ["10.0.0.0/8"], "192.0.2.1"),  # not from the proxy
        ("10.0.0.5", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.5", "10.0.0.7", ["10.0.0.0/8"], "10.0.0.7"),  # only proxies: the first
        ("10.0.0.5", "not-an-address", ["10.0.0.5"], "not-an-address"),
    ],
)
def test_the_client_address_behind_configured_proxies_only(
    peer: str, forwarded: str, trusted: list[str], client: str
) -> None:
    assert access.client_address(peer, forwarded, trusted) == client


def test_secrets_are_redacted_from_log_records_as_uvicorn_writes_them() -> None:
    import logging

    from uvicorn.logging import AccessFormatter

    token = new_token()
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:5000", "GET", f"/open311/v2/requests.json?api_key={token}&status=open",
         "1.1", 200), None,
    )  # fmt: skip
    assert access.RedactSecrets().filter(record)
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert token not in line and f"api_key={access.REDACTED}&status=open" in line
    assert "200" in line and "10.0.0.1:5000" in line
    assert token not in access.redact_secrets(f"Authorization: Bearer {token}")
    assert access.redact_secrets("/tib?token=abc&x=1") == f"/tib?token={access.REDACTED}&x=1"
    assert access.redact_secrets("/api/v1/me?category=klotter") == "/api/v1/me?category=klotter"


def test_installed_redaction_survives_uvicorns_logging_setup() -> None:
    import logging
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    access.install_log_redaction()
    access.install_log_redaction()  # idempotent
    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn does when it starts
    filters = logging.getLogger("uvicorn.access").filters
    assert [type(f) for f in filters].count(access.RedactSecrets) == 1


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/0580/2026-W47/karta.html", "/0580/2026-W47/karta.html"),
        ("/tib?x=1", "/tib?x=1"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil", "/"),
        ("/a\r\nSet-Cookie: x", "/"),
        (None, "/"),
    ],
)
def test_a_login_goes_on_only_to_a_path_of_the_service(value: str | None, safe: str) -> None:
    from shared.login import safe_next

    assert safe_next(value, "/") == safe
