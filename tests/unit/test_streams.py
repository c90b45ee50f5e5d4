"""Stream envelopes: what one service writes, the next one reads back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.contracts import AcceptedReportV1
from shared.streams import entry_payload, envelope


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


def test_plain_fields_from_another_producer_become_a_json_object() -> None:
    payload = entry_payload({b"report_id": b"7", b"kommun": b"0580"})
    assert json.loads(payload) == {"report_id": "7", "kommun": "0580"}


def test_a_payload_field_is_taken_as_is() -> None:
    assert entry_payload({b"payload": b"not json {"}) == b"not json {"
