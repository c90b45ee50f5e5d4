"""Stream envelopes: what one service writes, the next one reads back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from faststream.redis.parser.binary import BinaryMessageFormatV1

from shared.contracts import AcceptedReportV1, NollrapportV1
from shared.streams import entry_payload, envelope, has_payload


async def test_an_envelope_with_swedish_text_round_trips() -> None:
    event = AcceptedReportV1(
        message_id="Bevakning Linköping/åäö-1",
        report_id="åäö-1",
        organisation="Bevakning Linköping",
        kommun="0580",
        source="vaktare",
        category="klotter",
        occurred_at=datetime(2026, 11, 20, 21, 30, tzinfo=UTC),
        iso_week="2026-W47",
        area="Skäggetorp",
        lat=58.43,
        lon=15.58,
        description="Klotter på förskolans vägg",
        accepted_at=datetime(2026, 11, 20, 21, 31, tzinfo=UTC),
    )
    fields = await envelope(event, event.message_id)
    assert AcceptedReportV1.model_validate_json(entry_payload(fields)) == event


async def test_an_envelope_is_plain_json_in_a_payload_field() -> None:
    event = NollrapportV1(
        kommun="0580",
        organisation="Förening Ryd",
        source="nattvandrare",
        iso_week="2026-W47",
        submitted_at=datetime(2026, 11, 20, 21, 30, tzinfo=UTC),
    )
    fields = await envelope(event, event.message_id)
    assert json.loads(fields[b"payload"].decode("utf-8")) == json.loads(event.model_dump_json())
    assert fields[b"message_id"] == event.message_id.encode()
    assert b"__data__" not in fields


async def test_an_entry_in_fast_streams_old_envelope_is_still_read() -> None:
    data = await BinaryMessageFormatV1.encode(
        message=b'{"a": 1}', reply_to=None, headers={}, correlation_id="x"
    )
    assert has_payload({b"__data__": data})
    assert json.loads(entry_payload({b"__data__": data})) == {"a": 1}


def test_plain_fields_without_payload_are_not_taken_as_an_event() -> None:
    fields = {b"report_id": b"7", b"kommun": b"0580"}
    assert not has_payload(fields)
    # kept as an object only to be stored beside the rejection
    assert json.loads(entry_payload(fields)) == {"report_id": "7", "kommun": "0580"}


def test_a_newer_minor_versions_unknown_field_is_ignored_when_read() -> None:
    text = (
        '{"kommun": "0580", "organisation": "Ryd", "source": "nattvandrare", '
        '"iso_week": "2026-W47", "submitted_at": "2026-11-20T21:30:00+00:00", '
        '"added_in_v1_1": "x"}'
    )
    event = NollrapportV1.model_validate_json(text)
    assert "added_in_v1_1" not in event.model_dump_json()


def test_a_payload_field_is_taken_as_is() -> None:
    assert entry_payload({b"payload": b"not json {"}) == b"not json {"
