"""Stream plumbing every consuming service shares: entry envelopes, reclaiming, trimming.

The wire format (the same for every stream, every producer): an entry carries the event
as plain UTF-8 JSON text in a field named `payload`, the same shape as the stream's
contract; other fields are optional (`message_id`, `content-type`). Anyone with a Redis
client can read and write it, no FastStream needed. `send` writes exactly that.
Entries written before this format (FastStream's binary envelope in `__data__`) are still
read. An entry with neither field is not guessed at: it is rejected (the reports stream)
or dead-lettered (the others) with a reason saying the field must be called `payload`.

FastStream's group subscriber reads only new entries (`>`): an entry whose consumer
died, or whose batch failed, stays pending for ever. `Reclaimer` closes that gap with
XAUTOCLAIM, retries claimed entries one at a time so one poison entry cannot sink its
neighbours, and dead-letters an entry once its processing failed `max_failures` times (or,
if it keeps killing its consumer, once it was delivered more than `max_deliveries` times).
`trim_acknowledged` bounds a stream without ever trimming an unacked entry, nor one younger
than the stream retention (LAGESBILD_STREAM_RETENTION_HOURS).

Every service wires its consumers from the stream table (`shared.contracts.STREAM_TABLE`):
`register` subscribes each of its handlers, `reclaimers` builds one Reclaimer per stream it
reads; `send` is the one way to write a stream (the contract is checked) and
`dead_letter` the one way to put aside an entry nobody can use.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.contracts import (
    DEAD_LETTER_STREAM,
    STREAMS,
    TIB_ORDER_STREAM,
    DeadLetterV1,
    consumers_of,
    guard_company_group,
    new_message_id,
)

log = logging.getLogger("lagesbild.streams")
M = TypeVar("M", bound=BaseModel)

DATA_FIELD = b"__data__"
PAYLOAD_FIELD = b"payload"
RAW_KEY = "lagesbild_raw_data"


@dataclass(frozen=True)
class RawEntry:
    entry_id: str
    payload: bytes
    deliveries: int = 1
    framed: bool = True  # the entry had a `payload` field (see `has_payload`)


def raw_entry(
    entry_id: bytes | str, fields: Mapping[bytes, bytes], deliveries: int = 1
) -> RawEntry:
    return RawEntry(
        _as_bytes(entry_id).decode(), entry_payload(fields), deliveries, has_payload(fields)
    )


async def set_aside_unframed(
    redis: Redis, stream: str, group: str, entries: list[RawEntry]
) -> list[RawEntry]:
    """Dead-letter (and acknowledge) the entries without a `payload` field on a stream whose
    consumers take only contract messages; returns the others. A stream that takes raw
    payloads (the reports stream) passes them on: its consumer rejects them to the sender
    with the same reason (`MISSING_PAYLOAD_SV`/`_EN`)."""
    spec = STREAMS.get(stream)
    if spec is None or spec.raw_accepted or all(e.framed for e in entries):
        return entries
    for entry in entries:
        if not entry.framed:
            reason = f"{MISSING_PAYLOAD_SV} / {MISSING_PAYLOAD_EN}"
            await dead_letter(redis, stream, entry, reason, group=group)
            await redis.xack(stream, group, entry.entry_id)
    return [e for e in entries if e.framed]


CONTENT_TYPE_FIELD = b"content-type"
MESSAGE_ID_FIELD = b"message_id"
MISSING_PAYLOAD_CODE = "missing_payload_field"
MISSING_PAYLOAD_SV = (
    "posten saknar fältet payload: lägg händelsen som JSON-text i ett fält som heter payload"
)
MISSING_PAYLOAD_EN = (
    "the entry has no field named payload: put the event as JSON text in a field called payload"
)


def has_payload(fields: Mapping[bytes, bytes]) -> bool:
    """The entry carries its event the way the wire format says (or FastStream's legacy
    envelope): anything else is rejected, not guessed at."""
    return PAYLOAD_FIELD in fields or DATA_FIELD in fields


def entry_payload(fields: Mapping[bytes, bytes]) -> bytes:
    """The event's raw bytes: the `payload` field (or, from entries written before the
    plain format, FastStream's `__data__` envelope). An entry with neither gets its fields
    as a JSON object, for storage with its rejection only (see `has_payload`)."""
    if PAYLOAD_FIELD in fields:
        return fields[PAYLOAD_FIELD]
    if DATA_FIELD in fields:
        body, _headers = BinaryMessageFormatV1.parse(fields[DATA_FIELD])
        return body
    decoded = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    return json.dumps(decoded, ensure_ascii=False).encode()


async def envelope(message: BaseModel, message_id: str) -> dict[bytes, bytes]:
    """The stream fields for `message`: its JSON in `payload` (plain UTF-8), the message id
    and the content type. Hot paths XADD this straight into a pipeline."""
    return {
        PAYLOAD_FIELD: message.model_dump_json().encode(),
        MESSAGE_ID_FIELD: message_id.encode(),
        CONTENT_TYPE_FIELD: b"application/json",
    }


async def raw_envelope(payload: bytes, message_id: str) -> dict[bytes, bytes]:
    """The stream fields for a payload sent as is (bytes, not checked here)."""
    return {PAYLOAD_FIELD: payload, MESSAGE_ID_FIELD: message_id.encode()}


# --- writing a stream ------------------------------------------------------------------

Target = Redis | Pipeline | RedisBroker


async def send(
    target: Target, stream: str, message: BaseModel | bytes, *, message_id: str | None = None
) -> str | None:
    """Write `message` on `stream` as `{payload: JSON}` (see the module): the one way every
    service and command writes a stream. The message must be the stream's contract
    (`STREAM_TABLE`); the reports stream also takes raw bytes as they are.

    `target` is a Redis client (returns the entry id), a pipeline (the XADD is queued with
    the pipeline's other commands; returns None) or a FastStream broker (its connection)."""
    spec = STREAMS.get(stream)
    if spec is None:
        raise ValueError(f"{stream!r} is not in the stream table (shared/contracts.py)")
    if isinstance(message, BaseModel):
        if not isinstance(message, spec.contract):
            raise TypeError(
                f"{stream} carries {spec.contract.__name__}, not {type(message).__name__}"
            )
        key = message_id or str(getattr(message, "message_id", "") or new_message_id())
        fields = await envelope(message, key)
    elif spec.raw_accepted and isinstance(message, bytes):
        fields = await raw_envelope(message, message_id or new_message_id())
    else:
        raise TypeError(f"{stream} takes {spec.contract.__name__} messages only")
    if isinstance(target, Pipeline):
        target.xadd(stream, fields)  # type: ignore[arg-type]
        return None
    if isinstance(target, RedisBroker):
        target = _broker_redis(target)
    entry_id = await target.xadd(stream, fields)  # type: ignore[arg-type]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def _broker_redis(broker: RedisBroker) -> Redis:
    """The connected broker's own Redis client (FastStream 0.7 keeps it in its connection
    state); publishing through it writes exactly what `send` writes through a client."""
    return cast(Redis, broker.config.broker_config.connection.client)


async def dead_letter(
    target: Target, stream: str, entry: RawEntry, reason: str, *, group: str | None = None
) -> None:
    """Put aside an entry of `stream` that `group` cannot use, with the reason, on the
    dead-letter stream (kept for inspection; `lagesbild status` counts them). The reason
    must not quote the payload (see `invalid_reason`): it is logged."""
    log.warning("dead-lettering %s %s (%s): %s", stream, entry.entry_id, group or "-", reason)
    letter = DeadLetterV1(
        stream=stream,
        group=group,
        entry_id=entry.entry_id,
        reason=reason[:500],
        payload=payload_text(entry.payload),
        deliveries=entry.deliveries,
        dead_lettered_at=datetime.now(UTC),
    )
    await send(target, DEAD_LETTER_STREAM, letter)


async def valid_messages(
    target: Target, stream: str, group: str, entries: list[RawEntry], model: type[M]
) -> list[M]:
    """The entries that are a `model`; the others are dead-lettered (never retried: a bad
    entry stays bad) with the fields that are wrong."""
    out: list[M] = []
    for entry in entries:
        if not entry.framed:
            reason = f"{MISSING_PAYLOAD_SV} / {MISSING_PAYLOAD_EN}"
            await dead_letter(target, stream, entry, reason, group=group)
            continue
        try:
            out.append(model.model_validate_json(entry.payload))
        except ValidationError as exc:
            await dead_letter(target, stream, entry, invalid_reason(model, exc), group=group)
    return out


def error_kind(exc: BaseException) -> str:
    """What failed, for a dead letter's reason: the exception's type and the first line of
    its message; for a database error the driver's first line ("UNIQUE constraint failed:
    …", "database is locked"), never the statement's parameters or a DETAIL line, and for a
    validation error the fields and error types: those would quote the values."""
    kind = type(exc).__name__
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(hela)'}: {e['type']}"
            for e in exc.errors()[:5]
        )
    orig = getattr(exc, "orig", None)  # SQLAlchemy's wrapper around the driver's error
    text = str(orig if isinstance(orig, BaseException) else exc).strip()
    first = text.splitlines()[0][:200] if text else ""
    if isinstance(orig, BaseException):
        kind = f"{kind} ({type(orig).__name__})"
    return f"{kind}: {first}" if first else kind


def invalid_reason(model: type[BaseModel], exc: ValidationError) -> str:
    """Why an entry is not a `model`, by field and error type only: a dead letter's reason
    is logged and shown, so it never quotes the (possibly personal) value itself."""
    problems = [
        f"{'.'.join(str(p) for p in e['loc']) or '(hela)'}: {e['type']}" for e in exc.errors()[:5]
    ]
    return f"not a valid {model.__name__}: {'; '.join(problems)}"


def payload_text(payload: bytes, limit: int = 70_000) -> str:
    """The payload as text for storage and inspection (invalid UTF-8 kept as escapes, and
    NUL too: PostgreSQL text cannot hold it, and one such entry would fail its batch)."""
    return payload[:limit].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


async def keep_raw_entries(message: Mapping[str, Any], original_parser: Any) -> Any:
    """A FastStream `parser=` that hides payloads from FastStream's body decoding: a
    hostile payload must reach our validation (and get a reason), not crash the batch
    parser before the handler runs."""
    placeholder = [{DATA_FIELD: b"null"} for _ in message["data"]]
    return await original_parser({**message, "data": placeholder, RAW_KEY: message["data"]})


def raw_entries(raw_message: Mapping[str, Any]) -> list[RawEntry]:
    ids = raw_message["message_ids"]
    data = raw_message.get(RAW_KEY, raw_message["data"])
    return [raw_entry(i, f) for i, f in zip(ids, data, strict=True)]


Settle = Callable[[list[RawEntry]], Awaitable[object]]


@dataclass(frozen=True)
class AckingSettle:
    """A handler that acknowledges its batch itself, in the same round trip as what it
    writes (the ingest: events and XACK in one pipeline). `settle` is the plain form the
    Reclaimer uses, which acknowledges after it."""

    settle: Settle
    settle_and_ack: Settle


Handler = Settle | AckingSettle


def subscribe_batches(
    broker: Any,
    *,
    stream: str,
    group: str,
    consumer: str,
    settle: Handler,
    name: str,
    max_records: int,
    polling_ms: int = 100,
    description: str | None = None,
) -> None:
    """Register a batch subscriber: raw entries to `settle`, ack only when it returned.

    A batch that raises stays pending; the stream's Reclaimer retries it entry by entry
    and dead-letters what keeps failing. `name` names the subscriber (AsyncAPI, logs).
    """
    acks_itself = isinstance(settle, AckingSettle)
    run = settle.settle_and_ack if isinstance(settle, AckingSettle) else settle

    async def handle(msg: RedisBatchStreamMessage) -> None:
        try:
            entries = await set_aside_unframed(
                _broker_redis(broker), stream, group, raw_entries(msg.raw_message)
            )
            if not entries:
                return  # every entry was set aside (and acknowledged)
            await run(entries)
        except Exception:
            log.exception("%s: batch failed; left pending for the reclaimer", name)
            return
        if not acks_itself:
            await msg.ack()

    handle.__name__ = handle.__qualname__ = name
    broker.subscriber(
        stream=StreamSub(
            stream,
            group=group,
            consumer=consumer,
            batch=True,
            max_records=max_records,
            polling_interval=polling_ms,
        ),
        parser=keep_raw_entries,
        ack_policy=AckPolicy.MANUAL,
        title=f"{stream}:{name}",
        description=description,
    )(handle)


# --- wiring a service from the stream table ----------------------------------------------


def check_handlers(service: str, handlers: Mapping[str, Handler]) -> None:
    """The service's handlers are exactly the table's: a handler the table names but the
    service lacks (or one the table does not know) is a start-up error, not a silent gap."""
    wanted = {c.handler for _s, c in consumers_of(service)}
    missing, unknown = sorted(wanted - set(handlers)), sorted(set(handlers) - wanted)
    if missing or unknown:
        raise ValueError(
            f"{service}: handlers and the stream table differ: missing {missing}, "
            f"not in the table {unknown} (shared/contracts.py: STREAM_TABLE)"
        )


def register(
    broker: Any,
    service: str,
    handlers: Mapping[str, Handler],
    *,
    consumer: str,
    batch_size: int,
) -> None:
    """Subscribe `service`'s handlers to the streams the table says it reads (its group, the
    row's batch size or `batch_size`, the row's polling interval), and declare the streams
    it writes as publishers, so FastStream's AsyncAPI document shows both."""
    check_handlers(service, handlers)
    for spec, row in consumers_of(service):
        subscribe_batches(
            broker,
            stream=spec.name,
            group=row.group,
            consumer=consumer,
            settle=handlers[row.handler],
            name=row.handler,
            max_records=row.batch or batch_size,
            polling_ms=row.polling_ms,
            description=f"{spec.contract.__name__}: {spec.purpose}",
        )
    for spec in STREAMS.values():
        if service in spec.producers:
            broker.publisher(
                stream=spec.name,
                title=f"{spec.name}:publish",
                description=spec.purpose,
                schema=spec.contract,
            )


def reclaimers(
    redis: Redis,
    service: str,
    handlers: Mapping[str, Handler],
    *,
    consumer: str,
    settings: Any,
    dead_letters: Mapping[str, DeadLetter] | None = None,
) -> list[Reclaimer]:
    """One Reclaimer per stream `service` reads (its group), settling with the same
    handler as its subscriber; an entry that keeps failing goes to `dead_letter` (or the
    service's own way for that stream in `dead_letters`). `settings`: the shared Settings
    (claim_idle_ms, max_failures, max_deliveries, stream_retention_hours)."""
    check_handlers(service, handlers)
    out = []
    for spec, row in consumers_of(service):
        handler = handlers[row.handler]
        put_aside = (dead_letters or {}).get(spec.name) or _dead_letterer(
            redis, spec.name, row.group
        )
        out.append(
            Reclaimer(
                redis=redis,
                stream=spec.name,
                group=row.group,
                consumer=consumer,
                settle=handler.settle if isinstance(handler, AckingSettle) else handler,
                dead_letter=put_aside,
                min_idle_ms=settings.claim_idle_ms,
                max_failures=settings.max_failures,
                max_deliveries=settings.max_deliveries,
                retention_ms=int(settings.stream_retention_hours * 3_600_000),
            )
        )
    return out


def _dead_letterer(redis: Redis, stream: str, group: str) -> DeadLetter:
    async def put_aside(entry: RawEntry, reason: str) -> None:
        await dead_letter(redis, stream, entry, reason, group=group)

    return put_aside


DeadLetter = Callable[[RawEntry, str], Awaitable[None]]


@dataclass
class Reclaimer:
    redis: Redis
    stream: str
    group: str
    consumer: str
    settle: Settle  # process and make durable; raise to leave the entries pending
    dead_letter: DeadLetter  # store an entry that keeps failing, with the reason
    min_idle_ms: int
    max_failures: int  # processing failures before an entry is dead-lettered
    max_deliveries: int  # deliveries (crash redeliveries included) before it is anyway
    batch_size: int = 100
    retention_ms: int = 0  # trimming keeps every entry younger than this

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.run_once()
                await trim_acknowledged(self.redis, self.stream, self.retention_ms)
                await self.forget_idle_consumers()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reclaim pass on %s failed; again in %.1f s", self.stream, interval_s)
            await asyncio.sleep(interval_s)

    async def run_once(self) -> int:
        """One pass over the group's pending list; returns how many entries were settled."""
        settled, start = 0, "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self.min_idle_ms,
                start_id=start,
                count=self.batch_size,
            )
            next_id, claimed = reply[0], reply[1]
            if claimed:
                settled += await self._settle_claimed(claimed)
            if _as_bytes(next_id) == b"0-0":
                return settled
            start = next_id

    async def forget_idle_consumers(self, idle_ms: int = 3_600_000) -> int:
        """Drop consumers of crashed processes once they hold nothing and stay idle."""
        gone = 0
        for c in await self.redis.xinfo_consumers(self.stream, self.group):
            name = _as_bytes(c["name"]).decode()
            if name != self.consumer and c["pending"] == 0 and c["idle"] > idle_ms:
                gone += int(await self.redis.xgroup_delconsumer(self.stream, self.group, name))
        return gone

    async def _settle_claimed(self, claimed: list[Any]) -> int:
        counts = await self._delivery_counts([entry_id for entry_id, _ in claimed])
        settled = 0
        for entry_id, fields in claimed:
            if fields is None:  # trimmed while pending: nothing is left to process
                await self.redis.xack(self.stream, self.group, entry_id)
                continue
            entry = raw_entry(entry_id, fields, counts.get(_as_bytes(entry_id), 1))
            if not await set_aside_unframed(self.redis, self.stream, self.group, [entry]):
                settled += 1
                continue
            settled += await self._settle_one(entry)
        return settled

    @property
    def _failures_key(self) -> str:
        return f"lagesbild:failures:{self.stream}:{self.group}"

    async def _settle_one(self, entry: RawEntry) -> int:
        """Process one entry; dead-letter it once processing itself failed `max_failures`
        times. Redeliveries after a consumer crash are not the entry's fault and do not
        count, up to a ceiling of `max_deliveries` (a payload that kills its consumer)."""
        try:
            if entry.deliveries > self.max_deliveries:
                reason = f"levererad {entry.deliveries} gånger / delivered {entry.deliveries} times"
                await self.dead_letter(entry, reason)
            else:
                await self.settle([entry])
        except Exception as exc:
            failures = int(await self.redis.hincrby(self._failures_key, entry.entry_id, 1))
            log.exception("entry %s failed (%d of %d)", entry.entry_id, failures, self.max_failures)
            if failures < self.max_failures:
                return 0
            reason = f"misslyckades {failures} gånger / failed {failures} times: {error_kind(exc)}"
            try:
                await self.dead_letter(entry, reason)
            except Exception:
                log.exception("could not dead-letter %s; stays pending", entry.entry_id)
                return 0
        await self.redis.xack(self.stream, self.group, entry.entry_id)
        await self.redis.hdel(self._failures_key, entry.entry_id)
        return 1

    async def _delivery_counts(self, ids: list[Any]) -> dict[bytes, int]:
        """Each claimed entry's delivery count (XAUTOCLAIM has just incremented it)."""
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        counts: dict[bytes, int] = {}
        for rows in await pipe.execute():
            for row in rows:
                counts[_as_bytes(row["message_id"])] = int(row["times_delivered"])
        return counts


async def wait_for_redis(redis: Redis, max_wait_s: float = 5.0) -> None:
    """Block until Redis answers: a service that starts while Redis restarts (or loads its
    AOF) waits for it instead of crashing."""
    delay = 0.1
    while True:
        try:
            await redis.ping()
            return
        except (RedisConnectionError, BusyLoadingError, TimeoutError) as exc:
            log.warning("Redis not ready (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_wait_s)


async def ensure_groups(redis: Redis, groups: Mapping[str, tuple[str, ...]]) -> None:
    """Create consumer groups at the start of their streams if they do not exist yet.

    FastStream would create them at `$` (only new entries): reports submitted before a
    service first started would then be skipped for ever.
    """
    await wait_for_redis(redis)
    for stream, names in groups.items():
        for name in names:
            try:
                await redis.xgroup_create(stream, name, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise


async def open_guard_delivery(redis: Redis, organisation: str) -> str:
    """Create a guard company's consumer group on the orders stream (at its end: orders from
    its registration on), so trimming keeps every order until the company has read and
    acknowledged it, even if its system has never connected. Idempotent; returns the group."""
    group = guard_company_group(organisation)
    try:
        await redis.xgroup_create(TIB_ORDER_STREAM, group, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    return group


async def close_guard_delivery(redis: Redis, organisation: str) -> bool:
    """Remove a guard company's group (its mark was removed or it was revoked), so the
    orders stream is no longer held for it. Whether there was one."""
    try:
        return bool(await redis.xgroup_destroy(TIB_ORDER_STREAM, guard_company_group(organisation)))
    except ResponseError:  # no stream yet
        return False


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    ms, _, seq = _as_bytes(entry_id).decode().partition("-")
    return int(ms), int(seq or 0)


async def trim_acknowledged(redis: Redis, stream: str, retention_ms: int = 0) -> int:
    """XTRIM MINID to the oldest entry that some group has not yet acknowledged, or to the
    oldest entry younger than `retention_ms` (by the Redis server's clock, which also makes
    the entry ids), whichever is older: an entry goes only once every group has
    acknowledged it AND it is older than the retention. The retention is what a service
    whose group does not exist yet (one that has never run) rebuilds its state from."""
    try:
        groups = await redis.xinfo_groups(stream)
    except Exception:  # the stream does not exist yet
        return 0
    if not groups:
        return 0
    needed: list[tuple[int, int]] = []
    if retention_ms > 0:
        seconds, micros = await redis.time()
        needed.append((max(0, int(seconds) * 1000 + int(micros) // 1000 - retention_ms), 0))
    for group in groups:
        ms, seq = _id_tuple(group["last-delivered-id"])
        needed.append((ms, seq + 1))  # everything after last-delivered is still unread
        if group["pending"]:
            summary = await redis.xpending(stream, group["name"])
            if summary["min"] is not None:  # it may have been acked since XINFO
                needed.append(_id_tuple(summary["min"]))
    ms, seq = min(needed)
    return int(await redis.xtrim(stream, minid=f"{ms}-{seq}", approximate=False))
