"""The stream table as `lagesbild status` needs it (shared/service_status.py takes plain
rows, so that the command need not import the contracts), and the wiring of a service's
status report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis

from shared.contracts import (
    DEAD_LETTER_STREAM,
    PIPELINE_GROUPS,
    STREAM_TABLE,
    groups_of,
)
from shared.service_status import StreamRow, report_status


def stream_rows() -> list[StreamRow]:
    """Every stream of the table with its consumer groups and the pipeline's among them."""
    return [
        StreamRow(
            spec.name,
            tuple(c.group for c in spec.consumers),
            PIPELINE_GROUPS.get(spec.name, ()),
            dead_letters=spec.name == DEAD_LETTER_STREAM,
        )
        for spec in STREAM_TABLE
    ]


def own_groups(service: str) -> dict[str, str]:
    """stream -> `service`'s group, for the streams it reads."""
    return {stream: group for stream, (group,) in groups_of(service).items()}


def report_service_status(
    app: Any, redis: Redis, service: str, count: Callable[[], Mapping[str, int]]
) -> None:
    """Keep `service`'s numbers in Redis while its app runs (shared/service_status.py)."""
    report_status(app, redis, service, count, stream_rows(), own_groups(service))
