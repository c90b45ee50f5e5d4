"""The counting rule: what a week's numbers count, and the words for it. Defined once.

Three words, used the same way on every page, export and command:

- **rapport** (report): everything a reporter sent and the ingest stored, likely
  duplicates included. "216 rapporter" is what arrived.
- **trolig dubblett** (likely duplicate): a report the ingest linked to an earlier one
  (same category, close in time and place; `AcceptedReportV1.duplicate_of`). It stays
  visible where that helps (flagged, with what it repeats) but is never counted.
- **händelse** (counted report): a report that is not a likely duplicate. Every number
  of the lägesbild — totals, areas, categories, hotspots, means, rises, the public
  version, the exports' counts, the TiB — is a number of händelser.

So a week reads "208 händelser (216 rapporter, varav 8 troliga dubbletter)".

Comparisons claim only what the data holds (`Comparison`): a week is compared with the
week before only when that week was fully covered (after the kommun's first report and
after every organisation reporting this week had started), the means say how many weeks
they cover ("snitt 5 v"), and a missing comparison says why ("jämförelse saknas: data
från 19 okt").

Pure: no I/O. The aggregate counts with `cell_counts`; the maps, the TiB and the CLI
read a frozen week through `week_numbers` and `comparison`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from shared.contracts import IncidentPoint, WeekSnapshotV1
from shared.formats import date_sv, decimal_sv, number_sv, week_days
from shared.weeks import shift_week


@dataclass(frozen=True)
class Term:
    """A counted word: its singular, plural and what it means (for the pages' glossary)."""

    singular: str
    plural: str
    meaning: str

    def of(self, n: int | str) -> str:
        """ "1 händelse", "208 händelser", "1 234 rapporter"; a public "<3" or "≥3" as
        shown: "<3 händelser"."""
        if isinstance(n, str):
            return f"{n} {self.plural}"
        return f"{number_sv(n)} {self.singular if n == 1 else self.plural}"


RAPPORT = Term(
    "rapport",
    "rapporter",
    "allt som rapportörerna skickat in och som tagits emot, troliga dubbletter inräknade",
)
HANDELSE = Term(
    "händelse",
    "händelser",
    "en rapport som räknas: alla rapporter utom troliga dubbletter; alla antal i "
    "lägesbilden (summor, områden, kategorier, hotspots, snitt, ökningar) är händelser",
)
DUBBLETT = Term(
    "trolig dubblett",
    "troliga dubbletter",
    "en rapport av samma kategori nära en tidigare i tid och rum; den visas, märkt med "
    "vilken rapport den liknar, men räknas inte",
)
TERMS = (HANDELSE, RAPPORT, DUBBLETT)


def glossary() -> dict[str, str]:
    """The words and their meaning, as the summary JSON and the pages carry them."""
    return {t.singular: t.meaning for t in TERMS}


def week_phrase(counted: int, reports: int | None, duplicates: int) -> str:
    """ "208 händelser (216 rapporter, varav 8 troliga dubbletter)"; without duplicates just
    "208 händelser"."""
    text = HANDELSE.of(counted)
    if duplicates and reports is not None:
        text += f" ({RAPPORT.of(reports)}, varav {DUBBLETT.of(duplicates)})"
    elif duplicates:
        text += f" (och {DUBBLETT.of(duplicates)})"
    return text


# --- the rule -------------------------------------------------------------------------


class _Report(Protocol):
    @property
    def duplicate_of(self) -> str | None: ...


class _Placed(_Report, Protocol):
    @property
    def area(self) -> str: ...

    @property
    def category(self) -> str: ...


def is_duplicate(report: _Report) -> bool:
    """A likely duplicate: linked by the ingest to an earlier report."""
    return report.duplicate_of is not None


def is_counted(report: _Report) -> bool:
    """A händelse: every report that is not a likely duplicate."""
    return report.duplicate_of is None


def cell_counts(reports: Iterable[_Placed]) -> Counter[tuple[str, str]]:
    """(area, category) -> händelser. The one place the aggregate's counts come from."""
    return Counter((r.area, r.category) for r in reports if is_counted(r))


def has_point(incident: IncidentPoint) -> bool:
    """Drawn as a point on the map: an exact position (not an administrative centroid)."""
    return incident.location_precision == "exact"


# --- a frozen week's numbers -----------------------------------------------------------


def area_order(snapshot: WeekSnapshotV1) -> list[str]:
    """The kommun's areas, then any other area a count names, alphabetically."""
    extra = {c.area for c in snapshot.cells} - set(snapshot.areas)
    return list(dict.fromkeys(snapshot.areas)) + sorted(extra)


def category_order(snapshot: WeekSnapshotV1) -> list[str]:
    """The snapshot's catalogue order, then codes it does not list, alphabetically."""
    seen = {c.category for c in snapshot.cells} | {i.category for i in snapshot.incidents}
    return list(snapshot.categories) + sorted(seen - set(snapshot.categories))


@dataclass(frozen=True)
class Pair:
    """This week's händelser and last week's (None: no fair comparison, see `Comparison`)."""

    count: int
    previous: int | None

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.count - self.previous


@dataclass(frozen=True)
class WeekNumbers:
    """Every count of a frozen week, derived from its `cells` (händelser) and its
    `incidents` (reports, with their duplicate links)."""

    total: Pair
    areas: dict[str, Pair]
    categories: dict[str, Pair]
    cells: dict[tuple[str, str], Pair]
    reports: int | None  # received, duplicates included; None once the points were purged
    duplicates: int
    duplicates_by_cell: dict[tuple[str, str], int] = field(default_factory=dict)
    # händelser drawn as points, per category; and those without a point (kommun level)
    with_point: dict[str, int] = field(default_factory=dict)
    without_point: int = 0

    def phrase(self) -> str:
        return week_phrase(self.total.count, self.reports, self.duplicates)


def week_numbers(snapshot: WeekSnapshotV1) -> WeekNumbers:
    """The week's numbers through the counting rule. Last week's only where `comparison`
    says the week before was fully covered."""
    comparable = comparison(snapshot).previous
    now: Counter[tuple[str, str]] = Counter()
    before: Counter[tuple[str, str]] = Counter()
    for c in snapshot.cells:
        now[(c.area, c.category)] += c.count
        before[(c.area, c.category)] += c.previous
    areas, codes = area_order(snapshot), category_order(snapshot)

    def pair(count: int, previous: int) -> Pair:
        return Pair(count, previous if comparable else None)

    duplicates = [i for i in snapshot.incidents if is_duplicate(i)]
    counted = [i for i in snapshot.incidents if is_counted(i)]
    with_point = Counter(i.category for i in counted if has_point(i))
    return WeekNumbers(
        total=pair(sum(now.values()), sum(before.values())),
        areas={
            a: pair(sum(now[(a, c)] for c in codes), sum(before[(a, c)] for c in codes))
            for a in areas
        },
        categories={
            c: pair(sum(now[(a, c)] for a in areas), sum(before[(a, c)] for a in areas))
            for c in codes
        },
        cells={key: pair(now[key], before[key]) for key in sorted(set(now) | set(before))},
        reports=None if snapshot.incidents_purged else len(snapshot.incidents),
        duplicates=len(duplicates) if duplicates else snapshot.duplicates_linked,
        duplicates_by_cell=dict(Counter((i.area, i.category) for i in duplicates)),
        with_point=dict(with_point),
        without_point=sum(1 for i in counted if not has_point(i)),
    )


# --- what may be compared ---------------------------------------------------------------


def first_complete_week(start: date) -> str:
    """The first ISO week whose Monday is on or after `start`: fully covered from then."""
    year, week, weekday = start.isocalendar()
    first = f"{year}-W{week:02d}"
    return first if weekday == 1 else shift_week(first, 1)


def coverage_start(
    data_from: date | None, reporters_from: Mapping[str, date]
) -> tuple[date | None, str | None]:
    """From when the week's reporting is complete: the kommun's first day with data, or a
    later day on which an organisation reporting this week started. Returns the day and the
    organisation that set it (None: the kommun's first data)."""
    start, who = data_from, None
    for organisation, day in sorted(reporters_from.items()):
        if start is None or day > start:
            start, who = day, organisation
    return start, who


def missing_reason(start: date, organisation: str | None = None, *, public: bool = False) -> str:
    """Why a comparison is left out: "jämförelse saknas: data från 19 okt"."""
    if organisation is None:
        return f"jämförelse saknas: data från {date_sv(start)}"
    who = "en ny rapportör" if public else organisation
    return f"jämförelse saknas: {who} rapporterar från {date_sv(start)}"


def mean_label(weeks: int) -> str:
    """ "snitt 5 v": a mean labelled with the weeks it really covers."""
    return f"snitt {weeks} v"


@dataclass(frozen=True)
class Comparison:
    """What the week may be compared with.

    `previous`: the week before was fully covered (else `reason` says why not, and
    `public_reason` without organisation names). `short_weeks` / `long_weeks`: the weeks
    the two means really cover (the statistics' 8- and 52-week windows, cut to the weeks
    with complete data)."""

    previous: bool
    reason: str | None
    public_reason: str | None
    complete_from: date | None
    short_weeks: int
    long_weeks: int

    @property
    def one_mean(self) -> bool:
        """Both means cover the same weeks: one number, not two that look different."""
        return self.short_weeks == self.long_weeks

    def labels(self) -> tuple[str, str]:
        return mean_label(self.short_weeks), mean_label(self.long_weeks)


def _mean_weeks(snapshot: WeekSnapshotV1) -> tuple[int, int]:
    long = max((s.baseline_weeks for s in snapshot.stats), default=0)
    shorts = [s.mean_8_weeks for s in snapshot.stats if s.mean_8_weeks is not None]
    short = max(shorts) if shorts else min(long, 8)  # snapshots before mean_8_weeks existed
    return short, long


def comparison(snapshot: WeekSnapshotV1) -> Comparison:
    start, who = coverage_start(snapshot.data_from, snapshot.reporters_from)
    short, long = _mean_weeks(snapshot)
    previous_monday, _ = week_days(snapshot.previous_week)
    if start is not None and previous_monday < start:
        return Comparison(
            False, missing_reason(start, who), missing_reason(start, who, public=True), start,
            short, long,
        )  # fmt: skip
    if any(s.previous is None for s in snapshot.stats):
        _, week = snapshot.previous_week.split("-W")
        text = f"jämförelse saknas: inga rapporter vecka {int(week)}"
        return Comparison(False, text, text, start, short, long)
    return Comparison(True, None, None, start, short, long)


def mean_total(snapshot: WeekSnapshotV1) -> float | None:
    """The short mean of the whole week (the sum of the cells' means), None without one."""
    means = [s.mean_8 for s in snapshot.stats if s.mean_8 is not None]
    return round(sum(means), 2) if means else None


def mean_text(value: float | None) -> str:
    return "–" if value is None else decimal_sv(value)
