"""Patrol orders are the TiB's and the named guard company's only (real redis-server, a
real SQLite file): who may list, who may take an order, and how an organisation becomes a
guard company (`lagesbild org add … --guard-company`, `org guard-company NAME`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from redis import Redis
from typer.testing import CliRunner

from services.intake.cli import org_app
from shared.access import (
    GUARD_ORDERS,
    OrganisationError,
    caller_by_name,
    create_organisation,
    find_caller,
    set_guard_company,
)
from shared.contracts import TIB_ORDER_STREAM, guard_company_group
from shared.redis_runtime import EmbeddedRedis
from tests.security.access_world import OWN, World, build_world, order_body

pytestmark = pytest.mark.redis
ORDERS = "/api/v1/tib/orders"


@pytest.fixture
def world(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[World]:
    world = build_world(tmp_path, redis_server.url)
    # a second guard company in the same kommun
    _, world.tokens[("guard B", OWN)] = create_organisation(
        world.engine, "Väktarbolag B", OWN, "reporter", ["ordningsvakt"], guard_company=True
    )
    yield world
    world.close()


def act(world: World, who: str, order_id: str, step: str) -> Any:
    client = world.clients["tib"]
    return client.post(f"{ORDERS}/{order_id}/{step}", json={"note": ""}, headers=_as(world, who))


def _as(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[(who, OWN)]}"}


def issue(world: World, assigned_to: str | None = None) -> Any:
    body = order_body() | ({"assigned_to": assigned_to} if assigned_to else {})
    return world.clients["tib"].post(ORDERS, json=body, headers=_as(world, "tib"))


def listed(world: World, who: str) -> Any:
    return world.clients["tib"].get(ORDERS, headers=_as(world, who))


def test_an_assigned_order_is_the_named_companys_only(world: World) -> None:
    issued = issue(world, assigned_to="guard-0580")
    assert issued.status_code == 201, issued.text
    order_id = issued.json()["order"]["order_id"]
    other = act(world, "guard B", order_id, "acknowledge")
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "order_not_yours"
    for step in ("acknowledge", "check-in", "check-out"):
        assert act(world, "guard", order_id, step).status_code == 200, step
    # guard B does not see it; the named company and the TiB do
    assert order_id not in {o["order"]["order_id"] for o in listed(world, "guard B").json()}
    assert order_id in {o["order"]["order_id"] for o in listed(world, "guard").json()}
    assert order_id in {o["order"]["order_id"] for o in listed(world, "tib").json()}


def test_a_reassigned_order_is_the_new_companys_only(world: World) -> None:
    order_id = issue(world, assigned_to="guard-0580").json()["order"]["order_id"]
    assert act(world, "guard", order_id, "acknowledge").status_code == 200
    moved = order_body() | {"assigned_to": "Väktarbolag B"}
    client = world.clients["tib"]
    updated = client.put(f"{ORDERS}/{order_id}", json=moved, headers=_as(world, "tib"))
    assert updated.status_code == 200 and updated.json()["holder"] == "Väktarbolag B"
    assert act(world, "guard", order_id, "check-in").status_code == 403
    assert act(world, "guard B", order_id, "check-in").status_code == 200


def test_an_unassigned_order_goes_to_the_first_guard_company_only(world: World) -> None:
    order_id = issue(world).json()["order"]["order_id"]
    for who in ("reporter", "fieldworker", "tib", "admin", "meeting", "public"):
        refused = act(world, who, order_id, "acknowledge")
        assert refused.status_code == 403, who
        assert refused.json()["errors"][0]["code"] == "role_not_allowed"
    assert act(world, "guard B", order_id, "check-in").status_code == 200
    taken = act(world, "guard", order_id, "check-out")
    assert taken.status_code == 403 and taken.json()["errors"][0]["code"] == "order_not_yours"
    assert act(world, "guard B", order_id, "check-out").json()["holder"] == "Väktarbolag B"


def test_public_meeting_and_reporter_tokens_cannot_list_orders(world: World) -> None:
    issue(world)
    for who in ("public", "meeting", "reporter", "fieldworker"):
        refused = listed(world, who)
        assert refused.status_code == 403, who
        assert "order_id" not in refused.text
    assert world.clients["tib"].get(ORDERS).status_code == 401
    assert len(listed(world, "guard").json()) == 1  # unassigned: every guard company sees it


def test_an_order_goes_only_to_a_guard_company_of_its_kommun(world: World) -> None:
    for name in ("fieldworker-0580", "reporter-0580", "guard-0581", "Finns inte AB"):
        refused = issue(world, assigned_to=name)
        assert refused.status_code == 422, name
        assert refused.json()["errors"][0]["code"] == "not_a_guard_company"
    assert issue(world, assigned_to="Väktarbolag B").status_code == 201


def test_field_workers_and_nattvandrare_cannot_be_guard_companies(world: World) -> None:
    for sources in (["faltsekreterare"], ["nattvandrare"], ["vaktare", "nattvandrare"]):
        with pytest.raises(OrganisationError, match="tar inte väktaruppdrag"):
            create_organisation(world.engine, f"X {sources}", OWN, "reporter", sources,
                                guard_company=True)  # fmt: skip
    with pytest.raises(OrganisationError, match="tar inte väktaruppdrag"):
        set_guard_company(world.engine, "fieldworker-0580", True)
    with pytest.raises(OrganisationError, match="rollen reporter"):
        create_organisation(world.engine, "TiB-bolag", OWN, "tib", ["vaktare"], guard_company=True)
    # the mark is what counts, not the source: a plain reporter with "vaktare" is no company
    assert not find_caller(world.engine, world.tokens[("reporter", OWN)]).can(GUARD_ORDERS)  # type: ignore[union-attr]
    assert find_caller(world.engine, world.tokens[("guard", OWN)]).can(GUARD_ORDERS)  # type: ignore[union-attr]


def test_the_org_commands_mark_and_unmark_guard_companies(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAGESBILD_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("LAGESBILD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAGESBILD_REDIS_URL", world.redis_url)
    redis = Redis.from_url(world.redis_url, decode_responses=True)

    def delivery_groups() -> set[str]:
        """The guard companies' groups on the orders stream (shared/contracts.py)."""
        if not redis.exists(TIB_ORDER_STREAM):
            return set()
        names = {g["name"] for g in redis.xinfo_groups(TIB_ORDER_STREAM)}
        return {n for n in names if n.startswith("guard:")}

    cli = typer.Typer()
    cli.add_typer(org_app, name="org")
    run = CliRunner().invoke
    added = run(cli, ["org", "add", "Nattvakten AB", "--kommun", OWN, "--source", "vaktare",
                      "--guard-company"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "väktarbolag" in added.output
    assert caller_by_name(world.engine, "Nattvakten AB").can(GUARD_ORDERS)  # type: ignore[union-attr]
    assert delivery_groups() == {guard_company_group("Nattvakten AB")}  # its orders are kept
    refused = run(cli, ["org", "add", "Fältgruppen", "--kommun", OWN, "--source",
                        "faltsekreterare", "--guard-company"])  # fmt: skip
    assert refused.exit_code == 1 and "tar inte väktaruppdrag" in refused.output
    assert run(cli, ["org", "guard-company", "reporter-0580"]).exit_code == 0
    assert caller_by_name(world.engine, "reporter-0580").can(GUARD_ORDERS)  # type: ignore[union-attr]
    assert guard_company_group("reporter-0580") in delivery_groups()
    assert run(cli, ["org", "guard-company", "reporter-0580", "--remove"]).exit_code == 0
    assert not caller_by_name(world.engine, "reporter-0580").can(GUARD_ORDERS)  # type: ignore[union-attr]
    assert guard_company_group("reporter-0580") not in delivery_groups()
    assert run(cli, ["org", "revoke", "Nattvakten AB"]).exit_code == 0
    assert delivery_groups() == set()  # a revoked company's orders are no longer held
    redis.close()
    admin = run(cli, ["org", "add", "Länsadmin", "--kommun", "0580", "--kommun", "0581",
                      "--role", "admin", "--source", "ovrig"])  # fmt: skip
    assert admin.exit_code == 0, admin.output
    assert caller_by_name(world.engine, "Länsadmin").kommuner == ("0580", "0581")  # type: ignore[union-attr]
    two = run(cli, ["org", "add", "Mötet", "--kommun", "0580", "--kommun", "0581",
                    "--role", "meeting"])  # fmt: skip
    assert two.exit_code == 1 and "Bara en administratör" in two.output
