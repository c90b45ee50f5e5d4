"""The project's own rules hold on the whole tree: the architecture's import contracts
(lint-imports, pyproject.toml), mypy on the whole tree (`services/`, `shared/`, `tests/`,
`bench/`), ruff (lint and format) on everything; and `require` skips here but fails in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tests.conftest as conftest
from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy", "services", "shared", "tests", "bench"),
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_passes(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_the_architecture_contracts_hold() -> None:
    """Services never import each other, shared/ imports no service, pure modules import
    no I/O library (the contracts in pyproject.toml, explained in docs/architecture.md)."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports is not None, "import-linter is a dev dependency: pip install -e .[dev]"
    result = subprocess.run(
        [lint_imports, "--no-logo", "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    for contract in (
        "Services never import each other",
        "No service imports a composition root",
        "shared/ imports no service",
        "Pure modules import no I/O library",
    ):
        assert f"{contract}" in result.stdout and "BROKEN" not in result.stdout


def test_require_skips_on_a_developers_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    require(True, "present")  # nothing happens
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        require(False, "no chromium")


def test_require_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"CI needs this.*shared/data/x\.csv"):
        require(False, "shared/data/x.csv is missing")
