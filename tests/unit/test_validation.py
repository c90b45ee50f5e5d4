"""Known answers for shared.validation.validate_submission: one or more per reason code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.areas import KOMMUN_LEVEL_AREA, OTHER_AREA, KommunAreas, parse_area_collection
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import MAX_DESCRIPTION_CHARS
from shared.validation import (
    REASON_CODES,
    Limits,
    Rejection,
    ValidReport,
    validate_submission,
)

# A square synthetic kommun, 59.0–59.1 N × 15.0–15.2 E, with "Centrum" in the middle.
KOMMUN = "9999"
NORTH_EDGE = 59.1
METRES_PER_DEGREE_LAT = 111_320.0


def _square(lat0: float, lon0: float, lat1: float, lon1: float) -> dict[str, Any]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def synthetic_kommun() -> KommunAreas:
    return parse_area_collection(
        {
            "type": "FeatureCollection",
            "kommun": KOMMUN,
            "kommun_name": "Provkommun",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"kind": "kommun"},
                    "geometry": _square(59.0, 15.0, NORTH_EDGE, 15.2),
                },
                {
                    "type": "Feature",
                    "properties": {"kind": "area", "name": "Centrum"},
                    "geometry": _square(59.04, 15.08, 59.06, 15.12),
                },
            ],
        }
    )


KOMMUNER = {KOMMUN: synthetic_kommun()}
CATEGORIES = dict(DEFAULT_CATEGORIES)
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


DROP = object()


def payload(**changes: Any) -> dict[str, Any]:
    """A valid submission, with `changes` applied; a value of `DROP` removes the field."""
    base: dict[str, Any] = {
        "version": 1,
        "report_id": "r-1",
        "kommun": KOMMUN,
        "source": "vaktare",
        "organisation": "Bevakning AB",
        "category": "klotter",
        "occurred_at": "2026-11-20T21:30:00+01:00",
        "lat": 59.05,
        "lon": 15.1,
        "description": "Klotter på busskuren",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def as_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def validate(raw: Any, **kwargs: Any) -> ValidReport | Rejection:
    return validate_submission(raw, categories=CATEGORIES, kommuner=KOMMUNER, now=NOW, **kwargs)


def metres_north_of_edge(metres: float) -> float:
    return NORTH_EDGE + metres / METRES_PER_DEGREE_LAT


# --- rejections: (id, raw input, expected code, expected field) ----------------------

REJECTED = [
    ("too large bytes", as_bytes(payload(description="x" * 70_000)), "payload_too_large", None),
    ("too large str", json.dumps(payload(description="å" * 40_000)), "payload_too_large", None),
    ("not utf-8", b'{"report_id": "\xff"}', "invalid_encoding", None),
    ("latin-1", as_bytes(payload()).replace(b"\xc3\xa5", b"\xe5"), "invalid_encoding", None),
    ("lone surrogate str", '{"report_id": "\ud800"}', "invalid_encoding", None),
    (
        "surrogate escape",
        json.dumps(payload(report_id="\ud800")).encode(),
        "invalid_encoding",
        "report_id",
    ),
    ("truncated json", b'{"report_id": ', "invalid_json", None),
    ("empty", b"", "invalid_json", None),
    ("nested too deeply", b"[" * 50_000, "invalid_json", None),
    ("single quotes", b"{'report_id': 'r-1'}", "invalid_json", None),
    ("json array", b"[]", "not_an_object", None),
    ("json string", b'"rapport"', "not_an_object", None),
    ("json null", b"null", "not_an_object", None),
    ("python list", [payload()], "not_an_object", None),
    ("version 2", payload(version=2), "unsupported_version", "version"),
    ("version as text", payload(version="1"), "unsupported_version", "version"),
    ("version true", payload(version=True), "unsupported_version", "version"),
    ("no report_id", payload(report_id=DROP), "missing_field", "report_id"),
    ("no occurred_at", payload(occurred_at=DROP), "missing_field", "occurred_at"),
    ("lat null", payload(lat=None), "missing_field", "lat"),
    ("empty object", {}, "missing_field", "report_id"),
    ("unknown kommun", payload(kommun="0000"), "unknown_kommun", "kommun"),
    ("kommun as number", payload(kommun=9999), "unknown_kommun", "kommun"),
    ("kommun as list", payload(kommun=[KOMMUN]), "unknown_kommun", "kommun"),
    # kommun is checked before the fields that depend on it, e.g. the location
    ("unknown kommun, far away", payload(kommun="0000", lat=0.0), "unknown_kommun", "kommun"),
    ("unknown category", payload(category="spoken"), "unknown_category", "category"),
    ("category as dict", payload(category={"a": 1}), "unknown_category", "category"),
    (
        "description too long",
        payload(description="x" * (MAX_DESCRIPTION_CHARS + 1)),
        "description_too_long",
        "description",
    ),
    ("naive time", payload(occurred_at="2026-11-20T21:30:00"), "invalid_field", "occurred_at"),
    ("date only", payload(occurred_at="2026-11-20"), "invalid_field", "occurred_at"),
    ("unix timestamp", payload(occurred_at=1_795_000_000), "invalid_field", "occurred_at"),
    ("timestamp text", payload(occurred_at="1795000000"), "invalid_field", "occurred_at"),
    (
        "no such day",
        payload(occurred_at="2026-02-30T12:00:00+01:00"),
        "invalid_field",
        "occurred_at",
    ),
    ("unknown source", payload(source="brandman"), "invalid_field", "source"),
    ("lat out of range", payload(lat=91.0), "invalid_field", "lat"),
    ("lon as text", payload(lon="femton"), "invalid_field", "lon"),
    ("lat true", payload(lat=True), "invalid_field", "lat"),
    ("lat NaN", as_bytes(payload(lat=float("nan"))), "invalid_field", "lat"),
    ("lon Infinity", as_bytes(payload(lon=float("inf"))), "invalid_field", "lon"),
    ("lat -Infinity", payload(lat=float("-inf")), "invalid_field", "lat"),
    ("blank report_id", payload(report_id="   "), "invalid_field", "report_id"),
    ("empty report_id", payload(report_id=""), "invalid_field", "report_id"),
    ("report_id too long", payload(report_id="r" * 129), "invalid_field", "report_id"),
    ("report_id number", payload(report_id=17), "invalid_field", "report_id"),
    ("NUL in report_id", payload(report_id="r\x001"), "invalid_field", "report_id"),
    ("blank organisation", payload(organisation="\t"), "invalid_field", "organisation"),
    ("escape in text", payload(description="\x1b[31mröd"), "invalid_field", "description"),
    ("bad precision", payload(location_precision="ungefär"), "invalid_field", "location_precision"),
    ("outside", payload(lat=59.3), "outside_kommun", None),
    ("swapped lat/lon", payload(lat=15.1, lon=59.05), "outside_kommun", None),
    ("300 m outside", payload(lat=metres_north_of_edge(300)), "outside_kommun", None),
    (
        "16 min ahead",
        payload(occurred_at=(NOW + timedelta(minutes=16)).isoformat()),
        "future_time",
        "occurred_at",
    ),
    (
        "401 days old",
        payload(occurred_at=(NOW - timedelta(days=401)).isoformat()),
        "too_old",
        "occurred_at",
    ),
]


@pytest.mark.parametrize(
    ("raw", "code", "field"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_rejections(raw: Any, code: str, field: str | None) -> None:
    result = validate(raw)
    assert isinstance(result, Rejection), result
    assert result.code == code, result
    if field is not None:
        assert result.field == field
    assert result.message_sv and result.message_en
    assert result.message_sv != result.message_en


def test_every_reason_code_has_a_known_answer() -> None:
    covered = {c[2] for c in REJECTED}
    assert covered == set(REASON_CODES) - {"internal_error"}


# --- accepted submissions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "area"),
    [
        (payload(), "Centrum"),
        (as_bytes(payload()), "Centrum"),
        (json.dumps(payload()), "Centrum"),
        (b"\xef\xbb\xbf" + as_bytes(payload()), "Centrum"),  # byte order mark
        (payload(lat=59.02, lon=15.02), OTHER_AREA),
        (payload(lat=NORTH_EDGE, lon=15.1), OTHER_AREA),  # on the boundary
        (payload(lat=metres_north_of_edge(100)), OTHER_AREA),  # in the tolerance band
        (payload(version=DROP), "Centrum"),  # a missing version means 1
        (payload(version=None, description=None), "Centrum"),  # null = absent
        (payload(description="rad 1\nrad 2\ttabb\r\n"), "Centrum"),
        (payload(occurred_at="2026-11-20T20:30:00Z"), "Centrum"),
        (payload(occurred_at=datetime(2026, 11, 20, 20, 30, tzinfo=UTC)), "Centrum"),
        (payload(location_precision="centroid"), KOMMUN_LEVEL_AREA),  # counts for the kommun
        (payload(description="x" * MAX_DESCRIPTION_CHARS), "Centrum"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_accepted(raw: Any, area: str) -> None:
    result = validate(raw)
    assert isinstance(result, ValidReport), result
    assert result.area == area
    assert result.report.kommun == KOMMUN


def test_accepted_report_carries_the_payload() -> None:
    result = validate(as_bytes(payload()))
    assert isinstance(result, ValidReport)
    report = result.report
    assert (report.report_id, report.source, report.category) == ("r-1", "vaktare", "klotter")
    assert report.occurred_at == datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    assert report.description == "Klotter på busskuren"
    assert result.iso_week == "2026-W47"


def test_tolerance_band_follows_limits() -> None:
    raw = payload(lat=metres_north_of_edge(100))
    strict = validate(raw, limits=Limits(boundary_tolerance_m=50))
    assert isinstance(strict, Rejection) and strict.code == "outside_kommun"
    assert isinstance(validate(raw, limits=Limits(boundary_tolerance_m=150)), ValidReport)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=14), True),
        (timedelta(minutes=15), True),
        (timedelta(minutes=15, seconds=1), False),
        (-timedelta(days=399), True),
        (-timedelta(days=400), True),
        (-timedelta(days=400, seconds=1), False),
    ],
)
def test_time_limits_are_inclusive(offset: timedelta, accepted: bool) -> None:
    result = validate(payload(occurred_at=(NOW + offset).isoformat()))
    assert isinstance(result, ValidReport) is accepted, result


def test_organisation_override_wins() -> None:
    replaced = validate(payload(organisation="Låtsas AB"), organisation="Bevakning AB")
    added = validate(payload(organisation=DROP), organisation="Bevakning AB")
    for result in (replaced, added):
        assert isinstance(result, ValidReport)
        assert result.report.organisation == "Bevakning AB"


def test_missing_organisation_without_override() -> None:
    result = validate(payload(organisation=DROP))
    assert isinstance(result, Rejection)
    assert (result.code, result.field) == ("missing_field", "organisation")


# --- ISO weeks in Stockholm time -----------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "iso_week"),
    [
        ("2026-11-22T23:30:00+01:00", "2026-W47"),  # Sunday 23:30 Stockholm, 22:30 UTC
        ("2026-11-23T00:30:00+01:00", "2026-W48"),  # Monday 00:30 Stockholm, Sunday in UTC
        ("2026-11-22T23:30:00Z", "2026-W48"),  # Sunday in UTC, Monday 00:30 Stockholm
        ("2026-12-31T12:00:00+01:00", "2026-W53"),
        ("2027-01-01T12:00:00+01:00", "2026-W53"),
        ("2026-12-31T23:30:00Z", "2026-W53"),  # 2027-01-01 00:30 Stockholm
        ("2027-01-03T23:30:00+01:00", "2026-W53"),
        ("2027-01-04T00:30:00+01:00", "2027-W01"),
        ("2026-03-29T02:30:00+01:00", "2026-W13"),  # DST gap: no such wall time, but the
        ("2026-03-29T02:30:00+02:00", "2026-W13"),  # offset makes it an exact instant
        ("2026-10-25T02:30:00+02:00", "2026-W43"),  # 02:30 happens twice: first (CEST)
        ("2026-10-25T02:30:00+01:00", "2026-W43"),  # and second (CET)
    ],
)
def test_iso_week_in_stockholm(occurred_at: str, iso_week: str) -> None:
    result = validate(payload(occurred_at=occurred_at))
    assert isinstance(result, ValidReport), result
    assert result.iso_week == iso_week


@pytest.mark.parametrize(
    ("occurred_at", "utc"),
    [
        ("2026-03-29T02:30:00+01:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("2026-03-29T02:30:00+02:00", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
        ("2026-10-25T02:30:00+02:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("2026-10-25T02:30:00+01:00", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_dst_wall_times_keep_their_offset(occurred_at: str, utc: datetime) -> None:
    result = validate(payload(occurred_at=occurred_at))
    assert isinstance(result, ValidReport), result
    assert result.report.occurred_at == utc


def test_dst_wall_time_without_offset_is_rejected() -> None:
    # 02:30 on 2026-10-25 is ambiguous and on 2026-03-29 does not exist: only an
    # offset tells which instant the reporter meant.
    for naive in ("2026-03-29T02:30:00", "2026-10-25T02:30:00"):
        result = validate(payload(occurred_at=naive))
        assert isinstance(result, Rejection)
        assert (result.code, result.field) == ("invalid_field", "occurred_at")


# --- messages ----------------------------------------------------------------------


def test_naive_time_message_says_to_add_a_zone() -> None:
    result = validate(payload(occurred_at="2026-11-20T21:30:00"))
    assert isinstance(result, Rejection)
    assert "ange tidszon, t.ex. +01:00" in result.message_sv
    assert "time zone" in result.message_en
    assert "2026-11-20T21:30:00" in result.message_sv
    assert "Input should have timezone info" in result.message_en  # pydantic's short msg


def test_unknown_kommun_message_names_value_and_known_codes() -> None:
    result = validate(payload(kommun="0000"))
    assert isinstance(result, Rejection)
    for message in (result.message_sv, result.message_en):
        assert "0000" in message and KOMMUN in message


def test_unknown_category_message_lists_valid_codes() -> None:
    result = validate(payload(category="spoken"))
    assert isinstance(result, Rejection)
    assert "spoken" in result.message_sv and "klotter" in result.message_sv
    assert "spoken" in result.message_en and "klotter" in result.message_en


def test_missing_field_message_names_field() -> None:
    result = validate(payload(lon=DROP))
    assert isinstance(result, Rejection)
    assert '"lon"' in result.message_sv and '"lon"' in result.message_en


def test_an_unknown_field_is_accepted_and_dropped() -> None:
    """The compatibility rule (shared/contracts.py): a newer producer's unknown optional
    field is ignored, and its value (perhaps a name) is kept nowhere."""
    result = validate(payload(reporter_name="Anna"))
    assert isinstance(result, ValidReport)
    assert "Anna" not in result.report.model_dump_json()


def test_offending_value_is_truncated() -> None:
    result = validate(payload(category="k" * 5000))
    assert isinstance(result, Rejection) and result.code == "unknown_category"
    assert "k" * 70 in result.message_en  # shown …
    assert "k" * 100 not in result.message_en  # … but cut short
    assert len(result.message_sv) < 400


def test_surrogate_is_escaped_in_message() -> None:
    result = validate({**payload(), "x\ud800": 1})
    assert isinstance(result, Rejection) and result.code == "invalid_encoding"
    result.message_sv.encode("utf-8")  # raises if the surrogate leaked into the message
    assert "\\ud800" in result.message_sv


def test_outside_message_names_coordinates() -> None:
    result = validate(payload(lat=15.1, lon=59.05))
    assert isinstance(result, Rejection)
    assert "15.1" in result.message_sv and "59.05" in result.message_sv
    assert "Provkommun" in result.message_en


def test_naive_now_becomes_internal_error_not_an_exception() -> None:
    naive_now = datetime(2027, 1, 15, 12, 0)
    result = validate_submission(payload(), categories=CATEGORIES, kommuner=KOMMUNER, now=naive_now)
    assert isinstance(result, Rejection) and result.code == "internal_error"
    assert result.message_sv and result.message_en
