"""docs/asyncapi.yaml, generated from the stream table (`shared.contracts.STREAM_TABLE`).

`python -m shared.asyncapi` rewrites the document; `--check` only says whether it is
current (tests/contract/test_asyncapi.py runs the check and validates the document with
the AsyncAPI parser). Every stream is a channel; every producer has a send operation and
every consumer group a receive operation (with its group, handler, batch and polling);
each message's payload schema is the pydantic contract's JSON schema. The wire format is
the one `shared.streams.send` writes: the event as UTF-8 JSON in the entry field
`payload` (see shared/contracts.py for the compatibility rule).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.contracts import STREAM_TABLE, StreamSpec

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "asyncapi.yaml"
TITLE = "Lägesbild: händelseströmmar (Redis Streams)"

WIRE_FORMAT = """\
Every entry on every stream carries its event as UTF-8 JSON text in the entry field
`payload`, in the shape of the channel's message schema; the optional fields `message_id`
(the producer's idempotency key) and `content-type` (`application/json`) may accompany it.
Read with any Redis client: `XREAD STREAMS <stream> 0-0` (or `XREADGROUP` with your own
group), then parse `payload` as JSON. Write with `XADD <stream> * payload '<json>'`.
An entry without `payload` is rejected (reports stream: on lagesbild.reports.rejected.v1,
code `missing_payload_field`) or dead-lettered (the others) with a reason saying the field
must be called `payload`.

Compatibility: adding an optional field is a minor change on the same stream, and readers
ignore fields they do not know; renaming, removing or retyping a field, or making one
required, is a major change on a new stream (`…v2`). Entries are trimmed only when every
consumer group acknowledged them and they are older than LAGESBILD_STREAM_RETENTION_HOURS.
"""


def _version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return str(data["project"]["version"])


def _key(text: str) -> str:
    """An id AsyncAPI accepts (letters, digits, `.`, `-`, `_`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """Each contract's JSON schema (validation mode: what a reader accepts), with nested
    models lifted into components/schemas."""
    out: dict[str, Any] = {}
    template = "#/components/schemas/{model}"
    for model in models:
        schema = model.model_json_schema(ref_template=template, mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            out.setdefault(name, sub)
        out[model.__name__] = schema
    return out


def _channel_key(spec: StreamSpec) -> str:
    return _key(spec.name.removeprefix("lagesbild."))


def build() -> dict[str, Any]:
    contracts = list(dict.fromkeys(s.contract for s in STREAM_TABLE))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in contracts:
        messages[model.__name__] = {
            "name": model.__name__,
            "title": model.__name__,
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
    for spec in STREAM_TABLE:
        ch = _channel_key(spec)
        name = spec.contract.__name__
        description = spec.purpose
        if spec.raw_accepted:
            description += (
                ". Producers may write any payload; the consumer validates it and answers"
                " on lagesbild.reports.rejected.v1."
            )
        channels[ch] = {
            "address": spec.name,
            "title": spec.name,
            "description": description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        message_ref = [{"$ref": f"#/channels/{ch}/messages/{name}"}]
        for producer in spec.producers:
            operations[_key(f"{producer}.send.{ch}")] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{ch}"},
                "title": f"{producer} writes {spec.name}",
                "summary": f"{producer} writes {name} with XADD (field `payload`).",
                "messages": message_ref,
            }
        for row in spec.consumers:
            batch = str(row.batch) if row.batch else "LAGESBILD_BATCH_SIZE"
            operations[_key(f"{row.service}.receive.{ch}")] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{ch}"},
                "title": f"{row.service} reads {spec.name}",
                "summary": (
                    f"service {row.service}, consumer group `{row.group}`, handler "
                    f"`{row.handler}` (batches of {batch}, polling {row.polling_ms} ms)"
                ),
                "messages": message_ref,
                "x-consumer-group": row.group,
                "x-service": row.service,
                "x-handler": row.handler,
            }
        if spec.runtime_groups:
            operations[_key(f"guard_company.receive.{ch}")] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{ch}"},
                "title": f"a guard company reads {spec.name}",
                "summary": f"{spec.runtime_groups}: consumer group `guard:<organisation>`",
                "messages": message_ref,
                "x-consumer-group": "guard:<organisation>",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": TITLE,
            "version": _version(),
            "description": WIRE_FORMAT,
        },
        "defaultContentType": "application/json",
        "servers": {
            "redis": {
                "host": "localhost:6379",
                "protocol": "redis",
                "description": "The Redis server of LAGESBILD_REDIS_URL (Redis Streams).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas(contracts)},
    }


def render() -> str:
    import yaml  # a dev dependency: the generator runs in development and the tests only

    class _Dumper(yaml.SafeDumper):
        """Multi-line text as literal blocks (readable in files and diffs); no anchors."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _text)
    header = (
        "# Generated by `python -m shared.asyncapi` from shared/contracts.py:STREAM_TABLE.\n"
        "# Do not edit by hand: a test fails when this file and the code differ.\n"
    )
    body = yaml.dump(build(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text("utf-8") != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python -m shared.asyncapi")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
