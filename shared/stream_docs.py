"""The generated "Streams" section of docs/architecture.md, from the stream table.

`python -m shared.stream_docs` rewrites the block between `<!-- stream-table:start -->` and
`<!-- stream-table:end -->` (`--check` only reports whether it is current; a test runs the
check, so the document cannot drift from `shared/contracts.py:STREAM_TABLE`). The section
has the table (stream, contract, producers, consumer groups with their handler, batch and
polling) and a diagram of services, streams and each service's own tables. The tables are
found by reading `services/<service>/models.py` and the shared registry modules as text
(`__tablename__ = "…"`), so this module imports no service.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

from shared.contracts import (
    AGGREGATE,
    ARCHIVE,
    GUARD_COMPANY,
    INGEST,
    INTAKE,
    SERVICES,
    STREAM_TABLE,
    TIB,
    StreamSpec,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- stream-table:start -->", "<!-- stream-table:end -->"
# Where each service's tables are defined (the archive server lives in the maps package;
# the renderer, `maps`, has no tables).
TABLE_MODULES = {
    INGEST: "services/ingest/models.py",
    AGGREGATE: "services/aggregate/models.py",
    INTAKE: "services/intake/models.py",
    TIB: "services/tib/models.py",
    ARCHIVE: "services/maps/models.py",
}
SHARED_TABLE_MODULES = (
    "shared/models_access.py",
    "shared/kommun_registry.py",
    "shared/retention.py",
)
# The services that check tokens and write the audit log in the shared access registry.
REGISTRY_USERS = (INTAKE, TIB, ARCHIVE)


def table_names(path: Path) -> list[str]:
    """The `__tablename__` of every class in a module, read as text (nothing imported)."""
    if not path.exists():
        return []
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets)
                and isinstance(stmt.value, ast.Constant)
            ):
                names.append(str(stmt.value.value))
    return names


def service_tables(root: Path = ROOT) -> dict[str, list[str]]:
    return {service: table_names(root / module) for service, module in TABLE_MODULES.items()}


def shared_tables(root: Path = ROOT) -> list[str]:
    return [name for module in SHARED_TABLE_MODULES for name in table_names(root / module)]


def _consumers(spec: StreamSpec) -> str:
    if not spec.consumers and not spec.runtime_groups:
        return "– (no group)"
    rows = [
        f"`{c.group}` → `{c.handler}` ({c.batch or 'BATCH_SIZE'}/{c.polling_ms} ms)"
        for c in spec.consumers
    ]
    if spec.runtime_groups:
        rows.append(spec.runtime_groups)
    return "<br>".join(rows)


def markdown_table() -> str:
    lines = [
        "| stream | contract | producers | consumer group → handler (batch/polling) | what |",
        "|---|---|---|---|---|",
    ]
    for spec in STREAM_TABLE:
        contract = spec.contract.__name__ + (" (or any payload)" if spec.raw_accepted else "")
        lines.append(
            f"| `{spec.name}` | `{contract}` | {', '.join(spec.producers)} | "
            f"{_consumers(spec)} | {spec.purpose} |"
        )
    return "\n".join(lines)


def _node(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def mermaid(tables: dict[str, list[str]], registry: Iterable[str]) -> str:
    """Services (boxes), streams (stadiums) and each service's tables (cylinders)."""
    lines = ["```mermaid", "flowchart LR"]
    actors = sorted({p for s in STREAM_TABLE for p in s.producers} - set(SERVICES))
    if any(s.runtime_groups for s in STREAM_TABLE):
        actors.append(GUARD_COMPANY)
    for service in SERVICES:
        lines.append(f'  svc_{_node(service)}["{service}"]')
    for actor in actors:
        lines.append(f'  who_{_node(actor)}{{{{"{actor}"}}}}')
    for spec in STREAM_TABLE:
        lines.append(f'  st_{_node(spec.name)}(["{spec.name}"])')
    for spec in STREAM_TABLE:
        stream = f"st_{_node(spec.name)}"
        for producer in spec.producers:
            kind = "svc" if producer in SERVICES else "who"
            lines.append(f"  {kind}_{_node(producer)} --> {stream}")
        for c in spec.consumers:
            lines.append(f"  {stream} -->|{c.group}| svc_{_node(c.service)}")
        if spec.runtime_groups:
            lines.append(f'  {stream} -.->|"guard:…"| who_{_node(GUARD_COMPANY)}')
    for service, names in tables.items():
        if names:
            lines.append(f'  db_{_node(service)}[("{"<br/>".join(names)}")]')
            lines.append(f"  svc_{_node(service)} --- db_{_node(service)}")
    shared = list(registry)
    if shared:
        lines.append(f'  db_shared[("shared: {"<br/>".join(shared)}")]')
        for service in REGISTRY_USERS:
            lines.append(f"  svc_{_node(service)} -.- db_shared")
    lines.append("```")
    return "\n".join(lines)


GUIDE = """\
Generated from `shared/contracts.py:STREAM_TABLE` by `python -m shared.stream_docs` (a test
fails when this section is out of date). Each service's subscribers and reclaimers
(`shared.streams.register`, `shared.streams.reclaimers`), `CONSUMER_GROUPS`, trimming,
`lagesbild status` and the AsyncAPI names come from the same table.

- **A new consumer of a stream**: add a `Consumer(service, group, handler, …)` to the
  stream's row, give the service's `handlers()` a settle function under that name (a test
  checks that the table and every service's handlers agree), and regenerate this section.
- **A new stream**: a contract class and a name constant above the table, a row in it, then
  as above. Write it only with `shared.streams.send` (it checks the contract).
- **Groups** are named after their service. The pipeline's (ingest, aggregate, maps) are
  created by every service and producer at the start of the stream, so nothing written
  before one of them first ran is lost; the others' when their service first starts. A
  guard company's group on the orders stream is created when it is registered
  (`lagesbild org add … --guard-company`, `org guard-company NAME`) and removed with the
  mark or the organisation.
- **Trimming**: an entry is removed only when every group has acknowledged it and it is
  older than `LAGESBILD_STREAM_RETENTION_HOURS` (168): a service started later rebuilds its
  projection from what the streams still hold, and from its own tables.
- **Dead letters**: an entry a consumer cannot use goes to `lagesbild.dead-letter.v1`
  (`shared.streams.dead_letter`, with the stream, the group and a reason that names fields,
  never values); a report the ingest cannot use is a rejection on
  `lagesbild.reports.rejected.v1` instead, so its sender sees why.
"""


def section(root: Path = ROOT) -> str:
    return "\n\n".join(
        [
            GUIDE.rstrip(),
            markdown_table(),
            "Services (boxes), streams (rounded) and the tables each service owns (cylinders); "
            "dotted: the shared access registry.",
            mermaid(service_tables(root), shared_tables(root)),
        ]
    )


def render(document: str, root: Path = ROOT) -> str:
    """`document` with the block between the markers replaced by the current section."""
    if START not in document or END not in document:
        raise ValueError(f"{DOC.name} has no {START} … {END} block")
    head, rest = document.split(START, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{START}\n{section(root)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in args:
        if wanted != current:
            print(f"{DOC} is out of date: run python -m shared.stream_docs", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"{DOC}: the streams section is rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
