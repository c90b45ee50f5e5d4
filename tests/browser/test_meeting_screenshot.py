"""`lagesbild screenshot`: PNGs of the published map and meeting pack (real Chromium).

In a module of its own: it starts its own Playwright, which cannot run while another
module's browser fixture holds the sync API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.maps.publish import publish_week
from services.maps.screenshot import chromium_path, take_screenshots
from tests.support.browser import require_chromium
from tests.support.snapshots import make_areas, rich_snapshot

pytestmark = pytest.mark.browser


def test_screenshots_of_map_and_meeting_pack(tmp_path: Path) -> None:
    require_chromium(chromium_path())
    published = tmp_path / "out"
    publish_week(published, rich_snapshot(), make_areas(), tiles=None)
    shots = take_screenshots(published, "0580", "2026-W47", tmp_path / "bilder")
    assert [p.name for p in shots] == [
        "karta-0580-2026-W47.png",
        "motesunderlag-0580-2026-W47.png",
        "offentlig-karta-0580-2026-W47.png",
    ]
    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 20_000
        width = int.from_bytes(data[16:20], "big")
        assert width == 1600
    with pytest.raises(FileNotFoundError, match=re.escape("2026-W01")):
        take_screenshots(published, "0580", "2026-W01", tmp_path / "bilder")
