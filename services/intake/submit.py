"""From an authorised request to entries on the reports stream, and back to a status.

Every way in (API, form, Open311) ends here: the token's organisation, kommun and sources
are applied, each report is validated exactly as the ingest will, and only when all of a
request's reports are valid are they published. A retried report with the same content
is answered from its receipt instead of being published again.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.intake import audit, outcomes
from services.intake.context import IntakeContext, in_thread
from services.intake.errors import IntakeError, error_item, rejection_item
from services.intake.models import IntakeReceipt
from shared.access import Caller
from shared.categories import Source
from shared.contracts import NOLLRAPPORT_STREAM, REPORTS_STREAM, NollrapportV1
from shared.scrub import scrub
from shared.streams import send
from shared.validation import Rejection, ValidReport
from shared.weeks import STOCKHOLM, buildable_weeks, iso_week_of, parse_week

QUEUED, STORED, REJECTED = "queued", "stored", "rejected"


@dataclass(frozen=True)
class Status:
    report_id: str
    status: str  # queued, stored, rejected
    receipt_id: int | None = None
    reason: dict[str, Any] | None = None  # why it was rejected


# --- applying the token ------------------------------------------------------------


def apply_token(caller: Caller, payload: Any) -> Any:
    """Fill `kommun` and `source` from the token when absent; refuse ones it does not allow.
    `organisation` is set by validation (`validate_submission(organisation=…)`)."""
    if not isinstance(payload, dict):
        return payload  # validation names what is wrong with it
    payload = dict(payload)
    if payload.get("kommun") is None:
        payload["kommun"] = caller.kommun
    if payload.get("source") is None and len(caller.sources) == 1:
        payload["source"] = caller.sources[0]
    check_kommun(caller, payload["kommun"])
    if payload.get("source") is not None:
        check_source(caller, payload["source"])
    return payload


def check_kommun(caller: Caller, kommun: object) -> None:
    if kommun != caller.kommun:
        raise IntakeError.one(
            403,
            "kommun_not_allowed",
            f"Organisationen {caller.organisation} rapporterar för kommun {caller.kommun}, "
            f"inte {kommun!r}.",
            f"The organisation {caller.organisation} reports for kommun {caller.kommun}, "
            f"not {kommun!r}.",
            "kommun",
        )


def check_source(caller: Caller, source: object) -> None:
    if source not in caller.sources:
        allowed = ", ".join(caller.sources) or "–"
        raise IntakeError.one(
            403,
            "source_not_allowed",
            f"Organisationen {caller.organisation} får inte rapportera som {source!r}; "
            f"tillåtna källor: {allowed}.",
            f"The organisation {caller.organisation} may not report as {source!r}; "
            f"allowed sources: {allowed}.",
            "source",
        )


def validate_all(ctx: IntakeContext, caller: Caller, payloads: list[Any]) -> list[ValidReport]:
    """All reports valid, or an IntakeError (422) naming each rejected one."""
    results = [ctx.validate(apply_token(caller, p), caller.organisation) for p in payloads]
    rejected = [
        rejection_item(r, index=i, report_id=_report_id_of(payloads[i]))
        for i, r in enumerate(results)
        if isinstance(r, Rejection)
    ]
    if rejected:
        raise IntakeError(422, rejected)
    return [r for r in results if isinstance(r, ValidReport)]


def _report_id_of(payload: Any) -> Any:
    return payload.get("report_id") if isinstance(payload, dict) else None


# --- publishing --------------------------------------------------------------------


def content_hash(valid: ValidReport) -> str:
    return hashlib.sha256(valid.report.model_dump_json().encode()).hexdigest()


async def send_reports(
    ctx: IntakeContext, caller: Caller, reports: list[ValidReport], channel: str, remote: str
) -> list[Status]:
    """Publish what is new (or changed) and record receipts; the status of each report."""
    known = await in_thread(_known_hashes, ctx.engine, caller.organisation, reports)
    fresh = [v for v in reports if known.get(v.report.report_id) != content_hash(v)]
    entry_ids = await _xadd_reports(ctx, fresh)
    rows = [_receipt_row(v, e, channel) for v, e in zip(fresh, entry_ids, strict=True)]
    ids = [v.report.report_id for v in reports]
    objects = [f"report:{caller.organisation}/{v.report.report_id}" for v in fresh]
    # The receipts and audit entries of all requests in flight are written together, in
    # one transaction, and their statuses read together after it (`ReceiptWriter`).
    writer = receipt_writer(ctx.engine)
    statuses = await writer.write(Receipts(caller, rows, objects, remote, channel, ids))
    return [statuses[i] for i in ids]


@dataclass(frozen=True)
class Receipts:
    """One request's writes (its receipts and their audit entries) and the report ids whose
    statuses it answers with."""

    caller: Caller
    rows: list[dict[str, Any]]
    objects: list[str]  # audited as "submit"
    remote: str
    channel: str
    ids: list[str]


class ReceiptWriter:
    """Group commit of the receipts (and audit entries) of concurrent requests.

    On SQLite every write transaction waits for the one write lock that the ingest, the TiB,
    the aggregate and the intake's own consumers share, and a waiting writer polls for it:
    one transaction per request at 200 requests/s starved the ingest (batches stalled for
    seconds) and made some requests fail with "database is locked" after 5 s
    (bench/bench_live.py). So one flusher writes what every request in flight has queued,
    in one transaction, then reads all their statuses (a query per organisation), in one
    thread hop; each request still answers only after its own rows are committed. If a
    group fails, each request is retried on its own, so one request's error is its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queued: list[tuple[Receipts, asyncio.Future[dict[str, Status]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, receipts: Receipts) -> dict[str, Status]:
        """Write `receipts` (with the others in flight); the statuses of `receipts.ids`."""
        done: asyncio.Future[dict[str, Status]] = asyncio.get_running_loop().create_future()
        self._queued.append((receipts, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(done)  # a client that goes away does not undo the group

    async def _flush(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                await self._write_group(group)
            finally:  # cancelled (the app stops): no request waits for ever
                for _, done in group:
                    if not done.done():
                        done.set_exception(RuntimeError("the intake stopped before writing"))

    async def _write_group(
        self, group: list[tuple[Receipts, asyncio.Future[dict[str, Status]]]]
    ) -> None:
        try:
            answers = await in_thread(_write_receipts, self.engine, [r for r, _ in group])
        except Exception:
            for receipts, done in group:  # alone, so an error is that request's own
                try:
                    [answer] = await in_thread(_write_receipts, self.engine, [receipts])
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    done.set_result(answer)
        else:
            for (_, done), answer in zip(group, answers, strict=True):
                done.set_result(answer)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Engine, ReceiptWriter]] = (
    weakref.WeakKeyDictionary()
)


def receipt_writer(engine: Engine) -> ReceiptWriter:
    """The engine's writer on the running loop (one per app, in practice)."""
    per_loop = _writers.setdefault(asyncio.get_running_loop(), {})
    if engine not in per_loop:
        per_loop[engine] = ReceiptWriter(engine)
    return per_loop[engine]


def _write_receipts(engine: Engine, group: list[Receipts]) -> list[dict[str, Status]]:
    """Write the group's receipts and audit entries in one transaction; then each request's
    statuses (read once per organisation for the whole group)."""
    rows = [row for r in group for row in r.rows]
    if rows or any(r.objects for r in group):
        with Session(engine) as s:
            _add_receipts(s, engine, rows)
            for r in group:
                c = r.caller
                audit.add(s, c.organisation, c.role, "submit", r.objects, r.remote, r.channel)
            s.commit()
    wanted: dict[str, list[str]] = {}
    for r in group:
        wanted.setdefault(r.caller.organisation, []).extend(r.ids)
    found: dict[str, dict[str, Status]] = {}
    for org, ids in wanted.items():
        unique = list(dict.fromkeys(ids))
        for at in range(0, len(unique), STATUS_CHUNK):  # bound parameters stay few
            found.setdefault(org, {}).update(
                statuses_of(engine, org, unique[at : at + STATUS_CHUNK])
            )
    return [{i: found[r.caller.organisation][i] for i in r.ids} for r in group]


STATUS_CHUNK = 2000  # report ids per status query (SQLite allows 32,766 parameters)


async def _xadd_reports(ctx: IntakeContext, reports: list[ValidReport]) -> list[str]:
    if not reports:
        return []
    await ctx.ensure_groups()
    pipe = ctx.redis.pipeline(transaction=False)
    for v in reports:
        key = f"{v.report.organisation}/{v.report.report_id}"
        await send(pipe, REPORTS_STREAM, v.report, message_id=key)
    return [e.decode() if isinstance(e, bytes) else str(e) for e in await pipe.execute()]


def _receipt_row(valid: ValidReport, entry_id: str, channel: str) -> dict[str, Any]:
    r = valid.report
    return {
        "organisation": r.organisation,
        "report_id": r.report_id,
        "kommun": r.kommun,
        "channel": channel,
        "entry_id": entry_id,
        "content_hash": content_hash(valid),
        "category": r.category,
        "lat": r.lat,
        "lon": r.lon,
        "description_scrubbed": scrub(r.description),
        "occurred_at": r.occurred_at,
        "submitted_at": datetime.now(UTC),
    }


def _known_hashes(engine: Engine, organisation: str, reports: list[ValidReport]) -> dict[str, str]:
    ids = [v.report.report_id for v in reports]
    with Session(engine) as s:
        rows = s.exec(
            select(IntakeReceipt.report_id, IntakeReceipt.content_hash).where(
                IntakeReceipt.organisation == organisation, col(IntakeReceipt.report_id).in_(ids)
            )
        ).all()
    return dict(rows)


def _add_receipts(s: Session, engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert each receipt, or update the one of the same report (a changed report sent
    again; two concurrent retries of one report must not fail): one upsert statement for
    all of them, so the write lock is held for one statement, not two per receipt."""
    # The same report twice (in one batch, or from two requests of a group): the last wins,
    # as if written one after the other (PostgreSQL refuses one upsert touching a row twice).
    rows = list({(r["organisation"], r["report_id"]): r for r in rows}.values())
    if not rows:
        return
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(IntakeReceipt)
    stmt = stmt.on_conflict_do_update(
        index_elements=["organisation", "report_id"],
        set_={k: stmt.excluded[k] for k in rows[0] if k not in ("organisation", "report_id")},
    )
    s.connection().execute(stmt, rows)


# --- status ------------------------------------------------------------------------


def statuses_of(engine: Engine, organisation: str, report_ids: Iterable[str]) -> dict[str, Status]:
    """The status of each known report id of the organisation (unknown ids are left out)."""
    ids = list(dict.fromkeys(report_ids))
    with Session(engine) as s:
        receipts = {
            r.report_id: r
            for r in s.exec(
                select(IntakeReceipt).where(
                    IntakeReceipt.organisation == organisation,
                    col(IntakeReceipt.report_id).in_(ids),
                )
            ).all()
        }
    stored = outcomes.stored_report_ids(engine, organisation, ids)
    rejections = {
        entry_id: error_item(*outcome)
        for entry_id, outcome in outcomes.rejections(
            engine, [r.entry_id for r in receipts.values()]
        ).items()
    }
    found: dict[str, Status] = {}
    for report_id in ids:
        receipt = receipts.get(report_id)
        receipt_id = receipt.id if receipt else None
        if report_id in stored:
            found[report_id] = Status(report_id, STORED, receipt_id)
        elif receipt is not None and receipt.entry_id in rejections:
            found[report_id] = Status(report_id, REJECTED, receipt_id, rejections[receipt.entry_id])
        elif receipt is not None:
            found[report_id] = Status(report_id, QUEUED, receipt_id)
    return found


def receipts_for(
    engine: Engine,
    kommun: str,
    organisation: str | None = None,
    receipt_ids: list[int] | None = None,
    category: str | None = None,
    limit: int = 1000,
) -> list[IntakeReceipt]:
    """Receipts of a kommun, newest first (only the organisation's when given)."""
    query = select(IntakeReceipt).where(IntakeReceipt.kommun == kommun)
    if organisation is not None:
        query = query.where(IntakeReceipt.organisation == organisation)
    if receipt_ids is not None:
        query = query.where(col(IntakeReceipt.id).in_(receipt_ids))
    if category:
        query = query.where(IntakeReceipt.category == category)
    with Session(engine) as s:
        return list(s.exec(query.order_by(col(IntakeReceipt.id).desc()).limit(limit)).all())


def statuses_of_receipts(engine: Engine, receipts: list[IntakeReceipt]) -> dict[int, Status]:
    by_org: dict[str, list[IntakeReceipt]] = {}
    for r in receipts:
        by_org.setdefault(r.organisation, []).append(r)
    found: dict[int, Status] = {}
    for org, rows in by_org.items():
        statuses = statuses_of(engine, org, [r.report_id for r in rows])
        found.update({r.id: statuses[r.report_id] for r in rows if r.id is not None})
    return found


# --- nollrapporter -----------------------------------------------------------------


def nollrapport(
    ctx: IntakeContext,
    caller: Caller,
    source: str | None,
    iso_week: str | None,
    area: str | None,
    now: datetime,
) -> NollrapportV1:
    """The nollrapport the caller means, or an IntakeError saying what is wrong."""
    if source is None and len(caller.sources) == 1:
        source = caller.sources[0]
    if source is None:
        raise _invalid("source", "Ange källa (source).", "Give the source.")
    check_source(caller, source)
    week = iso_week or iso_week_of(now)
    _check_week(week, now)
    areas = ctx.kommuner.get(caller.kommun)
    if area is not None and (areas is None or area not in areas.area_names):
        raise _invalid("area", f"Okänt område {area!r}.", f"Unknown area {area!r}.")
    message_id = f"{caller.organisation}/{caller.kommun}/{week}/{area or '*'}"
    return NollrapportV1(
        message_id=message_id,
        kommun=caller.kommun,
        organisation=caller.organisation,
        source=Source(source),
        iso_week=week,
        area=area,
        submitted_at=now,
    )


def _check_week(week: str, now: datetime) -> None:
    try:
        year, number = parse_week(week)
    except ValueError:
        raise _invalid(
            "iso_week", f"Ogiltig vecka {week!r}, t.ex. 2026-W47.", f"Invalid week {week!r}."
        ) from None
    if date.fromisocalendar(year, number, 1) > now.astimezone(STOCKHOLM).date():
        raise _invalid(
            "iso_week",
            f"Veckan {week} har inte börjat; en nollrapport gäller en pågående eller gången vecka.",
            f"The week {week} has not begun; a nollrapport is for a current or past week.",
        )
    first, _ = buildable_weeks(now, None)
    if (year, number) < parse_week(first):
        raise _invalid(
            "iso_week",
            f"Veckan {week} är för gammal; en nollrapport kan gälla veckor från {first}.",
            f"The week {week} is too old; a nollrapport may be for weeks from {first}.",
        )


def _invalid(field: str, sv: str, en: str) -> IntakeError:
    return IntakeError.one(422, "invalid_field", sv, en, field)


async def send_nollrapport(ctx: IntakeContext, message: NollrapportV1) -> str:
    await ctx.ensure_groups()
    return str(await send(ctx.redis, NOLLRAPPORT_STREAM, message))
