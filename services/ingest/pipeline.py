"""From raw stream entries to stored rows and outgoing events. Synchronous: the subscriber
calls `process` inline on the event loop, one batch at a time (services/ingest/handlers.py
says why); only the dead-letter path runs it in a worker thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from services.ingest.store import BatchOutcome, DuplicatePolicy, Submission, store_batch
from shared.areas import KommunAreas
from shared.streams import (
    MISSING_PAYLOAD_CODE,
    MISSING_PAYLOAD_EN,
    MISSING_PAYLOAD_SV,
    RawEntry,
    payload_text,
)
from shared.validation import Limits, Rejection, validate_submission


@dataclass
class IngestPipeline:
    engine: Engine
    kommuner: Mapping[str, KommunAreas]
    categories: Mapping[str, str]
    limits: Limits
    duplicates: DuplicatePolicy

    def validate(self, entry: RawEntry, now: datetime) -> Submission:
        if not entry.framed:  # no `payload` field: say what the field must be called
            missing = Rejection(MISSING_PAYLOAD_CODE, MISSING_PAYLOAD_SV, MISSING_PAYLOAD_EN)
            return Submission(
                entry.entry_id, payload_text(entry.payload), missing, entry.deliveries
            )
        result = validate_submission(
            entry.payload,
            categories=self.categories,
            kommuner=self.kommuner,
            now=now,
            limits=self.limits,
        )
        return Submission(entry.entry_id, payload_text(entry.payload), result, entry.deliveries)

    def process(self, entries: list[RawEntry], now: datetime) -> BatchOutcome:
        submissions = [self.validate(e, now) for e in entries]
        return store_batch(self.engine, submissions, now=now, policy=self.duplicates)

    def dead_letter(self, entries: list[RawEntry], reason: str, now: datetime) -> BatchOutcome:
        """Store entries that failed too often as rejections, so they stop blocking the stream."""
        rejection = Rejection(
            code="processing_failed",
            message_sv=f"Rapporten kunde inte behandlas efter upprepade försök: {reason}",
            message_en=f"The report could not be processed after repeated attempts: {reason}",
        )
        subs = [
            Submission(e.entry_id, payload_text(e.payload), rejection, e.deliveries)
            for e in entries
        ]
        return store_batch(self.engine, subs, now=now, policy=self.duplicates)
