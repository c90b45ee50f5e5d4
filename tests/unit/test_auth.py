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
