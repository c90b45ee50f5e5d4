"""Hostile and malformed input: validate_submission answers, and never crashes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contracts import ReportV1
from shared.validation import REASON_CODES, Rejection, ValidReport, validate_submission
from tests.unit.test_validation import CATEGORIES, KOMMUN, KOMMUNER, NOW, payload

EXPECTED_CODES = set(REASON_CODES) - {"internal_error"}
FIELDS = [*ReportV1.model_fields, "reporter_name"]  # every field, and one it forbids
ISO_WEEK = re.compile(r"^\d{4}-W\d{2}$")

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(raw: Any) -> ValidReport | Rejection:
    """Validate and assert the answer is well formed; returns it for further checks."""
    result = validate_submission(raw, categories=CATEGORIES, kommuner=KOMMUNER, now=NOW)
    assert isinstance(result, ValidReport | Rejection), result
    if isinstance(result, Rejection):
        assert result.code in EXPECTED_CODES, result
        for message in (result.message_sv, result.message_en):
            assert message.strip()
            message.encode("utf-8")  # forwardable: no lone surrogate slipped through
        assert result.field is None or (result.field and isinstance(result.field, str))
    else:
        assert isinstance(result.report, ReportV1)
        assert result.report.kommun == KOMMUN
        assert result.area in KOMMUNER[KOMMUN].area_names
        assert ISO_WEEK.match(result.iso_week)
    return result


# --- strategies ----------------------------------------------------------------------

# Any text, including control characters and lone surrogates (excluded by default).
any_text = st.text(st.characters(exclude_categories=()), max_size=50)
control_text = st.text(st.characters(categories=["Cc"]), min_size=1, max_size=10)
surrogate = st.characters(categories=["Cs"])
floats = st.floats(allow_nan=True, allow_infinity=True)
json_scalars = st.none() | st.booleans() | st.integers() | floats | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(FIELDS) | any_text
random_objects = st.dictionaries(field_names, json_values, max_size=12)


def to_json(value: Any) -> str:
    return json.dumps(value)  # ensure_ascii: surrogates become "\ud800" escapes


# --- properties ----------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@FAST
@given(any_text)
def test_random_text(raw: str) -> None:
    check(raw)


@FAST
@given(json_values)
def test_random_json_values(value: Any) -> None:
    result = check(to_json(value).encode())
    if not isinstance(value, dict):
        assert isinstance(result, Rejection) and result.code == "not_an_object"


@FAST
@given(json_values)
def test_random_python_values(value: Any) -> None:
    check(value)


@pytest.mark.slow  # > 5 s
@FAST
@given(random_objects)
def test_random_objects(obj: dict[str, Any]) -> None:
    check(obj)
    check(to_json(obj).encode())


@FAST
@given(st.sampled_from(FIELDS), json_values)
def test_valid_report_with_one_field_replaced(field: str, value: Any) -> None:
    report = payload(**{field: value})
    check(report)
    check(to_json(report).encode())


@FAST
@given(st.sampled_from(["lat", "lon"]), floats | st.integers() | st.booleans())
def test_any_number_as_coordinate(field: str, value: Any) -> None:
    result = check(payload(**{field: value}))
    if isinstance(result, ValidReport):
        assert -90 <= result.report.lat <= 90 and -180 <= result.report.lon <= 180


@FAST
@given(st.datetimes(timezones=st.timezones() | st.none()))
def test_any_datetime_as_time(moment: Any) -> None:
    check(payload(occurred_at=moment))
    check(payload(occurred_at=moment.isoformat()))


@FAST
@given(st.sampled_from(["report_id", "organisation", "description", "category"]), control_text)
def test_control_characters_in_text_fields(field: str, noise: str) -> None:
    result = check(payload(**{field: "a" + noise + "b"}))
    allowed_in_description = set("\t\n\r")
    if not (field == "description" and set(noise) <= allowed_in_description):
        assert isinstance(result, Rejection)


@FAST
@given(st.sampled_from(FIELDS), surrogate)
def test_lone_surrogates(field: str, char: str) -> None:
    report = payload(**{field: "a" + char})
    for raw in (
        report,
        to_json(report).encode(),
        to_json(report),
        json.dumps(report, ensure_ascii=False),
    ):
        result = check(raw)
        assert isinstance(result, Rejection) and result.code in {
            "invalid_encoding",
            "invalid_field",
        }


@SLOW
@given(st.sampled_from(FIELDS), st.integers(0, 200_000))
def test_huge_strings(field: str, length: int) -> None:
    report = payload(**{field: "x" * length})
    check(report)
    check(to_json(report).encode())
    check("x" * length)


@SLOW
@given(st.integers(1, 60_000), st.sampled_from(["[", '{"a":', '{"lat":[']))
def test_deeply_nested_json(depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '{"lat":[': "]}"}[opener]
    check((opener * depth + "1" + closer * depth).encode())
    check(opener * depth)  # never closed


@SLOW
@given(st.integers(1, 900))
def test_deeply_nested_value_in_a_field(depth: int) -> None:
    nested: Any = 1
    for _ in range(depth):
        nested = [nested]
    raw = to_json(payload(description=nested)).encode()
    result = check(raw)
    assert isinstance(result, Rejection)


@FAST
@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0.0", "1" * 5000]))
def test_special_json_numbers(literal: str) -> None:
    raw = to_json(payload()).replace('"lat": 59.05', f'"lat": {literal}')
    assert literal in raw
    result = check(raw.encode())
    assert isinstance(result, Rejection)
