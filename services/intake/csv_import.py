"""Weekly sheets from guard companies (CSV or .xlsx) to reports on the stream.

Columns are found by header: a default Swedish mapping (`DEFAULT_HEADERS`), overridden
per field with `--map field=Rubrik`. Spreadsheet habits are forgiven: semicolons,
Windows-1252 (or UTF-16 with a byte order mark), decimal commas, kommunkod 580 for 0580,
category and source labels instead of codes, local times without a zone (read as Swedish
time), date and time in two columns. Every row is validated as the ingest will; rejected
rows are listed with their row number (as the spreadsheet shows it) and written to
`FILE.avvisade.csv`.

A file that cannot be read whole is refused before anything is sent, naming the line:
bytes undefined in Windows-1252 (0x81, 0x8D, 0x8F, 0x90, 0x9D), NUL bytes (UTF-16 without
a byte order mark), more than `MAX_ROWS` rows or `MAX_COLUMNS` columns, over
`MAX_FILE_BYTES`. An .xlsx is streamed, whatever dimension it declares.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from shared.access import Caller
from shared.categories import SOURCE_LABELS
from shared.csv_safety import safe_row
from shared.validation import Rejection, ValidReport
from shared.weeks import STOCKHOLM

# field -> accepted headers (compared case-insensitively, spaces trimmed)
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "report_id": ("rapport-id", "rapportid", "id", "ärendenummer", "löpnummer"),
    "occurred_at": ("tidpunkt", "datum och tid", "händelsetid"),
    "date": ("datum",),
    "time": ("tid", "klockslag"),
    "category": ("kategori", "händelsetyp", "typ"),
    "lat": ("lat", "latitud"),
    "lon": ("lon", "long", "longitud"),
    "description": ("beskrivning", "händelse", "kommentar", "fritext"),
    "source": ("källa", "rapportör", "roll"),
    "kommun": ("kommun", "kommunkod"),
    "location_precision": ("precision", "platsnoggrannhet"),
}
FIELDS = tuple(DEFAULT_HEADERS)
_TIME_FORMATS = ("%Y-%m-%d %H.%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y%m%d %H%M")


class SheetError(ValueError):
    """A file or mapping that cannot be imported at all, in Swedish."""


@dataclass(frozen=True)
class RejectedRow:
    row: int
    code: str
    message_sv: str
    message_en: str
    field: str | None
    values: dict[str, Any]


@dataclass
class ImportResult:
    headers: list[str]
    accepted: list[tuple[int, ValidReport]] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.rejected)

    def lines(self) -> list[bytes]:
        """The accepted reports as JSON lines for `submit_lines`."""
        return [v.report.model_dump_json().encode() for _, v in self.accepted]


# --- reading -----------------------------------------------------------------------

# A weekly sheet has hundreds of rows; these bound what a wrong or hostile file can cost.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000  # data rows, the header not counted
MAX_COLUMNS = 200
# Windows-1252 leaves these bytes undefined: a file holding them is in some other encoding.
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """Headers and (row number, values) of the first sheet or the CSV file. A file that
    cannot be read whole and right is refused (SheetError), never half-read."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SheetError(
            f"{path.name} är för stor ({size // (1024 * 1024)} MB, högst "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB). Dela upp filen."
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    return _csv_rows(path)


def decode_text(raw: bytes) -> str:
    """The file's text: a byte order mark decides (UTF-8, UTF-16, UTF-32), else UTF-8,
    else Windows-1252 (what Excel on Windows saves as "CSV"). Bytes that are none of these
    are refused with the line they are on, never replaced: nothing may be lost."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _undecodable(raw, exc, encoding.upper()) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise _undecodable(raw, exc) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SheetError(
            f"Rad {line}: filen innehåller NUL-tecken (byte 0x00); den är troligen sparad som "
            "UTF-16 utan byte order mark. Spara filen som UTF-8."
        )
    return text


def _undecodable(raw: bytes, exc: UnicodeDecodeError, encoding: str = "") -> SheetError:
    line = raw.count(b"\n", 0, exc.start) + 1
    byte = raw[exc.start]
    which = f" i {encoding}" if encoding else ""
    return SheetError(
        f"Rad {line}: tecken som inte kan läsas{which} (byte {byte:#04x}). Spara filen som UTF-8."
    )


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    text = decode_text(path.read_bytes())
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if len(rows) > MAX_ROWS:
                raise _too_many_rows(path)
            rows.append(row)
    except csv.Error as exc:  # e.g. a cell longer than the csv module allows
        raise SheetError(f"Rad {reader.line_num}: raden kan inte läsas ({exc}).") from None
    if not rows:
        raise SheetError(f"{path.name} är tom.")
    headers = rows[0]
    while headers and not headers[-1].strip():
        headers = headers[:-1]  # Excel's trailing separators
    if len(headers) > MAX_COLUMNS:
        raise _too_many_columns(path)
    return rows[0], ((i, r) for i, r in enumerate(rows[1:], start=2))


def _too_many_rows(path: Path) -> SheetError:
    return SheetError(f"{path.name} har fler än {MAX_ROWS} rader. Dela upp filen.")


def _too_many_columns(path: Path) -> SheetError:
    return SheetError(f"{path.name} har fler än {MAX_COLUMNS} kolumner med rubrik.")


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """Streamed (read-only mode), bounded by MAX_ROWS and MAX_COLUMNS whatever the sheet's
    declared dimension says: a sheet may claim A1:XFD1048576, and openpyxl would pad every
    row to that width and fill every missing row up to the last one."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors
        raise SheetError(f"{path.name} kan inte läsas som Excel-fil ({exc}).") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # ignore the declared dimension; read what is there
        rows = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        first = next(rows, None)
        if first is None:
            raise SheetError(f"{path.name} är tom.")
        headers = ["" if h is None else str(h) for h in first]
        while headers and not headers[-1].strip():
            headers.pop()
        if len(headers) > MAX_COLUMNS:
            raise _too_many_columns(path)
        width = len(headers)
        data: list[list[Any]] = []
        for values in rows:
            if len(data) >= MAX_ROWS:
                raise _too_many_rows(path)
            row = list(values[:width])
            data.append(row if any(v is not None and v != "" for v in row) else [])
    finally:
        book.close()
    return headers, ((i, r) for i, r in enumerate(data, start=2))


# --- mapping -----------------------------------------------------------------------


def parse_mapping(items: list[str]) -> dict[str, str]:
    """`["occurred_at=Tidpunkt", …]` -> {"occurred_at": "Tidpunkt"}."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, header = item.partition("=")
        name = name.strip()
        if not sep or name not in FIELDS or not header.strip():
            raise SheetError(
                f"Ogiltig --map {item!r}: skriv fält=Rubrik med ett av fälten {', '.join(FIELDS)}."
            )
        mapping[name] = header.strip()
    return mapping


def column_index(headers: list[str], overrides: Mapping[str, str]) -> dict[str, int]:
    """field -> column number, from the overrides and the default Swedish headers."""
    folded = {h.strip().casefold(): i for i, h in enumerate(headers) if h and h.strip()}
    found: dict[str, int] = {}
    for name in FIELDS:
        if name in overrides:
            wanted = overrides[name].strip().casefold()
            if wanted not in folded:
                raise SheetError(
                    f"Kolumnen {overrides[name]!r} (för {name}) finns inte; "
                    f"rubrikerna är: {', '.join(h for h in headers if h)}."
                )
            found[name] = folded[wanted]
            continue
        for candidate in DEFAULT_HEADERS[name]:
            if candidate in folded:
                found[name] = folded[candidate]
                break
    if "occurred_at" not in found and "date" not in found:
        raise SheetError("Hittar ingen kolumn för tidpunkt; ange --map occurred_at=Rubrik.")
    return found


# --- one row -----------------------------------------------------------------------


def row_payload(
    values: list[Any],
    columns: Mapping[str, int],
    caller: Caller,
    categories: Mapping[str, str],
) -> dict[str, Any]:
    cell = {name: _cell(values, i) for name, i in columns.items()}
    payload: dict[str, Any] = {
        "report_id": _text(cell.get("report_id")) or _row_id(caller.organisation, values),
        "kommun": _kommun(cell.get("kommun")) or caller.kommun,
        "source": _code(cell.get("source"), _SOURCE_BY_LABEL) or _default_source(caller),
        "category": _code(cell.get("category"), _labels(categories)),
        "occurred_at": _when(cell.get("occurred_at"), cell.get("date"), cell.get("time")),
        "lat": _number(cell.get("lat")),
        "lon": _number(cell.get("lon")),
        "description": _text(cell.get("description")),
    }
    precision = _text(cell.get("location_precision"))
    if precision:
        payload["location_precision"] = precision.lower()
    return {k: v for k, v in payload.items() if v not in (None, "") or k == "description"}


def _cell(values: list[Any], index: int) -> Any:
    return values[index] if index < len(values) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel's 1234.0 is the id 1234
    return str(value).strip()


def _row_id(organisation: str, values: list[Any]) -> str:
    # Without an id column, the row's content is its id: importing the same sheet again
    # adds nothing, as with any other resubmission.
    digest = hashlib.sha256(json.dumps([organisation, *map(_text, values)]).encode()).hexdigest()
    return f"csv-{digest[:24]}"


def _kommun(value: Any) -> str:
    text = _text(value)
    return text.zfill(4) if text.isdigit() and len(text) < 4 else text  # Excel drops the 0


_SOURCE_BY_LABEL = {label.casefold(): code.value for code, label in SOURCE_LABELS.items()}


def _labels(categories: Mapping[str, str]) -> dict[str, str]:
    return {label.casefold(): code for code, label in categories.items()}


def _code(value: Any, by_label: Mapping[str, str]) -> str:
    text = _text(value)
    return by_label.get(text.casefold(), text)


def _default_source(caller: Caller) -> str | None:
    return caller.sources[0] if len(caller.sources) == 1 else None


def _number(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    text = str(value).strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return text or None  # validation names the bad value


def _when(moment: Any, day: Any, clock: Any) -> Any:
    if moment is None and day is not None:
        moment = _combine(day, clock)
    if isinstance(moment, datetime):
        return _aware(moment).isoformat()
    text = _text(moment)
    if not text:
        return None
    parsed = _parse_time(text)
    return _aware(parsed).isoformat() if parsed else text


def _combine(day: Any, clock: Any) -> Any:
    if isinstance(day, datetime):
        day = day.date()
    if isinstance(day, date) and isinstance(clock, time):
        return datetime.combine(day, clock)
    return f"{day} {_text(clock) or '00:00'}".strip()


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _aware(moment: datetime) -> datetime:
    # A sheet's times are Swedish wall-clock times unless they say otherwise.
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


# --- the whole file ----------------------------------------------------------------

Validate = Callable[[dict[str, Any]], ValidReport | Rejection]


def check_file(
    path: Path,
    caller: Caller,
    categories: Mapping[str, str],
    validate: Validate,
    overrides: Mapping[str, str] | None = None,
    on_row: Callable[[], None] | None = None,
) -> ImportResult:
    headers, rows = read_rows(path)
    columns = column_index(headers, overrides or {})
    if "source" not in columns and len(caller.sources) != 1:
        raise SheetError(
            "Arket har ingen kolumn för källa och organisationen har flera tillåtna källor "
            f"({', '.join(caller.sources)}): ange --source eller --map source=Rubrik."
        )
    result = ImportResult(headers=headers)
    for number, values in rows:
        if all(_text(v) == "" for v in values):
            continue  # blank lines between weeks are common
        payload = row_payload(values, columns, caller, categories)
        outcome = _access(caller, payload) or validate(payload)
        if isinstance(outcome, Rejection):
            shown = {h: _text(v) for h, v in zip(headers, values, strict=False)}
            result.rejected.append(
                RejectedRow(
                    number,
                    outcome.code,
                    outcome.message_sv,
                    outcome.message_en,
                    outcome.field,
                    shown,
                )
            )
        else:
            result.accepted.append((number, outcome))
        if on_row:
            on_row()
    return result


def count_rows(path: Path) -> int:
    _, rows = read_rows(path)
    return sum(1 for _ in rows)


def _access(caller: Caller, payload: Mapping[str, Any]) -> Rejection | None:
    """The same refusals the HTTP intake answers with 403, as row rejections."""
    if payload.get("kommun") != caller.kommun:
        k = payload.get("kommun")
        return Rejection(
            "kommun_not_allowed",
            f"Organisationen rapporterar för kommun {caller.kommun}, inte {k!r}.",
            f"The organisation reports for kommun {caller.kommun}, not {k!r}.",
            "kommun",
        )
    source = payload.get("source")
    if source is not None and source not in caller.sources:
        allowed = ", ".join(caller.sources)
        return Rejection(
            "source_not_allowed",
            f"Källan {source!r} är inte tillåten för organisationen; tillåtna: {allowed}.",
            f"The source {source!r} is not allowed for the organisation; allowed: {allowed}.",
            "source",
        )
    return None


def rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.avvisade.csv")


def write_rejects(path: Path, result: ImportResult) -> Path | None:
    """`FILE.avvisade.csv` beside the input (semicolons, BOM: opens right in Excel);
    removed when nothing was rejected, so an old one cannot mislead. Every cell, the
    sheet's own headers too, is neutralised against formula injection (shared/csv_safety)."""
    target = rejects_path(path)
    if not result.rejected:
        target.unlink(missing_ok=True)
        return None
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(safe_row(["Rad", "Kod", "Fält", "Orsak", *result.headers]))
        for r in result.rejected:
            row = [r.values.get(h, "") for h in result.headers]
            writer.writerow(safe_row([r.row, r.code, r.field or "", r.message_sv, *row]))
    return target
