"""docs/asyncapi.yaml (issue #17): generated from the stream table, current, complete and
valid for the official AsyncAPI parser (npm `@asyncapi/parser`, which validates against
the official JSON schemas of `@asyncapi/specs`; locked in tests/contract/package-lock.json
and installed with `npm ci` when absent)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import asyncapi
from shared.contracts import STREAM_TABLE

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")


def test_the_document_is_what_the_code_generates() -> None:
    assert asyncapi.DOC.read_text("utf-8") == asyncapi.render(), (
        "docs/asyncapi.yaml is out of date: run python -m shared.asyncapi"
    )
    assert asyncapi.main(["--check"]) == 0


def test_every_stream_its_producers_and_its_groups_are_described() -> None:
    doc = yaml.safe_load(asyncapi.DOC.read_text("utf-8"))
    assert doc["info"]["version"] and "Lägesbild" in doc["info"]["title"]
    assert "`payload`" in doc["info"]["description"]
    addresses = {c["address"]: key for key, c in doc["channels"].items()}
    assert sorted(addresses) == sorted(s.name for s in STREAM_TABLE)
    ops = doc["operations"].values()
    for spec in STREAM_TABLE:
        ref = {"$ref": f"#/channels/{addresses[spec.name]}"}
        sends = [o for o in ops if o["channel"] == ref and o["action"] == "send"]
        assert len(sends) == len(spec.producers), spec.name
        groups = {
            o.get("x-consumer-group")
            for o in ops
            if o["channel"] == ref and o["action"] == "receive"
        }
        assert {c.group for c in spec.consumers} <= groups, spec.name
        schema = doc["components"]["schemas"][spec.contract.__name__]
        assert set(schema["properties"]) == set(spec.contract.model_fields), spec.name


@pytest.fixture(scope="module")
def parser() -> Path:
    if NODE is None:
        pytest.fail("node is needed to validate docs/asyncapi.yaml (the AsyncAPI parser)")
    if not (HERE / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                       capture_output=True, timeout=600)  # fmt: skip
    return HERE / "validate_asyncapi.mjs"


def _validate(parser: Path, document: Path) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [str(NODE), str(parser), str(document)], cwd=HERE, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return proc.returncode, json.loads(proc.stdout or "{}")


def test_the_asyncapi_parser_accepts_the_document(parser: Path) -> None:
    code, result = _validate(parser, asyncapi.DOC)
    assert code == 0 and result["valid"], result["errors"]
    assert result["version"] == "3.0.0"
    assert sorted(result["channels"]) == sorted(s.name for s in STREAM_TABLE)
    assert {a for _id, a in result["operations"]} == {"send", "receive"}


def test_the_parser_would_catch_a_broken_document(parser: Path, tmp_path: Path) -> None:
    """The check above means something: the same parser rejects a document that breaks
    the AsyncAPI schema (an operation with an unknown action, a channel without messages'
    references resolving)."""
    doc = yaml.safe_load(asyncapi.DOC.read_text("utf-8"))
    first = next(iter(doc["operations"]))
    doc["operations"][first]["action"] = "publish"  # AsyncAPI 2's word, not 3's
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    code, result = _validate(parser, broken)
    assert code == 1 and not result["valid"] and result["errors"]
