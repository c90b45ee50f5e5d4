"""`plan load` and `decision add/close/list` against the real aggregate service: decisions
travel as DecisionV1 events on DECISION_STREAM and are stored once per decision_id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.aggregate.plan_cli import decision_app, plan_app
from shared.contracts import PLAN_STREAM
from tests.conftest import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]
PLANS = Path(__file__).resolve().parents[2] / "plans"


@pytest.fixture
def cli(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def invoke(app: Any, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_plans_load_with_clear_errors(
    cli: Any, tmp_path: Path, running_services: dict[str, Any]
) -> None:
    """`plan load` checks the plan, sends it on the plan stream and waits until the
    aggregate service has kept it as a version."""
    assert "version 1 laddad: 8 samverkansområden" in cli(
        plan_app, "load", str(PLANS / "linkoping.toml")
    )
    assert "oförändrad" in cli(plan_app, "load", str(PLANS / "linkoping.toml"))
    cli(plan_app, "load", str(PLANS / "mjolby.toml"))
    bad = tmp_path / "bad.toml"
    text = (PLANS / "linkoping.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace('"Skäggetorp", "Ryd", "Berga"]', '"Skäggetorpet"]', 1), "utf-8")
    output = cli(plan_app, "load", str(bad), code=2)
    assert "samverkansomraden[0].atgarder[0].omraden[0]: okänt område 'Skäggetorpet'" in output
    listed = json.loads(cli(plan_app, "list", "--json"))
    assert {(p["kommun"], p["plan_id"]) for p in listed} == {
        ("0580", "linkoping-samverkan"),
        ("0586", "mjolby-2018-2020"),
    }
    assert "Broken Windows: snabb klottersanering" in cli(plan_app, "show", "linkoping-samverkan")
    [promise] = json.loads(cli(plan_app, "followup-promises", "--month", "2026-11", "--json"))
    assert (promise["promise_id"], promise["count"]) == ("skaggetorp-trygghet", 0)
    assert promise["statement"].startswith("För få händelser")


def test_plan_load_says_when_the_aggregate_does_not_store_it(
    cli: Any, service_env: dict[str, str]
) -> None:
    import redis

    output = cli(plan_app, "load", str(PLANS / "linkoping.toml"), "--timeout", "1", code=4)
    assert "aggregate-tjänsten har inte sparat den inom 1 s" in " ".join(output.split())
    client = redis.Redis.from_url(service_env["LAGESBILD_REDIS_URL"])
    assert client.xlen(PLAN_STREAM) == 1  # it waits on the stream for the service
    client.close()


def test_a_decision_goes_over_the_stream_and_is_closed_the_same_way(
    cli: Any, running_services: dict[str, Any]
) -> None:
    cli(plan_app, "load", str(PLANS / "linkoping.toml"))
    cli(
        decision_app,
        "add",
        "--measure",
        "Nattvandring",
        "--target",
        "Skäggetorp, centrala delen",
        "--activity",
        "nattvandring",
        "--from-week",
        "2026-W47",
        "--until-week",
        "2026-W50",
        "--id",
        "beslut-1",
    )
    assert "ingen åtgärd 'finns-inte'" in cli(
        decision_app,
        "add",
        "--measure",
        "x",
        "--target",
        "Ryd",
        "--activity",
        "finns-inte",
        "--until-week",
        "2026-W50",
        code=2,
    )

    def listed() -> list[dict[str, Any]]:
        return json.loads(cli(decision_app, "list", "--json"))

    [stored] = wait_for(listed, timeout=30)
    assert (stored["decision_id"], stored["status"]) == ("beslut-1", "open")
    assert stored["responsible"] == ["Kommunen", "Föreningslivet"]  # from the plan's activity
    cli(decision_app, "close", "beslut-1", "--note", "Klart")
    wait_for(lambda: listed()[0]["status"] == "closed", timeout=30)
