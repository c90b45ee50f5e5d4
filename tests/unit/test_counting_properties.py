"""One set of numbers, as a property (issue #14): for generated weeks — random reports,
likely duplicates (of reports this week and of earlier ones), points and centroids, gaps
in the history, a first day of data and reporters that start late, late reports that make
a second revision — every published artefact shows the counts the reports themselves give,
and a comparison is shown only when the week before was fully covered.

Each example builds the snapshot with the aggregate's own pure builder, publishes both
revisions with the maps service's own publisher into a temporary folder, and parses every
file back (tests/support/artefacts.py, the same parsers as the demo test)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.aggregate.logic import Incident
from services.aggregate.snapshot import WeekInputs, build_snapshot
from services.maps.publish import PUBLIC_DIR, publish_week
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import WeekSnapshotV1
from shared.formats import week_days
from shared.weeks import STOCKHOLM, shift_week
from tests.support.artefacts import (
    Seen,
    Truth,
    area_fills,
    check,
    counts_csv_seen,
    excel_csv_seen,
    geojson_seen,
    index_totals,
    machine_csv_seen,
    map_points,
    map_seen,
    pack_seen,
    summary_seen,
)
from tests.support.snapshots import EAST, NORTH, SOUTH, WEEK_START, WEST, make_areas

pytestmark = pytest.mark.slow

WEEK, PREVIOUS = "2026-W47", "2026-W46"
CATEGORIES = ("klotter", "skadegorelse", "ordningsstorning", "stold", "brand")
ORGANISATIONS = ("Securitas", "Fältgruppen", "Polisen", "Nattvandrarna")
KOMMUN = make_areas()


@dataclass(frozen=True)
class Drawn:
    incidents: list[Incident]  # this week, in arrival order
    previous: list[Incident]
    history: dict[str, Counter[tuple[str, str]]]
    data_from: date | None
    reporters_from: dict[str, date]
    on_time: int  # reports in the first revision; the rest arrive late
    late_goes_public: bool


def local_day(i: Incident) -> date:
    return i.occurred_at.astimezone(STOCKHOLM).date()


def _report(draw: st.DrawFn, key: str, week_start_hours: float, earlier: list[str]) -> Incident:
    lat = draw(st.floats(SOUTH + 1e-4, NORTH - 1e-4))
    lon = draw(st.floats(WEST + 1e-4, EAST - 1e-4))
    duplicate_of = None
    if draw(st.integers(0, 4)) == 0:  # about one in five is a likely duplicate
        duplicate_of = draw(st.sampled_from([*earlier, "Äldre/rapport-1"]))
    return Incident(
        key=key,
        area=KOMMUN.area_of(lat, lon),
        category=draw(st.sampled_from(CATEGORIES)),
        source="vaktare",
        occurred_at=WEEK_START + timedelta(hours=week_start_hours + draw(st.floats(0, 167.5))),
        lat=lat,
        lon=lon,
        location_precision=draw(st.sampled_from(["exact", "exact", "exact", "centroid"])),
        description="",
        duplicate_of=duplicate_of,
    )


@st.composite
def weeks(draw: st.DrawFn) -> Drawn:
    incidents: list[Incident] = []
    for k in range(draw(st.integers(0, 30))):
        org = draw(st.sampled_from(ORGANISATIONS))
        incidents.append(_report(draw, f"{org}/r{k}", 0, [i.key for i in incidents]))
    previous: list[Incident] = []
    for k in range(draw(st.integers(0, 12))):
        previous.append(_report(draw, f"Securitas/p{k}", -7 * 24, [i.key for i in previous]))
    history: dict[str, Counter[tuple[str, str]]] = {}
    counted_before = Counter((i.area, i.category) for i in previous if i.duplicate_of is None)
    if counted_before:  # the week before has counts (else it is a gap: no data that week)
        history[PREVIOUS] = counted_before
    for back in range(2, 14):  # older weeks, some missing (gaps)
        if draw(st.booleans()):
            history[shift_week(WEEK, -back)] = Counter(
                {("Centrum", "klotter"): draw(st.integers(0, 6)), ("Norr", "stold"): 1}
            )
    # The kommun's first day with data is on or before its first report (the builder reads
    # it from the stored reports); a reporter is registered before its first report.
    monday, _ = week_days(WEEK)
    first_days = [local_day(i) for i in [*previous, *incidents]]
    first_days += [week_days(w)[0] for w in history]
    data_from = None
    if first_days:
        earliest = min(first_days)
        data_from = draw(st.dates(earliest - timedelta(weeks=3), earliest))
    reporters_from = {}
    for org in draw(st.sets(st.sampled_from(ORGANISATIONS), max_size=2)):
        own = [local_day(i) for i in [*previous, *incidents] if i.key.startswith(f"{org}/")]
        latest = min(own, default=monday + timedelta(days=6))
        reporters_from[org] = draw(st.dates(latest - timedelta(weeks=3), latest))
    return Drawn(
        incidents=incidents,
        previous=previous,
        history=history,
        data_from=data_from,
        reporters_from=reporters_from,
        on_time=draw(st.integers(0, len(incidents))),
        late_goes_public=draw(st.booleans()),
    )


def build(drawn: Drawn, incidents: list[Incident], revision: int) -> WeekSnapshotV1:
    inputs = WeekInputs(
        iso_week=WEEK,
        incidents=incidents,
        previous_incidents=drawn.previous,
        history=drawn.history,
        data_from=drawn.data_from,
        reporters_from=drawn.reporters_from,
    )
    return build_snapshot(
        kommun=KOMMUN,
        categories=DEFAULT_CATEGORIES,
        inputs=inputs,
        revision=revision,
        built_at=WEEK_START + timedelta(days=7, hours=6 + revision),
    )


def truth_of(incidents: list[Incident]) -> Truth:
    return Truth.of([(i.area, i.category, i.duplicate_of is not None) for i in incidents])


def check_restricted(folder: Path, truth: Truth, index_total: int | str) -> dict:
    summary = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
    labels = {c["label"]: c["category"] for c in summary["categories"]}
    page = (folder / "karta.html").read_text("utf-8")
    seen = [summary_seen(summary), *map_seen(page, labels)]
    seen += pack_seen((folder / "motesunderlag.html").read_text("utf-8"), labels)
    excel, rows, dups = excel_csv_seen((folder / "export.csv").read_bytes())
    assert (rows, dups) == (truth.reports, truth.duplicates)
    machine, rows, dups = machine_csv_seen((folder / "export-rfc4180.csv").read_bytes())
    assert (rows, dups) == (truth.reports, truth.duplicates)
    seen += [excel, machine, counts_csv_seen((folder / "export-omraden.csv").read_bytes())]
    seen += list(geojson_seen((folder / "export.geojson").read_text("utf-8")))
    seen.append(Seen("index", total=index_total))
    for s in seen:
        check(s, truth)
    with_point = {c["category"]: c["with_point"] for c in summary["categories"] if c["with_point"]}
    points = map_points(page)
    assert {c: n for c, n in points.items() if c != "dubblett"} == with_point
    assert (summary["reports"], summary["duplicates_linked"]) == (truth.reports, truth.duplicates)
    return summary


def check_public(folder: Path, truth: Truth, restricted: Path, index_total: int | str) -> None:
    summary = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
    labels = {c["label"]: c["category"] for c in summary["categories"]}
    page = (folder / "karta.html").read_text("utf-8")
    seen = [summary_seen(summary), *map_seen(page, labels, public=True)]
    seen += pack_seen((folder / "motesunderlag.html").read_text("utf-8"), labels, public=True)
    seen.append(Seen("offentligt index", total=index_total))
    for s in seen:
        check(s, truth, public=True, complete=False)
    shown = {a["area"]: a["total"] for a in summary["areas"]}
    full_fill = area_fills((restricted / "karta.html").read_text("utf-8"))
    for area, fill in area_fills(page).items():
        if isinstance(shown.get(area), int):
            assert fill == full_fill[area], area


def check_comparison(summary: dict, drawn: Drawn) -> None:
    """The week before is compared only when it was fully covered, and then with its own
    counts; the means cover only complete weeks and say how many."""
    previous_monday, _ = week_days(PREVIOUS)
    starts = [drawn.data_from] if drawn.data_from else []
    reporting = {i.key.split("/")[0] for i in summary_incidents(drawn, summary)}
    starts += [
        d
        for org, d in drawn.reporters_from.items()
        if org in reporting and (drawn.data_from is None or d > drawn.data_from)
    ]
    # a week before without any data is a gap (the statistics know it: a cell's previous is
    # None); with no statistics at all (nothing this week or in the history) it reads as 0
    gap = PREVIOUS not in drawn.history and bool(summary["cells"])
    covered = all(start <= previous_monday for start in starts) and not gap
    if covered:
        expected = sum(1 for i in drawn.previous if i.duplicate_of is None)
        assert summary["previous_total"] == expected
        assert summary["comparison"]["reason"] is None
    else:
        assert summary["previous_total"] is None and summary["change"] is None
        assert summary["comparison"]["reason"].startswith("jämförelse saknas: ")
    start = max(starts, default=None)
    weeks = [
        w
        for w in (shift_week(WEEK, -k) for k in range(1, 53))
        if w in drawn.history and (start is None or week_days(w)[0] >= start)
    ]
    comparison = summary["comparison"]
    if summary["cells"] or weeks:
        assert comparison["long_weeks"] == len(weeks)
        assert comparison["short_weeks"] == len([w for w in weeks if w >= shift_week(WEEK, -8)])
    assert comparison["short_label"] == f"snitt {comparison['short_weeks']} v"


def summary_incidents(drawn: Drawn, summary: dict) -> list[Incident]:
    return drawn.incidents if summary["revision"] == 2 else drawn.incidents[: drawn.on_time]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(weeks())
def test_every_artefact_of_a_generated_week_tells_the_same_story(drawn: Drawn) -> None:
    first, second = drawn.incidents[: drawn.on_time], drawn.incidents
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        publish_week(out, build(drawn, first, 1), KOMMUN, tiles=None)
        # the late reports: a new revision; its public version may wait for the weekly build
        publish_week(
            out, build(drawn, second, 2), KOMMUN, tiles=None, public=drawn.late_goes_public
        )
        folder, public = out / "0580" / WEEK, out / PUBLIC_DIR / "0580" / WEEK
        restricted_index = index_totals((out / "index.html").read_text("utf-8"))
        public_index = index_totals((out / PUBLIC_DIR / "index.html").read_text("utf-8"))
        newest = check_restricted(folder, truth_of(second), restricted_index[("0580", WEEK)])
        earlier = check_restricted(folder / "r1", truth_of(first), truth_of(first).total)
        assert (newest["revision"], earlier["revision"]) == (2, 1)
        check_comparison(newest, drawn)
        check_comparison(earlier, drawn)
        # the public tree shows the newest revision it was given (the same revision's
        # restricted map has the same colour classes)
        shown_truth = truth_of(second if drawn.late_goes_public else first)
        same = folder if drawn.late_goes_public else folder / "r1"
        check_public(public, shown_truth, same, public_index[("0580", WEEK)])
        check_public(public / "r1", truth_of(first), folder / "r1", truth_of(first).total)
