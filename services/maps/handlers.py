"""The maps service's stream endpoints: render on lägesbild-ready, announce what was published."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from faststream.redis import RedisBroker
from pydantic import ValidationError

from services.maps.publish import publish_week
from shared.areas import KommunAreas
from shared.contracts import (
    LAGESBILD_READY_STREAM,
    MAPS_GROUP,
    PUBLISHED_STREAM,
    LagesbildPublishedV1,
    LagesbildReadyV1,
)
from shared.observability import RENDER_SECONDS
from shared.photos import PhotoStore
from shared.streams import Handler, RawEntry, dead_letter, invalid_reason, send

log = logging.getLogger("lagesbild.maps")


class Maps:
    def __init__(
        self,
        broker: RedisBroker,
        out: Path,
        kommuner: Mapping[str, KommunAreas],
        tiles: str | None,
        photos: PhotoStore | None = None,
    ) -> None:
        self.broker, self.out, self.kommuner, self.tiles = broker, out, kommuner, tiles
        self.photos = photos  # the reports' photos, linked from the restricted map

    def handlers(self) -> dict[str, Handler]:
        """The maps service's handlers by their name in the stream table."""
        return {"when_a_lagesbild_is_ready_render_it": self.settle}

    async def settle(self, entries: list[RawEntry]) -> None:
        for entry in entries:
            try:
                ready = LagesbildReadyV1.model_validate_json(entry.payload)
                kommun_areas = self.kommuner[ready.snapshot.kommun]
            except ValidationError as exc:
                await self.dead_letter(entry, invalid_reason(LagesbildReadyV1, exc))
                continue
            except KeyError as exc:
                await self.dead_letter(entry, f"cannot render: no areas for kommun {exc}")
                continue
            await self.publish(ready, kommun_areas)

    async def publish(self, ready: LagesbildReadyV1, kommun_areas: KommunAreas) -> None:
        snap = ready.snapshot
        with RENDER_SECONDS.time():
            map_path, summary_path = await asyncio.to_thread(
                lambda: publish_week(
                    self.out,
                    snap,
                    kommun_areas,
                    tiles=self.tiles,
                    public=ready.public,
                    photos=self.photos,
                )
            )
        event = LagesbildPublishedV1(
            kommun=snap.kommun,
            iso_week=snap.iso_week,
            revision=snap.revision,
            map_path=str(map_path),
            summary_path=str(summary_path),
            published_at=datetime.now(UTC),
        )
        await send(self.broker, PUBLISHED_STREAM, event)
        log.info(
            "published %s %s revision %d: %s", snap.kommun, snap.iso_week, snap.revision, map_path
        )

    async def dead_letter(self, entry: RawEntry, reason: str) -> None:
        await dead_letter(self.broker, LAGESBILD_READY_STREAM, entry, reason, group=MAPS_GROUP)
