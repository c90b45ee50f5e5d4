"""`lagesbild forecast` and `lagesbild evaluate`: the next-week hotspot forecast from a CSV.

Registered by services/cli.py as ``app.command("forecast")(forecast_command)`` and
``app.command("evaluate")(evaluate_command)``. The CSV reading lives here; the method is the
pure code in services/aggregate/forecast.py.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from pyproj import CRS
from pyproj.exceptions import CRSError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.aggregate.forecast import (
    DEFAULT_AREA_FRACTION,
    DEFAULT_CELL_M,
    DEFAULT_METHOD,
    EVALUATE_METHODS,
    JITTER_SEED,
    METHODS,
    POINT_FAMILIES,
    AnyMethod,
    Method,
    Points,
    Versus,
    WeekResult,
    cells_to_geojson,
    evaluate,
    forecast_details,
    jitter,
    parse_method,
    points_from_latlon,
    points_from_xy,
    summarize,
    versus,
    with_references,
)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class InputError(Exception):
    """A problem with the user's input, in Swedish and English; exit code 2."""

    def __init__(self, sv: str, en: str) -> None:
        super().__init__(f"{sv} / {en}")
        self.sv, self.en = sv, en


@dataclass(frozen=True)
class CsvLayout:
    """Which columns hold time and position, and how to read them."""

    time_column: str = "time"
    time_columns: tuple[str, ...] = ()  # e.g. YEAR,MONTH,DAY,HOUR,MINUTE; overrides time_column
    lat_column: str = "lat"
    lon_column: str = "lon"
    x_column: str | None = None
    y_column: str | None = None
    crs: str | None = None  # required with x/y, e.g. "EPSG:32610"
    tz: str = "Europe/Stockholm"  # aware timestamps are converted to this clock

    @property
    def projected(self) -> bool:
        return self.x_column is not None or self.y_column is not None


@dataclass(frozen=True)
class Loaded:
    points: Points
    rows: int
    dropped_no_position: int


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(
                f"Kan inte packa upp {path}: {exc}", f"Cannot decompress {path}: {exc}"
            ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return io.StringIO(text, newline="")


def _epsg(text: str) -> int:
    try:
        code = CRS.from_user_input(text).to_epsg()
    except CRSError as exc:
        raise InputError(f"Okänt koordinatsystem: {text}", f"Unknown CRS: {text}") from exc
    if code is None:
        raise InputError(
            f"Koordinatsystemet {text} har ingen EPSG-kod", f"The CRS {text} has no EPSG code"
        )
    if not CRS.from_epsg(code).is_projected:
        raise InputError(
            f"{text} är inte ett projicerat (metriskt) system; använd --lat-column/--lon-column",
            f"{text} is not a projected (metric) CRS; use --lat-column/--lon-column",
        )
    return code


def _time_parser(layout: CsvLayout) -> Any:
    try:
        zone = ZoneInfo(layout.tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"Okänd tidszon: {layout.tz}", f"Unknown time zone: {layout.tz}") from exc

    if layout.time_columns:
        cols = layout.time_columns

        def from_parts(row: dict[str, str]) -> datetime:
            parts = [int(float(row[c])) for c in cols]
            return datetime(*parts)  # type: ignore[arg-type]

        return from_parts

    def from_text(row: dict[str, str]) -> datetime:
        value = datetime.fromisoformat(row[layout.time_column].strip())
        if value.tzinfo is not None:
            value = value.astimezone(zone).replace(tzinfo=None)
        return value

    return from_text


def load_points(path: Path, layout: CsvLayout) -> Loaded:
    """Read a CSV (or .csv.gz) of incidents; rows without a position (empty, or 0/0 as in
    privacy-suppressed records) are dropped and counted. Raises InputError."""
    if not path.is_file():
        raise InputError(f"Filen finns inte: {path}", f"File not found: {path}")
    if layout.time_columns and not 3 <= len(layout.time_columns) <= 6:
        raise InputError(
            "--time-columns behöver 3–6 kolumner: år,månad,dag[,timme[,minut[,sekund]]]",
            "--time-columns needs 3-6 columns: year,month,day[,hour[,minute[,second]]]",
        )
    if layout.projected:
        if not (layout.x_column and layout.y_column):
            raise InputError(
                "Ange både --x-column och --y-column", "Give both --x-column and --y-column"
            )
        if not layout.crs:
            raise InputError(
                "--x-column/--y-column kräver --crs, t.ex. EPSG:32610 eller EPSG:3006",
                "--x-column/--y-column need --crs, e.g. EPSG:32610 or EPSG:3006",
            )
        epsg: int | None = _epsg(layout.crs)
        xcol, ycol = layout.x_column, layout.y_column
    else:
        epsg = _epsg(layout.crs) if layout.crs else None
        xcol, ycol = layout.lon_column, layout.lat_column
    parse_time = _time_parser(layout)

    with _open_text(path) as handle:
        sample = handle.read(4096)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        found = [c for c in (reader.fieldnames or []) if c is not None]
        time_cols = list(layout.time_columns) or [layout.time_column]
        missing = [c for c in [*time_cols, xcol, ycol] if c not in found]
        if missing:
            raise InputError(
                f"Kolumner saknas i {path}: {', '.join(missing)}. "
                f"Kolumner i filen: {', '.join(found) or '(inga)'}",
                f"Missing columns in {path}: {', '.join(missing)}. "
                f"Columns found: {', '.join(found) or '(none)'}",
            )
        times: list[datetime] = []
        xs: list[float] = []
        ys: list[float] = []
        rows = dropped = 0
        bad_time: list[tuple[int, str]] = []
        bad_pos: list[tuple[int, str]] = []
        for line_no, row in enumerate(reader, start=2):
            rows += 1
            xt, yt = (row.get(xcol) or "").strip(), (row.get(ycol) or "").strip()
            if not xt or not yt:
                dropped += 1
                continue
            try:
                xv, yv = float(xt.replace(",", ".")), float(yt.replace(",", "."))
                if not (math.isfinite(xv) and math.isfinite(yv)):
                    raise ValueError
            except ValueError:
                bad_pos.append((line_no, f"{xt!r}, {yt!r}"))
                continue
            if xv == 0 and yv == 0:
                dropped += 1
                continue
            try:
                moment = parse_time(row)
            except (ValueError, TypeError, OverflowError):
                bad_time.append((line_no, " ".join(repr(row.get(c) or "") for c in time_cols)))
                continue
            times.append(moment)
            xs.append(xv)
            ys.append(yv)
    if bad_pos:
        line_no, example = bad_pos[0]
        raise InputError(
            f"{len(bad_pos)} rader har koordinater som inte är tal (första: rad {line_no}: "
            f"{example})",
            f"{len(bad_pos)} rows have non-numeric coordinates (first: line {line_no}: {example})",
        )
    if bad_time:
        line_no, example = bad_time[0]
        raise InputError(
            f"{len(bad_time)} rader har tider som inte går att tolka (första: rad {line_no}: "
            f"{example})",
            f"{len(bad_time)} rows have unparsable times (first: line {line_no}: {example})",
        )
    if not times:
        raise InputError(
            f"Inga händelser med tid och position i {path} ({rows} rader, {dropped} utan position)",
            f"No incidents with time and position in {path} ({rows} rows, {dropped} without "
            "a position)",
        )
    try:
        if layout.projected:
            assert epsg is not None
            points = points_from_xy(times, xs, ys, epsg=epsg)
        else:
            points = points_from_latlon(times, ys, xs, epsg=epsg)
    except ValueError as exc:
        raise InputError(f"Ogiltiga koordinater: {exc}", f"Invalid coordinates: {exc}") from exc
    return Loaded(points, rows, dropped)


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(
            f"{option}: inte ett ISO-datum: {text!r} (t.ex. 2020-07-06)",
            f"{option}: not an ISO date: {text!r} (e.g. 2020-07-06)",
        ) from exc


def _method(text: str, cell_m: float) -> AnyMethod:
    try:
        method = parse_method(text)
    except ValueError as exc:
        raise InputError(f"Ogiltig metod: {exc}", f"Invalid method: {exc}") from exc
    # The position kernel only spreads into the adjacent cells, so σ must be small.
    limit = method.cell_size(cell_m) / 3
    if isinstance(method, Method) and method.kernel_m > limit:
        raise InputError(
            f"Ogiltig metod {text!r}: ks får vara högst en tredjedel av rutstorleken ({limit:g})",
            f"Invalid method {text!r}: ks must be at most a third of the cell size ({limit:g})",
        )
    return method


def _fail(exc: InputError) -> typer.Exit:
    err.print(f"[red]{escape(exc.sv)}[/red]\n[dim]{escape(exc.en)}[/dim]", highlight=False)
    return typer.Exit(2)


def _layout(
    time_column: str,
    time_columns: str | None,
    lat_column: str,
    lon_column: str,
    x_column: str | None,
    y_column: str | None,
    crs: str | None,
    tz: str,
) -> CsvLayout:
    cols = tuple(c.strip() for c in time_columns.split(",") if c.strip()) if time_columns else ()
    return CsvLayout(time_column, cols, lat_column, lon_column, x_column, y_column, crs, tz)


def _check_numbers(cell_m: float, area_fraction: float) -> None:
    if not cell_m > 0:
        raise InputError("--cell-m måste vara större än 0", "--cell-m must be greater than 0")
    if not 0 < area_fraction <= 1:
        raise InputError(
            "--area-fraction måste ligga i (0, 1], t.ex. 0.05",
            "--area-fraction must be in (0, 1], e.g. 0.05",
        )


_METHOD_HELP = (
    f"Metod: {', '.join([*METHODS, *POINT_FAMILIES])} eller parametrar som "
    "'hl=8,nw=0.125,ks=20,cell=125,shrink=1' (halveringstid i veckor, vikt per granncell, "
    "positionskärnans σ i meter, metodens egen rutstorlek i meter, krympning mot "
    "250-metersrutan). baseline (standard) = antal händelser senaste 52 veckorna per ruta av "
    "--cell-m; fine = samma antal på 83⅓ m-rutor. Punktmetoder: 'kde:h=20/40/80,cell=125' "
    "(kärntäthet; flera bandbredder väljs med korsvalidering på de senaste veckorna), "
    "'blend:alpha=0.2,nr=100,tau=14' (långsiktig täthet + nyliga upprepningar), "
    "'etas:trigger=cell|gauss,ts=50,bg=100' (självexciterande punktprocess, EM). Se "
    "docs/forecast.md."
)

IncidentsOpt = Annotated[
    Path,
    typer.Option("--incidents", help="CSV-fil (även .csv.gz) med en händelse per rad."),
]
TimeColumnOpt = Annotated[
    str, typer.Option("--time-column", help="Kolumn med tidpunkt (ISO 8601).")
]
TimeColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--time-columns",
        help="Tid ur separata kolumner, t.ex. YEAR,MONTH,DAY,HOUR,MINUTE (ersätter --time-column).",
    ),
]
LatOpt = Annotated[str, typer.Option("--lat-column", help="Kolumn med latitud (WGS84).")]
LonOpt = Annotated[str, typer.Option("--lon-column", help="Kolumn med longitud (WGS84).")]
XOpt = Annotated[
    str | None, typer.Option("--x-column", help="Kolumn med x i meter (kräver --crs).")
]
YOpt = Annotated[
    str | None, typer.Option("--y-column", help="Kolumn med y i meter (kräver --crs).")
]
CrsOpt = Annotated[
    str | None,
    typer.Option(
        "--crs",
        help="Metriskt koordinatsystem, t.ex. EPSG:3006 eller EPSG:32610. Med lat/lon: "
        "rutnätets system (standard SWEREF 99 TM i Sverige, annars UTM-zonen).",
    ),
]
TzOpt = Annotated[
    str,
    typer.Option("--tz", help="Tidszon som tider med zonangivelse räknas om till."),
]
CellOpt = Annotated[
    float,
    typer.Option(
        "--cell-m",
        help="Rutstorlek i meter för studieområdet och för metoder utan egen rutstorlek "
        "(baseline, decay, …). Standardmetoden fine väljer 83⅓ m-rutor inom samma studieområde.",
    ),
]
FractionOpt = Annotated[
    float,
    typer.Option("--area-fraction", help="Andel av studieområdet som prognosen täcker."),
]


def forecast_command(
    incidents: IncidentsOpt,
    until: Annotated[
        str,
        typer.Option(
            "--until",
            help="ISO-datum; prognosen gäller veckan som börjar då och bygger på allt före.",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="GeoJSON-fil (standard: stdout).")
    ] = None,
    method: Annotated[str, typer.Option("--method", help=_METHOD_HELP)] = DEFAULT_METHOD,
    time_column: TimeColumnOpt = "time",
    time_columns: TimeColumnsOpt = None,
    lat_column: LatOpt = "lat",
    lon_column: LonOpt = "lon",
    x_column: XOpt = None,
    y_column: YOpt = None,
    crs: CrsOpt = None,
    tz: TzOpt = "Europe/Stockholm",
    cell_m: CellOpt = DEFAULT_CELL_M,
    area_fraction: FractionOpt = DEFAULT_AREA_FRACTION,
) -> None:
    """Prognos för nästa vecka: de rutor med mest förväntad brottslighet, som GeoJSON."""
    try:
        _check_numbers(cell_m, area_fraction)
        cut = _parse_date(until, "--until")
        chosen = _method(method, cell_m)
        layout = _layout(
            time_column, time_columns, lat_column, lon_column, x_column, y_column, crs, tz
        )
        loaded = load_points(incidents, layout)
        try:
            result = forecast_details(
                loaded.points, cut, method=chosen, cell_m=cell_m, area_fraction=area_fraction
            )
        except ValueError as exc:
            raise InputError(
                f"Inga händelser före {cut} att bygga prognosen på",
                f"No incidents before {cut} to build the forecast from ({exc})",
            ) from exc
    except InputError as exc:
        raise _fail(exc) from exc
    collection = cells_to_geojson(
        result.cells,
        method=chosen.name,
        properties={
            "method_params": chosen.spec,
            "week_start": cut.isoformat(),
            "area_fraction": area_fraction,
            "cell_m": result.cell_m,
            "crs": f"EPSG:{result.epsg}",
            "study_area": f"{result.study_cell_m:g} m cells with at least one incident "
            "before week_start",
            "study_cell_m": result.study_cell_m,
            "study_area_km2": round(result.study_km2, 4),
            "chosen_area_km2": round(result.chosen_km2, 4),
            "training_incidents": result.training_incidents,
        },
    )
    text = json.dumps(collection, ensure_ascii=False)
    note = (
        f"{len(result.cells)} rutor à {result.cell_m:.4g} m ({result.area_share:.1%} av "
        f"studieområdet, {result.study_km2:.2f} km² = {result.study_cells} rutor à "
        f"{result.study_cell_m:g} m) för veckan från {cut}; metod {chosen.name}; "
        f"{result.training_incidents} händelser i underlaget, "
        f"{loaded.dropped_no_position} rader utan position hoppades över."
    )
    if out is None:
        sys.stdout.write(text + "\n")
        err.print(note, highlight=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"Skrev {out}: {note}", highlight=False)


def _num(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _gain_json(v: Versus) -> dict[str, Any]:
    return {
        "reference": v.reference,
        "mean_pai_gain": _num(v.gain.mean, 6),
        "se": _num(v.gain.se, 6),
        "weeks_better": v.gain.better,
        "weeks_worse": v.gain.worse,
        "hit_rate_ratio": _num(v.hit_ratio, 6),
    }


def _condition_json(
    results: list[WeekResult], names: list[str], own: dict[str, str]
) -> dict[str, Any]:
    """Weeks, means and the comparisons of one version of the positions."""
    summary = summarize(results)
    return {
        "weeks": [
            {
                "week": r.week,
                "start": r.start.isoformat(),
                "n_incidents": r.n_incidents,
                "methods": {
                    name: {
                        "hits": mw.hits,
                        "hit_rate": _num(mw.hit_rate, 6),
                        "pai": _num(mw.pai, 6),
                        "chosen_cells": mw.chosen_cells,
                        "study_cells": mw.study_cells,
                        "cell_m": mw.cell_m,
                        "chosen_km2": round(mw.chosen_km2, 6),
                        "study_km2": round(mw.study_km2, 6),
                    }
                    for name, mw in r.methods.items()
                },
            }
            for r in results
        ],
        "mean": {
            name: {
                "weeks": s.weeks,
                "mean_hit_rate": _num(s.mean_hit_rate, 6),
                "mean_pai": _num(s.mean_pai, 6),
                "pooled_hit_rate": _num(s.pooled_hit_rate, 6),
            }
            for name, s in summary.items()
        },
        "gain_vs_baseline": {
            name: _gain_json(versus(results, name, "baseline"))
            for name in names
            if name != "baseline"
        },
        "gain_vs_own_cell": {
            name: _gain_json(versus(results, name, own[name]))
            for name in names
            if own[name] != name
        },
    }


def _week_table(
    results: list[WeekResult], names: list[str], sizes: dict[str, float], title: str
) -> Table:
    summary = summarize(results)
    table = Table(title=title)
    table.add_column("Vecka")
    table.add_column("Händelser", justify="right")
    for name in names:
        table.add_column(f"Träff {name} ({sizes[name]:.4g} m)", justify="right")
        table.add_column(f"PAI {name}", justify="right")
    for r in results:
        cells = []
        for name in names:
            mw = r.methods[name]
            cells += ["–", "–"] if math.isnan(mw.pai) else [f"{mw.hit_rate:.1%}", f"{mw.pai:.2f}"]
        table.add_row(r.week, str(r.n_incidents), *cells)
    means = []
    for name in names:
        s = summary[name]
        means += (
            ["–", "–"]
            if math.isnan(s.mean_pai)
            else [f"{s.mean_hit_rate:.2%}", f"{s.mean_pai:.3f}"]
        )
    table.add_section()
    table.add_row("Medel", str(sum(r.n_incidents for r in results)), *means, style="bold")
    return table


def _versus_text(v: Versus) -> tuple[str, str]:
    g = v.gain
    if math.isnan(g.mean):
        return "–", "–"
    se = "–" if math.isnan(g.se) else f"{g.se:.3f}"
    return f"{g.mean:+.3f} ± {se} ({g.better}/{g.worse})", f"{v.hit_ratio:.3f}"


def evaluate_command(
    incidents: IncidentsOpt,
    from_: Annotated[
        str, typer.Option("--from", help="Första dag (ISO-datum); veckor vars måndag är ≥ den.")
    ],
    to: Annotated[str, typer.Option("--to", help="Slutdag (ISO-datum, ej inkluderad).")],
    methods: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            help=f"Metod att jämföra (kan upprepas); standard {', '.join(EVALUATE_METHODS)}. "
            "baseline (antal per ruta av --cell-m) och antalet på metodens egen rutstorlek "
            "visas alltid bredvid, på samma studieområde. " + _METHOD_HELP,
        ),
    ] = None,
    time_column: TimeColumnOpt = "time",
    time_columns: TimeColumnsOpt = None,
    lat_column: LatOpt = "lat",
    lon_column: LonOpt = "lon",
    x_column: XOpt = None,
    y_column: YOpt = None,
    crs: CrsOpt = None,
    tz: TzOpt = "Europe/Stockholm",
    cell_m: CellOpt = DEFAULT_CELL_M,
    area_fraction: FractionOpt = DEFAULT_AREA_FRACTION,
    jitter_m: Annotated[
        float,
        typer.Option(
            "--jitter-m",
            help="Flytta dessutom varje händelse slumpvis (normalfördelat, σ meter i x och y) "
            "och visa resultaten med och utan flytt sida vid sida; 40 motsvarar en "
            "mobiltelefons GPS i tätort. 0 = ingen flytt.",
        ),
    ] = 0.0,
    seed: Annotated[
        int, typer.Option("--seed", help="Slumpfrö för --jitter-m (samma frö, samma flytt).")
    ] = JITTER_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Maskinläsbar utdata (JSON).")] = False,
) -> None:
    """Utvärdera prognosen vecka för vecka: träffandel och PAI mot baslinjen (52 veckor)."""
    try:
        _check_numbers(cell_m, area_fraction)
        if not (math.isfinite(jitter_m) and 0 <= jitter_m <= 10_000):
            raise InputError(
                "--jitter-m måste vara ett tal i meter mellan 0 och 10000",
                "--jitter-m must be a number of metres between 0 and 10000",
            )
        start, end = _parse_date(from_, "--from"), _parse_date(to, "--to")
        if end <= start:
            raise InputError("--to måste vara efter --from", "--to must be after --from")
        given = methods or list(EVALUATE_METHODS)
        parsed = [_method(m, cell_m) for m in given]
        if len({m.name for m in parsed}) != len(parsed):
            raise InputError("Samma metod angiven två gånger", "The same method was given twice")
        try:
            full, own = with_references(parsed, cell_m)
        except ValueError as exc:
            raise InputError(
                f"Metodnamnen krockar med referenserna: {exc}",
                f"Method names clash with the references: {exc}",
            ) from exc
        layout = _layout(
            time_column, time_columns, lat_column, lon_column, x_column, y_column, crs, tz
        )
        loaded = load_points(incidents, layout)
    except InputError as exc:
        raise _fail(exc) from exc

    conditions: dict[str, Points] = {"som_de_är": loaded.points}
    if jitter_m:
        conditions["flyttade"] = jitter(loaded.points, jitter_m, seed)
    runs: dict[str, list[WeekResult]] = {}
    with Progress(
        TextColumn("Utvärderar veckor"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        for label, pts in conditions.items():
            task = progress.add_task(label, total=None)

            def report(done: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            runs[label] = evaluate(
                pts,
                start=start,
                end=end,
                area_fraction=area_fraction,
                methods=full,
                cell_m=cell_m,
                progress=report,
            )
    results = runs["som_de_är"]
    if not results:
        raise _fail(
            InputError(
                f"Ingen vecka (måndag) mellan {start} och {end}",
                f"No week (Monday) between {start} and {end}",
            )
        )
    names = [m.name for m in full]
    sizes = {m.name: m.cell_size(cell_m) for m in full}

    if as_json:
        payload: dict[str, Any] = {
            "area_fraction": area_fraction,
            "cell_m": cell_m,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "study_area": f"{cell_m:g} m cells with at least one incident before the week",
            "methods": {m.name: m.spec for m in full},
            "method_cell_m": sizes,
            "own_cell_reference": own,
            **_condition_json(results, names, own),
        }
        if jitter_m:
            payload["jittered"] = {
                "sigma_m": jitter_m,
                "seed": seed,
                **_condition_json(runs["flyttade"], names, own),
            }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return

    labels = {
        "som_de_är": "positioner som de är",
        "flyttade": f"positioner flyttade slumpvis, σ = {jitter_m:g} m, frö {seed}",
    }
    for label, res in runs.items():
        console.print(
            _week_table(
                res,
                names,
                sizes,
                f"Prognosutvärdering {start}–{end}, {area_fraction:.1%} av studieområdet "
                f"({cell_m:g} m-rutor med minst en händelse före veckan); {labels[label]}",
            )
        )
    console.print(
        "Jämförelse (PAI-vinst per vecka: medel ± medelfel, bättre/sämre veckor; kvot = "
        "metodens träffandel / referensens):",
        highlight=False,
    )
    for name in names:
        for label, res in runs.items():
            s = summarize(res)[name]
            if math.isnan(s.mean_pai):
                continue
            version = "som de är" if label == "som_de_är" else f"flyttade {jitter_m:g} m"
            parts = [f"träff {s.mean_hit_rate:.2%}, PAI {s.mean_pai:.3f}"]
            for reference in dict.fromkeys(["baseline", own[name]]):
                if reference == name:
                    continue
                gain, ratio = _versus_text(versus(res, name, reference))
                what = "baseline" if reference == "baseline" else f"egen rutstorlek ({reference})"
                parts.append(f"mot {what}: PAI {gain}, kvot {ratio}")
            console.print(f"  {name}, positioner {version}: " + "; ".join(parts), highlight=False)
    console.print(
        f"Studieområde: {cell_m:g} m-rutor med minst en händelse före veckan, samma för alla "
        "metoder; varje metod väljer rutor (av sin egen storlek, med mittpunkten i "
        "studieområdet) tills de täcker andelen av studieområdets km². PAI = träffandel / "
        f"(vald yta / studieområdets yta). {loaded.dropped_no_position} rader utan position "
        "hoppades över.",
        highlight=False,
    )
