"""The meeting pack on the real demo (issue #15): every week of every kommun opens with at
most five focus places, each with its map picture and at most one highlighted plan
activity whose categories include the place's dominant category; at most 8 hotspots a
week; printed with real Chromium, the main part of each Linköping week fits 4 A4 pages."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.maps.focus import MAX_FOCUS
from services.maps.pdf import print_pack
from services.maps.screenshot import find_chromium
from shared.redis_runtime import EmbeddedRedis
from tests.conftest import free_port, require, run_cli

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.browser]

WEEKS = 6
MAX_HOTSPOTS = 8
MAX_MAIN_PAGES = 4


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("demo")
    server = EmbeddedRedis(free_port(), root / "redis").start()
    env = {
        "LAGESBILD_REDIS_URL": server.url,
        "LAGESBILD_DATA_DIR": str(root / "data"),
        "LAGESBILD_MAP_TILES": "",
    }
    try:
        run_cli(env, "demo", "--out", str(root / "out"), "--weeks", str(WEEKS))
        yield root / "out"
    finally:
        server.stop()


def _weeks(out: Path) -> list[tuple[str, str]]:
    index = json.loads((out / "index.json").read_text("utf-8"))
    return sorted({(e["kommun"], e["iso_week"]) for e in index})


def _focus_articles(page: str) -> list[str]:
    start, end = page.index('<section id="fokus"'), page.index('<section id="kommande"')
    return page[start:end].split('<article class="focus"')[1:]


def test_every_demo_week_opens_with_a_few_mapped_focus_places(demo_out: Path) -> None:
    weeks = _weeks(demo_out)
    assert len(weeks) == 3 * WEEKS
    focused = 0
    for kommun, week in weeks:
        folder = demo_out / kommun / week
        summary = json.loads((folder / "sammanfattning.json").read_text("utf-8"))
        assert len(summary["hotspots"]) <= MAX_HOTSPOTS, (kommun, week)
        focus = summary["focus"]
        assert len(focus) <= MAX_FOCUS, (kommun, week)
        page = (folder / "motesunderlag.html").read_text("utf-8")
        assert page.index("Veckans fokus") < page.index(">Bilaga")
        articles = _focus_articles(page)
        assert len(articles) == len(focus)
        for place, article in zip(focus, articles, strict=True):
            svg = article[article.index("<svg") : article.index("</svg>") + 6]
            root = ET.fromstring(svg)  # a valid picture, drawn by the product
            assert root.get("role") == "img" and "<script" not in svg
            assert 'class="place"' in svg
            assert article.count('class="best-activity"') <= 1
            if place["activity"] is not None:
                assert place["dominant_label"] in place["activity"]["categories"]
                assert place["activity"]["activity"] in article
            assert "../beslut?target=" in article
        focused += bool(focus)
        public = (demo_out / "offentlig" / kommun / week / "motesunderlag.html").read_text("utf-8")
        assert "placemap" not in public and "Kommande dagar" not in public
    assert focused >= WEEKS  # the demo's weeks do have places to talk about


def test_the_main_part_prints_on_at_most_four_pages(demo_out: Path, tmp_path: Path) -> None:
    require(find_chromium() is not None, "no Chromium installed; apt-get install chromium")
    for kommun, week in _weeks(demo_out):
        if kommun != "0580":
            continue  # the largest kommun of the demo: the most focus places and rows
        pack = demo_out / kommun / week / "motesunderlag.html"
        printed = print_pack(pack, tmp_path / f"{week}.pdf")
        assert printed.has_appendix
        assert 1 <= printed.main_pages <= MAX_MAIN_PAGES, (week, printed)
        assert printed.pages > printed.main_pages  # "Bilaga" after a page break
