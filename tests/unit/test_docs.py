"""The documentation a deployer reads stays true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from services.cli import env_example, settings_classes

ROOT = Path(__file__).resolve().parents[2]


def _variables() -> set[str]:
    return {f"LAGESBILD_{name.upper()}" for cls in settings_classes() for name in cls.model_fields}


def test_the_example_env_file_is_the_generated_one() -> None:
    example = (ROOT / "deploy" / "lagesbild.env.example").read_text(encoding="utf-8")
    assert example == env_example(), "run: lagesbild env-example > deploy/lagesbild.env.example"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(v for v in _variables() if f"`{v}`" not in readme)
    assert missing == [], f"README.md does not document {missing}"


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"`(LAGESBILD_[A-Z0-9_]+)`", readme))
    assert mentioned - _variables() == set()
