"""`lagesbild plan …` and `lagesbild decision …`: the handlingsplan and the meeting's decisions.

Registered by services/cli.py as ``app.add_typer(plan_app, name="plan")`` and
``app.add_typer(decision_app, name="decision")``. Plans are validated here and sent as PlanV1
on PLAN_STREAM, where the aggregate service keeps them as versions (the command waits for
it) and the archive server offers their activities; decisions go as DecisionV1 events on
DECISION_STREAM, where the aggregate service (and TiB, and the archive server) read them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic as time_now
from time import sleep
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from services.aggregate import plan_store, store
from services.aggregate.config import AggregateSettings
from services.aggregate.followup import promise_month
from shared.config import Settings
from shared.contracts import PLAN_STREAM, DecisionV1, PlanActivityV1, PlanV1
from shared.decision_events import send_decision
from shared.decisions import (
    DecisionDraft,
    activities_in_plan,
    build_decision,
    closing_event,
    report_event,
)
from shared.plan import Plan, PlanError, check_plan, parse_plan
from shared.weeks import STOCKHOLM, iso_week_of

plan_app = typer.Typer(
    help="Handlingsplanen: samverkansområden, åtgärder, medborgarlöften.", no_args_is_help=True
)
decision_app = typer.Typer(
    help="Mötets beslut: åtgärd, plats, ansvar, veckor.", no_args_is_help=True
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")]
KommunOpt = Annotated[str | None, typer.Option("--kommun", help="Kommunkod, t.ex. 0580.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


def _engine(settings: Settings) -> Any:
    from shared.db import init_db, make_engine

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return engine


def _kommun(settings: AggregateSettings, kommun: str | None) -> str:
    return kommun or settings.kommuner[0]


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def plan_message(plan: Plan, text: str, now: datetime) -> PlanV1:
    """The PlanV1 event of a checked plan: its text and its linkable items, parsed."""
    return PlanV1(
        kommun=plan.kommun,
        plan_id=plan.plan_id,
        title=plan.title,
        toml_text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        loaded_at=now,
        activities=[
            PlanActivityV1(
                activity_id=a.activity_id,
                what=a.what,
                focus=a.focus,
                responsible=list(a.responsible),
                categories=list(a.categories),
            )
            for a in activities_in_plan(text)
        ],
    )


def _send_plan(settings: Settings, message: PlanV1) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from shared.redis_runtime import RedisUnavailableError, require_redis
    from shared.streams import send

    async def send_plan(url: str) -> None:
        redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            await send(redis, PLAN_STREAM, message)
        finally:
            await redis.aclose()

    try:
        asyncio.run(send_plan(require_redis(settings)))
    except (RedisUnavailableError, RedisError, OSError) as exc:
        raise _fail(str(exc), code=3) from exc


@plan_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Planen som TOML (docs/plan.md).")],
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Sekunder att vänta på aggregate-tjänsten.")
    ] = 60,
) -> None:
    """Validera en plan och skicka den; aggregate-tjänsten sparar den som en ny version
    (den tidigare sparas) och kommandot väntar tills den har gjort det."""
    from shared.categories import category_catalog
    from shared.kommuner import live_kommuner

    settings = AggregateSettings()
    try:
        text = file.read_text(encoding="utf-8")
        plan = parse_plan(text)
        kommuner = live_kommuner(settings)  # enabled kommuner: areas or packaged boundary
        check_plan(plan, category_catalog(settings.extra_categories), kommuner)
    except OSError as exc:
        raise _fail(f"Kan inte läsa {file}: {exc}") from exc
    except PlanError as exc:
        lines = [f"  {path or '(filen)'}: {text}" for path, text in exc.problems]
        raise _fail(f"{file}: planen har {len(lines)} fel:\n" + "\n".join(lines)) from exc
    engine = _engine(settings)
    message = plan_message(plan, text, datetime.now(UTC))
    before = plan_store.plan_version(engine, plan.kommun, plan.plan_id)
    _send_plan(settings, message)
    deadline = time_now() + timeout
    while (row := plan_store.plan_version(engine, plan.kommun, plan.plan_id)) is None or (
        row.content_hash != message.content_hash
    ):
        if time_now() > deadline:
            raise _fail(
                f"Planen är skickad, men aggregate-tjänsten har inte sparat den inom "
                f"{timeout:.0f} s. Kör den (lagesbild aggregate, eller alla tjänster med "
                "lagesbild up); planen ligger kvar på strömmen och sparas när tjänsten startar.",
                code=4,
            )
        sleep(0.2)
    is_new = before is None or before.content_hash != message.content_hash
    activities = sum(len(f.activities) for f in plan.focus_areas)
    state = "laddad" if is_new else "oförändrad"
    console.print(
        f"{plan.title} ({plan.kommun}, {plan.plan_id}) version {row.version} {state}: "
        f"{len(plan.focus_areas)} samverkansområden, {activities} åtgärder, "
        f"{len(plan.promises)} medborgarlöften."
    )


@plan_app.command("list")
def list_plans(kommun: KommunOpt = None, as_json: JsonFlag = False) -> None:
    """Laddade planer (senaste versionen av varje): gällande, avslutade och kommande."""
    engine = _engine(AggregateSettings())
    rows = plan_store.current_plans(engine, kommun)
    today = datetime.now(STOCKHOLM).date()
    items = [
        {
            "state": parse_plan(r.toml_text).state(today),
            "kommun": r.kommun,
            "plan_id": r.plan_id,
            "title": r.title,
            "version": r.version,
            "versions": plan_store.plan_versions(engine, r.kommun, r.plan_id),
            "loaded_at": r.loaded_at.isoformat(),
        }
        for r in rows
    ]
    if as_json:
        return _print_json(items)
    if not items:
        console.print("Inga planer laddade. Ladda en med: lagesbild plan load FIL.toml")
    for i in items:
        console.print(
            f"{i['kommun']}  {i['plan_id']}  v{i['version']}  {i['state']:9}  "
            f"{escape(str(i['title']))}"
        )


@plan_app.command("show")
def show(
    plan_id: Annotated[str, typer.Argument(help="Planens id.")],
    kommun: KommunOpt = None,
    version: Annotated[int | None, typer.Option("--version", help="Tidigare version.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Visa en plan: samverkansområden, åtgärder med ansvar och koppling, medborgarlöften."""
    settings = AggregateSettings()
    row = plan_store.plan_version(_engine(settings), _kommun(settings, kommun), plan_id, version)
    if row is None:
        raise _fail(f"Ingen plan {plan_id!r} för kommun {_kommun(settings, kommun)}.")
    plan = parse_plan(row.toml_text)
    if as_json:
        return _print_json(plan.model_dump(mode="json", by_alias=True))
    state = plan.state(datetime.now(STOCKHOLM).date())
    console.print(
        f"[bold]{escape(plan.title)}[/bold] ({plan.kommun}, version {row.version}) – {state}, "
        f"{plan.period.start}–{plan.period.end}"
    )
    for focus in plan.focus_areas:
        console.print(f"\n[bold]{escape(focus.name)}[/bold]")
        for a in focus.activities:
            where = ", ".join([*a.areas, *(p.name for p in a.places)]) or "hela kommunen"
            console.print(
                f"  • {escape(a.what)} [{a.id}] — ansvar: {', '.join(a.responsible)}; "
                f"{', '.join(a.categories) or 'alla kategorier'}; {where}"
                + (f"; {', '.join(a.times)}" if a.times else "")
            )
    for p in plan.promises:
        console.print(f"\n[bold]Medborgarlöfte[/bold] [{p.id}]: {escape(p.promise)}")


def _month_bounds(month: str) -> tuple[datetime, datetime, datetime]:
    start = date.fromisoformat(f"{month}-01")
    previous = (start - timedelta(days=1)).replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return tuple(  # type: ignore[return-value]
        datetime.combine(d, time(0), tzinfo=STOCKHOLM) for d in (previous, start, following)
    )


def _weeks(start: datetime, end: datetime) -> list[str]:
    days = (end - start).days
    return sorted({iso_week_of(start + timedelta(days=d)) for d in range(days)})


@plan_app.command("followup-promises")
def followup_promises(
    month: Annotated[str, typer.Option("--month", help="Månaden, t.ex. 2026-11.")],
    kommun: KommunOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Månadsuppföljning av medborgarlöftena: vad som gjorts och vad siffrorna gjorde."""
    settings = AggregateSettings()
    kommun = _kommun(settings, kommun)
    try:
        bounds = _month_bounds(month)
    except ValueError as exc:
        raise _fail(f"Ogiltig månad {month!r}: skriv t.ex. 2026-11.") from exc
    engine = _engine(settings)
    weeks = _weeks(bounds[0], bounds[2])
    incidents = [i for w in weeks for i in store.week_incidents(engine, kommun, w)]
    month_weeks = _weeks(bounds[1], bounds[2])
    decided = plan_store.decisions_near(engine, kommun, month_weeks[0], month_weeks[-1])
    plans = [parse_plan(r.toml_text) for r in plan_store.current_plans(engine, kommun)]
    data_from = store.first_report_day(engine, kommun)
    now = datetime.now(UTC)
    summaries = [
        promise_month(p, month, incidents, bounds, decided, data_from=data_from, now=now)
        for plan in plans
        for p in plan.promises
    ]
    if as_json:
        return _print_json([asdict(s) for s in summaries])
    if not summaries:
        console.print(f"Inga medborgarlöften i kommun {kommun}s planer.")
    for s in summaries:
        console.print(f"\n[bold]{escape(s.promise)}[/bold] ({s.month})")
        console.print(f"  Planerat: {escape('; '.join(s.planned) or '–')}")
        console.print(f"  Gjort (beslut): {escape('; '.join(s.done) or 'inga beslut kopplade')}")
        console.print(f"  {escape(s.statement)}")


def _send(settings: Settings, decision: DecisionV1) -> None:
    from redis.exceptions import RedisError

    from shared.redis_runtime import RedisUnavailableError, require_redis

    try:
        send_decision(require_redis(settings), decision)
    except (RedisUnavailableError, RedisError) as exc:
        raise _fail(str(exc), code=3) from exc


@decision_app.command("add")
def add(
    measure: Annotated[str, typer.Option("--measure", help="Vad som ska göras.")],
    target: Annotated[
        str,
        typer.Option("--target", help="Område, plats eller hotspot, t.ex. 'Skäggetorp centrum'."),
    ],
    until_week: Annotated[
        str, typer.Option("--until-week", help="Sista vecka: v52, vecka 52, 52 eller 2026-W52.")
    ],
    from_week: Annotated[
        str | None, typer.Option("--from-week", help="Första vecka (standard: denna vecka).")
    ] = None,
    owner: Annotated[str, typer.Option("--owner", help="Vem som äger beslutet.")] = "",
    responsible: Annotated[
        list[str] | None, typer.Option("--responsible", "-r", help="Ansvarig (flera går bra).")
    ] = None,
    category: Annotated[list[str] | None, typer.Option("--category", help="Kategori.")] = None,
    activity: Annotated[str | None, typer.Option("--activity", help="Planens åtgärd-id.")] = None,
    note: Annotated[str, typer.Option("--note", help="Anteckning.")] = "",
    decision_id: Annotated[str | None, typer.Option("--id", help="Eget beslut-id.")] = None,
    kommun: KommunOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Registrera ett beslut; det skickas på beslutsströmmen (TiB och kartorna ser det)."""
    from shared.categories import category_catalog
    from shared.kommuner import live_kommuner
    from shared.places import target_names

    settings = AggregateSettings()
    kommun, engine = _kommun(settings, kommun), _engine(settings)
    areas = live_kommuner(settings, engine).get(kommun)
    draft = DecisionDraft(
        kommun=kommun,
        measure=measure,
        target=target,
        until_week=until_week,
        from_week=from_week,
        activity_id=activity,
        responsible=list(responsible or []),
        categories=list(category or []),
        note=note,
        decision_id=decision_id,
        owner=owner,
    )
    try:
        decision = build_decision(
            draft,
            categories=category_catalog(settings.extra_categories),
            activities=plan_store.plan_activities(engine, kommun) if activity else (),
            area_names=target_names(areas) if areas else (),  # areas and known places
            now=datetime.now(UTC),
        )
    except ValueError as exc:  # DecisionError, and pydantic's ValidationError
        raise _fail(f"Beslutet kan inte registreras: {exc}") from exc
    _send(settings, decision)
    if as_json:
        return _print_json(decision.model_dump(mode="json"))
    console.print(
        f"Beslut {decision.decision_id} skickat: {escape(decision.measure)} "
        f"vid {escape(decision.target)}."
    )


@decision_app.command("close")
def close(
    decision_id: Annotated[str, typer.Argument(help="Beslutets id.")],
    note: Annotated[str, typer.Option("--note", help="Varför/hur det avslutas.")] = "",
) -> None:
    """Avsluta ett beslut (ett nytt DecisionV1-meddelande med status 'closed')."""
    settings = AggregateSettings()
    current = plan_store.stored_decision(_engine(settings), decision_id)
    if current is None:
        raise _fail(f"Okänt beslut {decision_id!r} (har aggregate-tjänsten läst det än?).")
    try:
        closing = closing_event(current, note, datetime.now(UTC))
    except ValueError as exc:
        raise _fail(f"Beslutet kan inte avslutas: {exc}") from exc
    _send(settings, closing)
    console.print(f"Beslut {decision_id} avslutat.")


@decision_app.command("report")
def report(
    decision_id: Annotated[str, typer.Argument(help="Beslutets id.")],
    text: Annotated[str, typer.Option("--text", help="Vad som har gjorts.")],
    by: Annotated[str, typer.Option("--by", help="Vem som rapporterar.")] = "",
    status: Annotated[
        str | None,
        typer.Option("--status", help="Ny status: planerad, pågår, genomförd eller avbruten."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Återrapportera ett beslut: vad som gjorts, av vem och (valfritt) ny status."""
    settings = AggregateSettings()
    current = plan_store.stored_decision(_engine(settings), decision_id)
    if current is None:
        raise _fail(f"Okänt beslut {decision_id!r} (har aggregate-tjänsten läst det än?).")
    try:
        event = report_event(current, text, by, status, datetime.now(UTC))
    except ValueError as exc:
        raise _fail(f"Återrapporten kan inte registreras: {exc}") from exc
    _send(settings, event)
    if as_json:
        return _print_json(event.model_dump(mode="json"))
    console.print(
        f"Återrapport för beslut {decision_id} skickad (status {escape(event.progress)})."
    )


@decision_app.command("list")
def list_decisions(
    kommun: KommunOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="open eller closed.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Beslut som aggregate-tjänsten har tagit emot."""
    rows = plan_store.decisions(_engine(AggregateSettings()), kommun, status)
    if as_json:
        return _print_json([d.model_dump(mode="json") for d in rows])
    if not rows:
        console.print("Inga beslut.")
    for d in rows:
        console.print(
            f"{d.decision_id}  {d.status:6}  {d.from_week}–{d.until_week}  "
            f"{escape(d.measure)} @ {escape(d.target)} ({', '.join(d.responsible)})"
        )
