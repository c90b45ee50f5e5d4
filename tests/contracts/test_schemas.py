"""Each message contract's JSON schema is pinned: an accidental change to what services
send each other fails here. A deliberate change: add a field as optional (compatible) or
make a new version on a new stream, then refresh with UPDATE_CONTRACT_SNAPSHOTS=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from shared import contracts

SNAPSHOTS = Path(__file__).parent / "snapshots"
MESSAGES = sorted(
    (name, obj)
    for name, obj in vars(contracts).items()
    if isinstance(obj, type) and issubclass(obj, BaseModel) and name.endswith("V1")
)


@pytest.mark.parametrize(("name", "model"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_the_contract_schema_is_unchanged(name: str, model: type[BaseModel]) -> None:
    schema = json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_CONTRACT_SNAPSHOTS"):
        path.write_text(schema + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot of {name}: run with UPDATE_CONTRACT_SNAPSHOTS=1"
    assert path.read_text(encoding="utf-8") == schema + "\n", f"{name} changed its schema"


def test_every_stream_name_is_versioned_and_unique() -> None:
    assert len(set(contracts.ALL_STREAMS)) == len(contracts.ALL_STREAMS)
    assert all(name.startswith("lagesbild.") and ".v" in name for name in contracts.ALL_STREAMS)
