"""Kommuner, their areas and their known places (registered in `lagesbild` by services/cli.py):

lagesbild kommun add KOD [--name NAMN]      -> kommun_app   enable a kommun at once
lagesbild kommun list [--json]              -> kommun_app   enabled kommuner, areas, plans
lagesbild areas import FILE --kommun KOD --name-field FÄLT [--crs EPSG:NNNN] [--dry-run]
lagesbild places import FILE [--kommun KOD] [--dry-run]
lagesbild places list --kommun KOD [--json]

A composition root like services/cli.py: it reads the aggregate's plan table for `kommun
list` (read only); everything else is shared/ (kommuner.py, area_import.py, places.py).
Step by step for a municipality: docs/areas.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shared.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

kommun_app = typer.Typer(
    help="Anslutna kommuner: anslut en kommun, lista dem.", no_args_is_help=True
)
areas_app = typer.Typer(help="En kommuns områden från GIS-fil.", no_args_is_help=True)
places_app = typer.Typer(help="En kommuns kända platser (namn, alias, läge).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Kontrollera och visa; skriv inget.")]


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message names the bad variable
        err.print(f"[red]Fel i konfigurationen (LAGESBILD_…):[/red] {exc}")
        raise typer.Exit(2) from exc


def _engine(settings: Settings) -> Engine:
    from shared.db import init_db, make_engine

    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    return engine


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(code)


def _check_code(kommun: str) -> str:
    from shared.national import is_kommun_code, national_kommuner

    if not is_kommun_code(kommun):
        raise _fail(f"{kommun!r} är ingen kommunkod: fyra siffror, t.ex. 0586 (Mjölby).", 2)
    if kommun not in national_kommuner():
        raise _fail(f"Kommunkoden {kommun} finns inte bland Sveriges 290 kommuner.", 2)
    return kommun


# --- kommun ----------------------------------------------------------------------------------


@kommun_app.command("add")
def kommun_add(
    kommun: Annotated[str, typer.Argument(help="Kommunkod, t.ex. 0586 (Mjölby).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Visningsnamn; utan: det officiella.")
    ] = None,
) -> None:
    """Anslut en kommun: dess rapporter tas emot direkt, utan omstart av tjänsterna."""
    from shared.kommun_registry import enable
    from shared.national import national_kommuner

    settings = _settings()
    _check_code(kommun)
    if name is not None and not (0 < len(name.strip()) <= 100):
        raise _fail("--name ska vara 1–100 tecken.", 2)
    engine = _engine(settings)
    new = enable(engine, kommun, name=(name or "").strip(), by="kommun add")
    shown = (name or "").strip() or national_kommuner()[kommun].name
    state = "ansluten" if new else "var redan ansluten"
    console.print(f"{shown} ({kommun}) {state}.", highlight=False)
    if new:
        console.print(
            "Rapporter tas emot inom några sekunder; utan egna områden räknas de i "
            '"Övriga kommunen" och hotspots hittas på rutnätet. Egna områden: '
            f"lagesbild areas import FIL --kommun {kommun} --name-field NAMNFÄLT "
            "(docs/areas.md).",
            highlight=False,
        )


def kommun_rows(settings: Settings, engine: Engine) -> list[dict[str, Any]]:
    """Every enabled kommun with why it is enabled, its areas, places and current plans."""
    from services.aggregate.plan_store import current_plans
    from shared.kommuner import LiveKommuner, areas_dir_of, initial_kommuner

    areas_dir = areas_dir_of(settings)
    live = LiveKommuner(
        initial=initial_kommuner(settings),
        areas_dir=areas_dir,
        engine=engine,
        name_property=settings.area_name_property,
    )
    registry = live.registry()
    plans: dict[str, list[str]] = defaultdict(list)
    for row in current_plans(engine):
        plans[row.kommun].append(f"{row.plan_id} v{row.version}")
    rows = []
    for code in live:
        areas = live[code]
        why = []
        if code in live.initial:
            why.append("LAGESBILD_KOMMUNER")
        if code in registry:
            why.append(registry[code].enabled_by or "registret")
        if (areas_dir / f"{code}.geojson").is_file():
            why.append("områdesfil")
        rows.append(
            {
                "kommun": code,
                "name": areas.kommun_name,
                "areas": [a.name for a in areas.areas],
                "places": len(areas.places),
                "plans": plans.get(code, []),
                "enabled_by": why,
                "enabled_at": registry[code].enabled_at if code in registry else None,
            }
        )
    return rows


@kommun_app.command("list")
def kommun_list(as_json: JsonFlag = False) -> None:
    """Anslutna kommuner med deras områden, kända platser och gällande planer."""
    settings = _settings()
    rows = kommun_rows(settings, _engine(settings))
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    table = Table("kod", "kommun", "områden", "platser", "planer", "ansluten genom")
    for r in rows:
        areas = f"{len(r['areas'])}: {', '.join(r['areas'][:6])}" if r["areas"] else "inga egna"
        if len(r["areas"]) > 6:
            areas += " …"
        table.add_row(
            r["kommun"],
            r["name"],
            areas,
            str(r["places"]),
            ", ".join(r["plans"]) or "–",
            ", ".join(r["enabled_by"]),
        )
    console.print(table)


# --- areas -----------------------------------------------------------------------------------


@areas_app.command("import")
def areas_import(
    file: Annotated[
        Path, typer.Argument(help="GeoJSON, GeoPackage (.gpkg) eller Shapefile (.shp).")
    ],
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod, t.ex. 0586.")],
    name_field: Annotated[
        str, typer.Option("--name-field", help="Fältet med områdets namn, t.ex. NAMN.")
    ],
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="Filens koordinatsystem om det saknas/är fel, t.ex. EPSG:3006."),
    ] = None,
    layer: Annotated[
        str | None, typer.Option("--layer", help="Lagret i en GeoPackage med flera lager.")
    ] = None,
    no_repair: Annotated[
        bool, typer.Option("--no-repair", help="Vägra ogiltiga ytor i stället för att reparera.")
    ] = False,
    dry_run: DryRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Läs kommunens områden från GIS-fil, kontrollera dem och skriv kommunens områdesfil."""
    from shared.area_import import ImportRefused, import_areas
    from shared.geodata import GeoFileError
    from shared.kommuner import areas_dir_of

    settings = _settings()
    _check_code(kommun)
    try:
        result = import_areas(
            file,
            kommun=kommun,
            name_field=name_field,
            areas_dir=areas_dir_of(settings),
            crs=crs,
            layer=layer,
            name_property=settings.area_name_property,
            repair=not no_repair,
            dry_run=dry_run,
        )
    except GeoFileError as exc:
        raise _fail(str(exc)) from exc
    except ImportRefused as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise _fail(f"{file.name} används inte: {len(exc.problems)} problem:\n{lines}") from exc
    if as_json:
        print(
            json.dumps(
                {
                    "kommun": result.kommun,
                    "crs": result.source_crs,
                    "areas": result.areas,
                    "repaired": result.repaired,
                    "warnings": result.warnings,
                    "changes": [c.__dict__ for c in result.changes],
                    "unchanged": result.unchanged,
                    "written": str(result.written) if result.written else None,
                    "previous": str(result.previous_saved) if result.previous_saved else None,
                    "dry_run": result.dry_run,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for line in result.lines():
        console.print(line, highlight=False)


# --- places ----------------------------------------------------------------------------------


@places_app.command("import")
def places_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV (name, aliases, lat, lon) eller GeoJSON/GeoPackage/Shapefile."),
    ],
    kommun: Annotated[
        str | None,
        typer.Option(
            "--kommun", help="Kommunkod; utan: kolumnen kommun, annars var platsen ligger."
        ),
    ] = None,
    name_field: Annotated[
        str | None, typer.Option("--name-field", help="Namnfältet (standard: name eller namn).")
    ] = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="Koordinatsystem för en GIS-fil utan eget.")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Importera kända platser (namn, alias, punkt eller yta) per kommun."""
    from shared.geodata import GeoFileError
    from shared.kommuner import areas_dir_of
    from shared.places import PlaceFileError, build_places, write_places

    settings = _settings()
    if kommun is not None:
        _check_code(kommun)
    try:
        rows = _place_rows(file, name_field, crs)
    except (GeoFileError, PlaceFileError, OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{file.name}: {exc}") from exc
    by_kommun, problems = _assign_kommun(rows, kommun)
    results = []
    for code, kommun_rows_ in sorted(by_kommun.items()):
        places, more = build_places(kommun_rows_)
        problems += [f"{code}: {p}" for p in more]
        results.append((code, places))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise _fail(f"{file.name} används inte: {len(problems)} problem:\n{lines}")
    if not results:
        raise _fail(f"{file.name} innehåller inga platser.")
    for code, places in results:
        outcome = write_places(areas_dir_of(settings), code, places, dry_run=dry_run)
        console.print(
            f"{code}: {len(places)} platser; tillagda {len(outcome.added)}, borttagna "
            f"{len(outcome.removed)}, ändrade {len(outcome.changed)}.",
            highlight=False,
        )
        for label, names in (
            ("tillagd", outcome.added),
            ("borttagen", outcome.removed),
            ("ändrad", outcome.changed),
        ):
            for n in names:
                console.print(f"  {label}: {n}", highlight=False)
        if outcome.written:
            console.print(f"Skrev {outcome.written}.", highlight=False)
        if outcome.previous_saved:
            console.print(f"Den tidigare versionen sparades som {outcome.previous_saved}.")
    if dry_run:
        console.print("Provkörning (--dry-run): inget skrevs.")
    else:
        console.print(
            "Tjänsterna använder platserna inom några sekunder (hotspotnamn, beslut, "
            "formulärets platssökning, Open311-adresser)."
        )


def _place_rows(file: Path, name_field: str | None, crs: str | None) -> list[dict[str, Any]]:
    from shared.geodata import WGS84, GeoFileError, parse_crs, read_layer, transformer
    from shared.places import ALIAS_FIELDS, NAME_FIELDS, read_places_csv

    if file.suffix.lower() in (".csv", ".txt"):
        return read_places_csv(file.read_text(encoding="utf-8-sig"), name_field)
    layer = read_layer(file)
    source = crs or layer.crs
    if source is None:
        raise GeoFileError("filen anger inget koordinatsystem; ange --crs, t.ex. EPSG:3006.")
    project = transformer(parse_crs(source), WGS84)
    key = next(
        (f for f in ((name_field,) if name_field else NAME_FIELDS) if f in layer.fields), None
    )
    if key is None:
        raise GeoFileError(f"inget namnfält; fälten är: {', '.join(layer.fields)} (--name-field).")
    alias = next((f for f in ALIAS_FIELDS if f in layer.fields), None)
    kommun_field = next((f for f in ("kommun", "kommunkod") if f in layer.fields), None)
    return [
        {
            "number": f.number,
            "name": f.properties.get(key) or "",
            "aliases": f.properties.get(alias) if alias else None,
            "kommun": str(f.properties.get(kommun_field) or "") if kommun_field else "",
            "geometry": project(f.geometry) if f.geometry is not None else None,
        }
        for f in layer.features
    ]


def _assign_kommun(
    rows: list[dict[str, Any]], kommun: str | None
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Group rows by kommun: --kommun, else the row's kommun column, else where it lies."""
    from shared.national import is_kommun_code, kommun_of_point, national_kommuner

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    problems = []
    for row in rows:
        code = kommun or row.get("kommun") or ""
        geometry = row["geometry"]
        if not code and geometry is not None:
            point = geometry.representative_point()
            code = kommun_of_point(point.y, point.x) or ""
        if not is_kommun_code(code) or code not in national_kommuner():
            problems.append(
                f"Rad {row['number']}: ingen känd kommun (ange --kommun eller kolumnen kommun)."
            )
            continue
        boundary = national_kommuner()[code].boundary
        if geometry is not None and boundary.distance(geometry) > 0.02:  # ~1–2 km
            problems.append(
                f"Rad {row['number']} ({row['name']}): ligger utanför "
                f"{national_kommuner()[code].name} ({code})."
            )
            continue
        groups[code].append(row)
    return groups, problems


@places_app.command("list")
def places_list(
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod, t.ex. 0586.")],
    as_json: JsonFlag = False,
) -> None:
    """En kommuns kända platser och områden, som formulärets platssökning ser dem."""
    from shared.kommuner import live_kommuner
    from shared.places import places_for

    settings = _settings()
    _check_code(kommun)
    kommuner = live_kommuner(settings, _engine(settings))
    if kommun not in kommuner:
        raise _fail(f"Kommun {kommun} är inte ansluten (lagesbild kommun add {kommun}).")
    items = places_for(kommuner[kommun])
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return
    table = Table("namn", "slag", "alias", "lat", "lon")
    for i in items:
        table.add_row(i["name"], i["kind"], ", ".join(i["aliases"]), str(i["lat"]), str(i["lon"]))
    console.print(table)
