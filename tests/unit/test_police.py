"""The police events importer: type mapping, the API's quirks, payloads ingest accepts."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from services.ingest import police
from services.ingest.police import (
    EXCLUDED,
    EXCLUDED_REASON,
    EXCLUSION_REASONS,
    SKIP_COUNTY,
    SKIP_DUPLICATE,
    SKIP_INVALID,
    SKIP_KOMMUN,
    SKIP_NO_COORDINATES,
    TYPE_MAP,
    KommunLookup,
    Skip,
    classify,
    import_summary,
    incident_time,
    parse_gps,
    parse_police_datetime,
    to_report,
)
from services.ingest.police_cli import (
    PoliceFetchError,
    PoliceInputError,
    check_url,
    kommun_point,
    load_events_file,
    parse_events,
    payload_lines,
    poll_police,
    register,
)
from shared.areas import load_kommuner
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import MAX_DESCRIPTION_CHARS, ReportV1
from shared.validation import ValidReport, validate_submission
from tests.conftest import require

POLISEN_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "polisen"
TYPES_TSV = POLISEN_DIR / "event_types_counts.tsv"

LOOKUP = {"Linköping": "0580", "Kävlinge": "1261", "Malung-Sälen": "2023", "Upplands Väsby": "0114"}
LINKOPING = load_kommuner()["0580"]
LINKOPING_POINT = kommun_point(LINKOPING)


def event(**changes: Any) -> dict[str, Any]:
    """A post-2026 event: the county in location.name, the municipality last in name."""
    base: dict[str, Any] = {
        "id": 650297,
        "datetime": "2026-08-22 9:48:12 +02:00",
        "name": "22 augusti 09.20, Misshandel, Linköping",
        "summary": "En man har misshandlats vid Resecentrum.",
        "url": "/aktuellt/handelser/2026/augusti/22/22-augusti-09.20-misshandel-linkoping/",
        "type": "Misshandel",
        "location": {"name": "Östergötlands län", "gps": "58.416807,15.618966"},
    }
    return {**base, **changes}


# --- the type mapping --------------------------------------------------------------------


def test_every_type_seen_2022_to_2026_is_mapped() -> None:
    require(TYPES_TSV.is_file(), f"shared data not present: {TYPES_TSV}")
    with TYPES_TSV.open(encoding="utf-8", newline="") as f:
        types = [row[0] for row in csv.reader(f, delimiter="\t")][1:]
    assert len(types) == 97
    missing = [t for t in types if police.normalise_type(t) not in TYPE_MAP]
    assert missing == []
    assert not any(classify(t).unknown for t in types)


REPRESENTATIVE = {
    "Misshandel": "vald",
    "Skottlossning": "vald",
    "Rån": "vald",
    "Stöld": "stold",
    "Stöld/inbrott": "inbrott",
    "Inbrott": "inbrott",
    "Skadegörelse": "skadegorelse",
    "Brand": "brand",
    "Narkotikabrott": "narkotika",
    "Olaga hot": "hot",
    "Ofredande/förargelse": "hot",
    "Bråk": "ordningsstorning",
    "Fylleri/LOB": "ordningsstorning",
    "Våld/hot mot tjänsteman": "hot_vald_personal",
    "Övrigt": "ovrigt",
    "Sammanfattning natt": EXCLUDED,
    "Trafikolycka": EXCLUDED,
    "Rattfylleri": EXCLUDED,
    "Försvunnen person": EXCLUDED,
    "Information": EXCLUDED,
}


@pytest.mark.parametrize(("police_type", "category"), sorted(REPRESENTATIVE.items()))
def test_representative_types_map_without_the_shared_file(
    police_type: str, category: str | None
) -> None:
    assert TYPE_MAP[police_type] == category
    assert classify(police_type).category == category


def test_mapping_is_consistent() -> None:
    assert len(TYPE_MAP) == 97
    for name, category in TYPE_MAP.items():
        assert name == police.normalise_type(name)
        if category is EXCLUDED:
            assert EXCLUDED_REASON[name] in EXCLUSION_REASONS
        else:
            assert category in DEFAULT_CATEGORIES
            assert name not in EXCLUDED_REASON


def test_type_with_trailing_space_is_found() -> None:
    kind = classify("Lagen om hundar och katter ")
    assert kind.type == "Lagen om hundar och katter"
    assert kind.category is EXCLUDED and kind.exclusion == police.OTHER_AUTHORITY
    assert classify("  misshandel,  grov ").category == "vald"  # case and spacing


@pytest.mark.parametrize(
    "summary_type",
    ["Sammanfattning natt", "Sammanfattning kväll och natt", "Sammanfattning dygn",
     "Sammanfattning morgon"],  # the last one has never been seen: still a summary
)  # fmt: skip
def test_summaries_are_not_incidents(summary_type: str) -> None:
    result = to_report(event(type=summary_type), LOOKUP)
    assert isinstance(result, Skip)
    assert result.excluded == police.SUMMARY


def test_unknown_type_becomes_ovrigt_with_a_warning_count() -> None:
    payloads, summary = import_summary([event(type="Drönarlarm")], LOOKUP)
    assert [p["category"] for p in payloads] == ["ovrigt"]
    assert summary.unknown_types == {"Drönarlarm": 1}
    assert summary.by_type["Drönarlarm"].unknown


# --- quirks ---------------------------------------------------------------------------------


def test_single_digit_hour_datetime_with_offset() -> None:
    parsed = parse_police_datetime("2026-08-22 9:48:12 +02:00")
    assert parsed == datetime(2026, 8, 22, 9, 48, 12, tzinfo=timezone(timedelta(hours=2)))
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parse_police_datetime("2026-01-05 23:01:00 +01:00").hour == 23
    assert parse_police_datetime("2026-01-05 7:01:00 -0130").utcoffset() == -timedelta(
        hours=1, minutes=30
    )
    assert parse_police_datetime("2026-01-05T07:01:00Z").tzinfo is UTC


@pytest.mark.parametrize(
    "bad", ["2026-08-22 9:48:12", "22 augusti 9.48", "", "2026-13-01 9:00:00 +02:00", None, 5]
)
def test_unreadable_datetime_raises_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_police_datetime(bad)


def test_incident_time_comes_from_the_name() -> None:
    published = parse_police_datetime("2026-08-22 19:51:41 +02:00")
    assert incident_time("22 augusti 17.59, Brand, Kävlinge", published) == datetime(
        2026, 8, 22, 17, 59, tzinfo=timezone(timedelta(hours=2))
    )
    # winter time, and an event from the year before its publication
    published = parse_police_datetime("2027-01-01 0:40:00 +01:00")
    got = incident_time("31 december 23.50, Brand, Linköping", published)
    assert got == datetime(2026, 12, 31, 23, 50, tzinfo=timezone(timedelta(hours=1)))
    # unreadable -> the publication time
    assert incident_time("Brand, Linköping", published) == published
    assert incident_time("31 smarch 23.50, Brand", published) == published


def test_gps_parsing() -> None:
    assert parse_gps("58.416807,15.618966") == (58.416807, 15.618966)
    for bad in (None, "", "58.4", "58.4;15.6", "nan,15", "91,15", "a,b", 58.4):
        assert parse_gps(bad) is None


# --- municipality ---------------------------------------------------------------------------


def test_municipality_from_name_when_location_is_the_county() -> None:
    result = to_report(event(), LOOKUP)
    assert isinstance(result, dict)
    assert result["kommun"] == "0580"


def test_municipality_in_location_name_as_in_older_data() -> None:
    old = event(name="3 maj 21.10, Misshandel", location={"name": "Linköping", "gps": "58.4,15.6"})
    result = to_report(old, LOOKUP)
    assert isinstance(result, dict) and result["kommun"] == "0580"


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Malung-Sälen", "2023"),
        ("Malung Sälen", "2023"),
        ("MALUNG–SÄLEN", "2023"),
        ("Upplands-Väsby", "0114"),
        ("upplands  väsby", "0114"),
        ("Linköpings kommun", "0580"),
    ],
)
def test_municipality_names_are_matched_loosely(written: str, code: str) -> None:
    assert KommunLookup.of(LOOKUP).find(written) == code
    result = to_report(event(name=f"22 augusti 09.20, Misshandel, {written}"), LOOKUP)
    assert isinstance(result, dict) and result["kommun"] == code


def test_county_only_and_unconfigured_municipalities_are_skipped_with_a_reason() -> None:
    county = to_report(event(name="22 augusti 07.10, Fylleri, Stockholms län", type="Fylleri"), {})
    assert isinstance(county, Skip) and county.reason == SKIP_COUNTY
    other = event(name="22 augusti 09.20, Misshandel, Kiruna")
    result = to_report(other, LOOKUP)
    assert isinstance(result, Skip) and result.reason == SKIP_KOMMUN and result.detail == "Kiruna"
    _, summary = import_summary([other, other | {"id": 2}], LOOKUP)
    assert summary.skipped == {SKIP_KOMMUN: 2}
    assert summary.unconfigured_kommuner == {"Kiruna": 2}


# --- the payload ------------------------------------------------------------------------------


def test_payload_is_a_valid_centroid_report_with_attribution() -> None:
    result = to_report(event(), LOOKUP)
    assert isinstance(result, dict)
    report = ReportV1.model_validate(result)
    assert report.report_id == "polisen-650297"
    assert report.organisation == "Polismyndigheten"
    assert report.source == "polis"
    assert report.category == "vald"
    assert report.location_precision == "centroid"
    assert report.occurred_at == datetime(2026, 8, 22, 9, 20, tzinfo=timezone(timedelta(hours=2)))
    assert (report.lat, report.lon) == (58.416807, 15.618966)  # no kommun point given
    assert report.description == (
        "En man har misshandlats vid Resecentrum. (Källa: Polismyndigheten, https://polisen.se"
        "/aktuellt/handelser/2026/augusti/22/22-augusti-09.20-misshandel-linkoping/)"
    )
    json.dumps(result)  # ready to submit as one line


def test_the_kommun_point_replaces_the_county_centroid_and_ingest_accepts_it() -> None:
    county_centroid = "58.333,15.8"  # an Östergötland centroid, not Linköping's spot
    ev = event(location={"name": "Östergötlands län", "gps": county_centroid})
    payloads, summary = import_summary([ev], LOOKUP, {"0580": LINKOPING_POINT})
    assert (payloads[0]["lat"], payloads[0]["lon"]) == LINKOPING_POINT
    assert summary.coordinates == {police.COORD_KOMMUN_POINT: 1}
    assert LINKOPING.contains(*LINKOPING_POINT)
    checked = validate_submission(
        json.dumps(payloads[0]),
        categories=DEFAULT_CATEGORIES,
        kommuner={"0580": LINKOPING},
        now=datetime(2026, 8, 23, tzinfo=UTC),
    )
    assert isinstance(checked, ValidReport), checked
    assert checked.report.location_precision == "centroid"


def test_no_coordinates_at_all_is_skipped() -> None:
    result = to_report(event(location={"name": "Östergötlands län"}), LOOKUP)
    assert isinstance(result, Skip) and result.reason == SKIP_NO_COORDINATES
    with_point = to_report(event(location=None), LOOKUP, {"0580": LINKOPING_POINT})
    assert isinstance(with_point, dict)


def test_report_id_and_payload_are_stable() -> None:
    first = to_report(event(), LOOKUP, {"0580": LINKOPING_POINT})
    again = to_report(json.loads(json.dumps(event())), dict(LOOKUP), {"0580": LINKOPING_POINT})
    assert first == again
    assert payload_lines([first]) == payload_lines([again])  # type: ignore[list-item]
    assert to_report(event(id="650297"), LOOKUP)["report_id"] == "polisen-650297"  # type: ignore[index]


def test_long_summary_is_cut_but_keeps_the_source() -> None:
    result = to_report(event(summary="x" * 5000), LOOKUP)
    assert isinstance(result, dict)
    assert len(result["description"]) == MAX_DESCRIPTION_CHARS
    assert result["description"].endswith("-linkoping/)")
    ReportV1.model_validate(result)
    no_url = to_report(event(url=None, summary="Bråk.\x07"), LOOKUP)
    assert isinstance(no_url, dict)
    assert no_url["description"] == "Bråk. (Källa: Polismyndigheten)"


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        "Brand",
        {},
        {"type": "Brand"},
        event(id=None),
        event(id=True),
        event(datetime="igår"),
        event(name=None, location=None),
        event(location="Linköping"),
        event(location={"name": 5, "gps": [1, 2]}),
        event(type=None),
        event(summary=None),
    ],
)
def test_broken_events_never_raise(broken: Any) -> None:
    result = to_report(broken, LOOKUP)
    assert isinstance(result, dict | Skip)
    if isinstance(result, dict):
        ReportV1.model_validate(result)
    _, summary = import_summary([broken], LOOKUP)
    assert summary.total == 1
    assert summary.converted + summary.excluded_total + summary.skipped_total == 1


def test_summary_counts_add_up_and_duplicates_in_input_count_once() -> None:
    events = [
        event(),
        event(),  # the same id again
        event(id=2, type="Sammanfattning natt"),
        event(id=3, type="Trafikolycka"),
        event(id=4, type="Stöld", name="22 augusti 08.00, Stöld, Kävlinge"),
        event(id=5, datetime="bad"),
    ]
    payloads, summary = import_summary(events, LOOKUP)
    assert [p["report_id"] for p in payloads] == ["polisen-650297", "polisen-4"]
    assert summary.total == 6 and summary.converted == 2
    assert summary.excluded == {police.SUMMARY: 1, police.TRAFFIC: 1}
    assert summary.skipped == {SKIP_DUPLICATE: 1, SKIP_INVALID: 1}
    assert summary.by_category == {"vald": 1, "stold": 1}
    assert summary.by_type["Misshandel"].events == 3
    assert summary.by_type["Misshandel"].converted == 1
    data = summary.as_dict()
    assert data["converted"] + data["excluded"] + data["skipped"] == data["total"]


# --- the command-line side -----------------------------------------------------------------------


def test_input_errors_are_explained_in_swedish(tmp_path: Path) -> None:
    with pytest.raises(PoliceInputError, match="finns inte"):
        load_events_file(tmp_path / "saknas.json")
    with pytest.raises(PoliceInputError, match="inte giltig JSON"):
        parse_events(b"[{", "x.json")
    with pytest.raises(PoliceInputError, match="inte en lista"):
        parse_events('{"id": 1}', "x.json")
    with pytest.raises(PoliceInputError, match="UTF-8"):
        parse_events(b"\xff[]", "x.json")
    assert parse_events(b"\xef\xbb\xbf[]", "x.json") == []


def test_only_https_urls_are_polled() -> None:
    assert check_url("https://polisen.se/api/events")
    assert check_url("http://127.0.0.1:8000/events.json")
    with pytest.raises(ValueError, match="https"):
        check_url("http://polisen.se/api/events")


def test_import_command_dry_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("LAGESBILD_DATA_DIR", str(tmp_path))
    file = tmp_path / "events.json"
    file.write_text(
        json.dumps(
            [event(), event(id=2, type="Sammanfattning natt"), event(id=3, name="x, Kiruna")]
        ),
        encoding="utf-8",
    )
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["police", str(file), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["converted"] == 1 and data["sent"] == 0 and data["dry_run"] is True
    assert data["excluded_by_reason"] == {"sammanfattning": 1}
    assert data["skipped_by_reason"] == {SKIP_KOMMUN: 1}
    table = CliRunner().invoke(app, ["police", str(file), "--dry-run"])
    assert table.exit_code == 0 and "exkluderad: sammanfattning" in table.stdout
    missing = CliRunner().invoke(app, ["police", str(tmp_path / "nej.json"), "--dry-run"])
    assert missing.exit_code == 2 and "Filen finns inte" in missing.output


async def test_poller_sends_each_event_once_and_stops_on_404() -> None:
    responses: list[Any] = [
        [event()],
        [event(), event(id=2, name="22 augusti 10.00, Stöld, Linköping", type="Stöld")],
        PoliceFetchError("HTTP 503", 503),
        [event(id=2, name="22 augusti 10.00, Stöld, Linköping", type="Stöld")],
        PoliceFetchError("HTTP 404", 404),
    ]
    sent: list[list[bytes]] = []

    def fetch(url: str) -> list[Any]:
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def submit(redis_url: str, lines: list[bytes]) -> int:
        sent.append(lines)
        return len(lines)

    total = await asyncio.wait_for(
        poll_police(
            "https://polisen.se/api/events",
            0,
            redis_url="redis://unused",
            kommun_lookup=LOOKUP,
            fetch=fetch,
            submit=submit,
            min_interval_s=0.01,
        ),
        timeout=10,
    )
    assert total == 2
    assert [[json.loads(line)["report_id"] for line in batch] for batch in sent] == [
        ["polisen-650297"],
        ["polisen-2"],
    ]
    assert responses == []  # stopped at the 404


async def test_poller_once() -> None:
    async def submit(redis_url: str, lines: list[bytes]) -> int:
        return len(lines)

    total = await poll_police(
        "https://polisen.se/api/events",
        300,
        redis_url="redis://unused",
        kommun_lookup=LOOKUP,
        fetch=lambda url: [event()],
        submit=submit,
        once=True,
    )
    assert total == 1
