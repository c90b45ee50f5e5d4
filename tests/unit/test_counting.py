"""The counting rule and the human formats (shared/counting.py, shared/formats.py), and how
the artefacts use them: duplicates visible but never counted, comparisons that say what
they cover, one colour scale for both maps, exports for Swedish Excel and for programs,
and the summary's published schema."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import jsonschema
import pytest

from services.maps.exports import (
    export_counts_csv,
    export_geojson,
    export_incidents_csv,
    export_incidents_machine_csv,
    report_id,
)
from services.maps.meeting import render_meeting_pack
from services.maps.render import colour_classes, render_public_map, render_week_map
from services.maps.summary import SCHEMA_PATH, public_summary, schema_text, week_summary
from shared.contracts import CellStatsV1, WeekSnapshotV1
from shared.counting import (
    DUBBLETT,
    HANDELSE,
    RAPPORT,
    comparison,
    coverage_start,
    first_complete_week,
    glossary,
    is_counted,
    week_numbers,
    week_phrase,
)
from shared.formats import (
    date_sv,
    decimal_sv,
    number_sv,
    page_time_sv,
    signed_sv,
    time_sv,
    week_label_sv,
    week_range_sv,
)
from tests.support.artefacts import Truth, check, map_points, map_seen, pack_seen, summary_seen
from tests.support.snapshots import incident, make_areas, make_snapshot, rich_snapshot

NNBSP = "\u202f"


# --- formats --------------------------------------------------------------------------------


def test_numbers_the_swedish_way() -> None:
    assert number_sv(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert number_sv(208) == "208" and number_sv(-1500) == f"−1{NNBSP}500"
    assert decimal_sv(2.25, 2) == "2,25" and decimal_sv(1234.5) == f"1{NNBSP}234,5"
    assert decimal_sv(-0.04) == "0,0" and decimal_sv(-1.25, 1) == "−1,3"  # half up
    assert decimal_sv(198.25) == "198,3"
    assert [signed_sv(n) for n in (3, -2, 0, None, 1200)] == [
        "+3",
        "−2",
        "±0",
        "–",
        f"+1{NNBSP}200",
    ]


def test_times_in_stockholm_with_their_offset() -> None:
    winter, summer = datetime(2026, 11, 20, 21, 15, tzinfo=UTC), datetime(2026, 7, 6, 6, 5)
    assert time_sv(winter) == "2026-11-20 22:15 +01:00"
    assert time_sv(summer) == "2026-07-06 08:05 +02:00"  # naive is UTC
    assert page_time_sv(winter) == "fre 20 nov 22:15 +01:00"


def test_weeks_and_dates() -> None:
    assert week_label_sv("2026-W47") == "vecka 47 (16–22 nov 2026)"
    assert week_range_sv("2026-W49") == "30 nov – 6 dec 2026"
    assert week_range_sv("2026-W53") == "28 dec 2026 – 3 jan 2027"
    assert date_sv(date(2026, 10, 19)) == "19 okt"


# --- the rule and its words -------------------------------------------------------------------


def test_the_three_words() -> None:
    assert (HANDELSE.of(1), HANDELSE.of(208)) == ("1 händelse", "208 händelser")
    assert RAPPORT.of(1234) == f"1{NNBSP}234 rapporter" and DUBBLETT.of(1) == "1 trolig dubblett"
    assert week_phrase(208, 216, 8) == "208 händelser (216 rapporter, varav 8 troliga dubbletter)"
    assert week_phrase(5, 5, 0) == "5 händelser"
    assert set(glossary()) == {"händelse", "rapport", "trolig dubblett"}


def duplicate_week() -> WeekSnapshotV1:
    """Centrum: three klotter, one of them a likely duplicate of another; Norr: one brand
    and its duplicate; one police event without a point."""
    incidents = [
        incident("a/1", "klotter", "Centrum", 58.39, 15.56, hours=10),
        incident("b/1", "klotter", "Centrum", 58.3901, 15.5601, hours=10.2),
        incident("a/2", "klotter", "Centrum", 58.395, 15.57, hours=30),
        incident("a/3", "brand", "Norr", 58.43, 15.57, hours=50),
        incident("b/2", "brand", "Norr", 58.4301, 15.5701, hours=50.5),
        incident("p/1", "vald", "Norr", 58.42, 15.58, precision="centroid", hours=60),
    ]
    incidents[1] = incidents[1].model_copy(update={"duplicate_of": "a/1"})
    incidents[4] = incidents[4].model_copy(update={"duplicate_of": "a/3"})
    counted = [i for i in incidents if is_counted(i)]
    snapshot = make_snapshot(counted)  # cells from the händelser only
    return snapshot.model_copy(update={"incidents": incidents, "duplicates_linked": 2})


def _truth(snapshot: WeekSnapshotV1) -> Truth:
    return Truth.of([(i.area, i.category, i.duplicate_of is not None) for i in snapshot.incidents])


def test_duplicates_are_shown_apart_and_never_counted() -> None:
    snapshot = duplicate_week()
    truth = _truth(snapshot)
    assert (truth.total, truth.reports, truth.duplicates) == (4, 6, 2)
    numbers = week_numbers(snapshot)
    assert (numbers.total.count, numbers.reports, numbers.duplicates) == (4, 6, 2)
    assert numbers.with_point == {"klotter": 2, "brand": 1} and numbers.without_point == 1
    summary = week_summary(snapshot)
    assert summary["headline"] == "4 händelser (6 rapporter, varav 2 troliga dubbletter)"
    labels = {c["label"]: c["category"] for c in summary["categories"]}
    check(summary_seen(summary), truth)
    page = render_week_map(snapshot, make_areas(), tiles=None, summary=summary)
    for seen in map_seen(page, labels):
        check(seen, truth)
    # the category layers hold the händelser with a point; the duplicates a layer of their own
    assert map_points(page) == {"klotter": 2, "brand": 1, "dubblett": 2}
    assert "Troliga dubbletter (2, räknas inte)" in page.replace("\\u00e4", "ä")
    for seen in pack_seen(render_meeting_pack(summary), labels):
        check(seen, truth)


def test_exports_flag_duplicates_and_what_they_repeat() -> None:
    snapshot = duplicate_week()
    excel = export_incidents_csv(snapshot)
    assert excel.startswith("\ufeffVecka;Tid;Område;Kategorikod;Kategori;")
    rows = list(csv.DictReader(io.StringIO(excel.removeprefix("\ufeff")), delimiter=";"))
    assert len(rows) == 6 and all(r["Tid"].endswith("+01:00") for r in rows)
    flagged = {r["Id"]: r["Dubblett av (id)"] for r in rows if r["Trolig dubblett"] == "ja"}
    assert flagged == {report_id("b/1"): report_id("a/1"), report_id("b/2"): report_id("a/3")}
    assert all("a/1" not in value for r in rows for value in r.values())  # no reporter name
    assert rows[0]["Latitud"] == "58,39"  # decimal comma for Swedish Excel
    machine = list(csv.DictReader(io.StringIO(export_incidents_machine_csv(snapshot))))
    assert sum(r["trolig_dubblett"] == "true" for r in machine) == 2
    assert machine[0]["lat"] == "58.39" and machine[0]["tid"] == "2026-11-16T10:00:00+01:00"
    counts = list(
        csv.DictReader(
            io.StringIO(export_counts_csv(snapshot).removeprefix("\ufeff")), delimiter=";"
        )
    )
    by_cell = {(r["Område"], r["Kategorikod"]): r for r in counts}
    assert by_cell[("Centrum", "klotter")]["Händelser"] == "2"
    assert by_cell[("Centrum", "klotter")]["Troliga dubbletter (räknas inte)"] == "1"
    features = json.loads(export_geojson(snapshot, make_areas()))["features"]
    kinds = [f["properties"]["typ"] for f in features if f["properties"]["typ"] != "område"]
    assert kinds.count("händelse") == 4 and kinds.count("trolig dubblett") == 2


def test_exports_stay_formula_safe_in_both_dialects() -> None:
    snapshot = make_snapshot(
        [incident("a/1", "klotter", "Centrum", 58.39, 15.56, description="=cmd|' /C calc'!A0")]
    )
    excel = list(csv.reader(io.StringIO(export_incidents_csv(snapshot)[1:]), delimiter=";"))
    machine = list(csv.reader(io.StringIO(export_incidents_machine_csv(snapshot))))
    assert excel[1][-1] == machine[1][-1] == "'=cmd|' /C calc'!A0"


# --- comparisons -------------------------------------------------------------------------------


def _with_stats(snapshot: WeekSnapshotV1, weeks: int) -> WeekSnapshotV1:
    stat = CellStatsV1(
        area="Centrum", category="klotter", count=2, previous=1, mean_8=1.5, mean_52=1.5,
        baseline_weeks=weeks, mean_8_weeks=min(weeks, 8), change_vs_previous=1,
        ratio_vs_mean=1.3, p_value=0.5, q_value=0.9, alert=False, text="2",
    )  # fmt: skip
    return snapshot.model_copy(update={"stats": [stat]})


def test_a_week_before_the_first_data_is_not_compared() -> None:
    snapshot = duplicate_week().model_copy(update={"data_from": date(2026, 11, 11)})
    cmp = comparison(snapshot)
    assert not cmp.previous and cmp.reason == "jämförelse saknas: data från 11 nov"
    summary = week_summary(snapshot)
    assert (summary["previous_total"], summary["change"]) == (None, None)
    assert all(a["previous"] is None for a in summary["areas"])
    assert summary["sentences"][0].endswith("; jämförelse saknas: data från 11 nov.")
    page = render_week_map(snapshot, make_areas(), tiles=None)
    assert "jämförelse saknas: data från 11 nov" in page.replace("\\u00e4", "ä")
    assert "Förändring mot förra veckan" not in page.replace("\\u00f6", "ö").replace(
        "\\u00e4", "ä"
    )  # no change layer without a week to change from
    public = public_summary(snapshot)
    assert public["previous_total"] is None and public["comparison"]["reason"] == cmp.reason


def test_a_new_reporter_makes_earlier_weeks_incomplete_and_the_public_is_not_told_who() -> None:
    snapshot = duplicate_week().model_copy(
        update={
            "data_from": date(2026, 1, 5),
            "reporters_from": {"Securitas Öst": date(2026, 11, 12)},
        }
    )
    start, who = coverage_start(snapshot.data_from, snapshot.reporters_from)
    assert (start, who) == (date(2026, 11, 12), "Securitas Öst")
    assert first_complete_week(date(2026, 11, 12)) == "2026-W47"  # Thursday: the next week
    assert first_complete_week(date(2026, 11, 16)) == "2026-W47"  # a Monday: that week
    cmp = comparison(snapshot)
    assert cmp.reason == "jämförelse saknas: Securitas Öst rapporterar från 12 nov"
    assert cmp.public_reason == "jämförelse saknas: en ny rapportör rapporterar från 12 nov"
    assert "Securitas" not in json.dumps(public_summary(snapshot), ensure_ascii=False)


@pytest.mark.parametrize("weeks", [1, 5, 8, 30])
def test_means_are_labelled_with_the_weeks_they_cover(weeks: int) -> None:
    summary = week_summary(_with_stats(duplicate_week(), weeks))
    cmp = summary["comparison"]
    assert (
        cmp["short_label"] == f"snitt {min(weeks, 8)} v" and cmp["long_label"] == f"snitt {weeks} v"
    )
    assert cmp["one_mean"] == (weeks <= 8)
    pack = render_meeting_pack(summary)
    assert f"Snitt {min(weeks, 8)} v" in pack
    assert ("Snitt 52 v" in pack) is False
    assert (f"Snitt {weeks} v</th>" in pack) is True
    assert pack.count(f">Snitt {weeks} v<") == 1  # one column when both means are the same


# --- one colour scale, the schema ----------------------------------------------------------------


def test_both_maps_derive_their_colour_classes_the_same_way() -> None:
    restricted, items = colour_classes(40)
    public, public_items = colour_classes(40, public=True, hidden=True)
    assert [i["colour"] for i in items] == [i["colour"] for i in public_items][: len(items)]
    assert items[0]["label"] == "0–2" and public_items[0]["label"] == "<3"
    assert all(restricted(n) == public(n) for n in range(0, 60))
    snapshot = rich_snapshot()
    full = render_week_map(snapshot, make_areas(), tiles=None)
    shown = render_public_map(snapshot, make_areas(), tiles=None)
    from tests.support.artefacts import area_fills

    totals = {a["area"]: a["total"] for a in public_summary(snapshot)["areas"]}
    fills, public_fills = area_fills(full), area_fills(shown)
    compared = [a for a, t in totals.items() if isinstance(t, int) and a in public_fills]
    assert compared and all(fills[a] == public_fills[a] for a in compared)


def test_the_published_schema_is_current_and_holds_both_summaries() -> None:
    assert SCHEMA_PATH.read_text("utf-8") == schema_text(), (
        "docs/schemas/sammanfattning.schema.json is stale: python -m services.maps.summary"
    )
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    for snapshot in (rich_snapshot(), duplicate_week(), make_snapshot([])):
        for data in (week_summary(snapshot), public_summary(snapshot)):
            errors = [e.message for e in validator.iter_errors(data)]
            assert not errors, errors
    broken = week_summary(rich_snapshot()) | {"total": "many"}
    assert list(validator.iter_errors(broken))
