"""`lagesbild plan …` and `lagesbild decision …`: the handlingsplan and the meeting's decisions.

Registered by services/cli.py as ``app.add_typer(plan_app, name="plan")`` and
``app.add_typer(decision_app, name="decision")``. Plans are validated and stored here (the
CLI is the composition root); decisions go as DecisionV1 events on DECISION_STREAM, where the
aggregate service (and TiB, and the maps) read them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from services.aggregate import plan_store, store
from services.aggregate.followup import promise_month
from shared.config import Settings
from shared.contracts import DecisionV1
from shared.decisions import (
    DecisionDraft,
    build_decision,
    closing_event,
    plan_activities,
    publish_decision,
    stored_decision,
)
from shared.plan import PlanError, check_plan, parse_plan
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


def _kommun(settings: Settings, kommun: str | None) -> str:
    return kommun or settings.kommuner[0]


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@plan_app.command("load")
def load(file: Annotated[Path, typer.Argument(help="Planen som TOML (docs/plan.md).")]) -> None:
    """Validera och spara en plan; en ny version ersätter den tidigare (som sparas)."""
    from shared.areas import load_kommuner
    from shared.categories import category_catalog

    settings = Settings()
    try:
        text = file.read_text(encoding="utf-8")
        plan = parse_plan(text)
        kommuner = load_kommuner(settings.areas_dir, settings.area_name_property)
        check_plan(plan, category_catalog(settings.extra_categories), kommuner)
    except OSError as exc:
        raise _fail(f"Kan inte läsa {file}: {exc}") from exc
    except PlanError as exc:
        lines = [f"  {path or '(filen)'}: {text}" for path, text in exc.problems]
        raise _fail(f"{file}: planen har {len(lines)} fel:\n" + "\n".join(lines)) from exc
    row, is_new = plan_store.save_plan(_engine(settings), plan, text, datetime.now(UTC))
    activities = sum(len(f.activities) for f in plan.focus_areas)
    state = "laddad" if is_new else "oförändrad"
    console.print(
        f"{plan.title} ({plan.kommun}, {plan.plan_id}) version {row.version} {state}: "
        f"{len(plan.focus_areas)} samverkansområden, {activities} åtgärder, "
        f"{len(plan.promises)} medborgarlöften."
    )


@plan_app.command("list")
def list_plans(kommun: KommunOpt = None, as_json: JsonFlag = False) -> None:
    """Gällande planer (senaste versionen av varje)."""
    engine = _engine(Settings())
    rows = plan_store.current_plans(engine, kommun)
    items = [
        {
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
        console.print(f"{i['kommun']}  {i['plan_id']}  v{i['version']}  {escape(str(i['title']))}")


@plan_app.command("show")
def show(
    plan_id: Annotated[str, typer.Argument(help="Planens id.")],
    kommun: KommunOpt = None,
    version: Annotated[int | None, typer.Option("--version", help="Tidigare version.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Visa en plan: samverkansområden, åtgärder med ansvar och koppling, medborgarlöften."""
    settings = Settings()
    row = plan_store.plan_version(_engine(settings), _kommun(settings, kommun), plan_id, version)
    if row is None:
        raise _fail(f"Ingen plan {plan_id!r} för kommun {_kommun(settings, kommun)}.")
    plan = parse_plan(row.toml_text)
    if as_json:
        return _print_json(plan.model_dump(mode="json", by_alias=True))
    console.print(f"[bold]{escape(plan.title)}[/bold] ({plan.kommun}, version {row.version})")
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
    settings = Settings()
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
    summaries = [
        promise_month(p, month, incidents, bounds, decided) for plan in plans for p in plan.promises
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


def _publish(settings: Settings, decision: DecisionV1) -> None:
    from redis.exceptions import RedisError

    from shared.redis_runtime import RedisUnavailableError, require_redis

    try:
        publish_decision(require_redis(settings), decision)
    except (RedisUnavailableError, RedisError) as exc:
        raise _fail(str(exc), code=3) from exc


@decision_app.command("add")
def add(
    measure: Annotated[str, typer.Option("--measure", help="Vad som ska göras.")],
    target: Annotated[str, typer.Option("--target", help="Hotspotens namn eller ett område.")],
    until_week: Annotated[str, typer.Option("--until-week", help="Sista vecka, t.ex. 2026-W52.")],
    from_week: Annotated[
        str | None, typer.Option("--from-week", help="Första vecka (standard: denna vecka).")
    ] = None,
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
    from shared.areas import load_kommuner
    from shared.categories import category_catalog

    settings = Settings()
    kommun, engine = _kommun(settings, kommun), _engine(settings)
    areas = load_kommuner(settings.areas_dir, settings.area_name_property).get(kommun)
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
    )
    try:
        decision = build_decision(
            draft,
            categories=category_catalog(settings.extra_categories),
            activities=plan_activities(engine, kommun) if activity else (),
            area_names=areas.area_names if areas else (),
            now=datetime.now(UTC),
        )
    except ValueError as exc:  # DecisionError, and pydantic's ValidationError
        raise _fail(f"Beslutet kan inte registreras: {exc}") from exc
    _publish(settings, decision)
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
    settings = Settings()
    current = stored_decision(_engine(settings), decision_id)
    if current is None:
        raise _fail(f"Okänt beslut {decision_id!r} (har aggregate-tjänsten läst det än?).")
    try:
        closing = closing_event(current, note, datetime.now(UTC))
    except ValueError as exc:
        raise _fail(f"Beslutet kan inte avslutas: {exc}") from exc
    _publish(settings, closing)
    console.print(f"Beslut {decision_id} avslutat.")


@decision_app.command("list")
def list_decisions(
    kommun: KommunOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="open eller closed.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Beslut som aggregate-tjänsten har tagit emot."""
    rows = plan_store.decisions(_engine(Settings()), kommun, status)
    if as_json:
        return _print_json([d.model_dump(mode="json") for d in rows])
    if not rows:
        console.print("Inga beslut.")
    for d in rows:
        console.print(
            f"{d.decision_id}  {d.status:6}  {d.from_week}–{d.until_week}  "
            f"{escape(d.measure)} @ {escape(d.target)} ({', '.join(d.responsible)})"
        )
