"""The public version says what it is: "Lägesbild vecka 47 – offentlig version", never
"mötesunderlag" (its title, heading and the public archive index)."""

from __future__ import annotations

import re
from pathlib import Path

from services.maps.publish import PUBLIC_DIR, publish_week
from tests.support.snapshots import make_areas, rich_snapshot


def test_the_public_pack_is_titled_as_the_public_version(tmp_path: Path) -> None:
    publish_week(tmp_path, rich_snapshot(), make_areas(), tiles=None)
    public = (tmp_path / PUBLIC_DIR / "0580" / "2026-W47" / "motesunderlag.html").read_text()
    title = re.search(r"<title>(.*?)</title>", public, re.S)
    heading = re.search(r"<h1>(.*?)</h1>", public, re.S)
    assert title and heading
    assert title[1].startswith("Lägesbild vecka 47 – offentlig version")
    assert re.sub(r"<[^>]+>", "", heading[1]).startswith("Lägesbild vecka 47 – offentlig version")
    for text in (title[1], heading[1]):
        assert "mötesunderlag" not in text.lower()
    public_index = (tmp_path / PUBLIC_DIR / "index.html").read_text()
    assert "mötesunderlag" not in re.sub(r'href="[^"]*"', "", public_index).lower()
    restricted = (tmp_path / "0580" / "2026-W47" / "motesunderlag.html").read_text()
    assert "<title>Mötesunderlag" in restricted  # the meeting's own version keeps its name
