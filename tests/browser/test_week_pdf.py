"""`lagesbild week pdf` as a user runs it: a process, the published week, real Chromium,
A4 pages; the appendix ("Bilaga") after a page break, the main part counted without it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.maps.pdf import pdf_page_count, print_pack
from services.maps.publish import publish_week
from services.maps.screenshot import find_chromium
from tests.conftest import require
from tests.support.snapshots import make_areas, rich_snapshot

pytestmark = pytest.mark.browser
A4_POINTS = (595.92, 842.88)  # Chromium's A4 MediaBox, in points


def _env(published: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LAGESBILD_")}
    env["LAGESBILD_OUTPUT_DIR"] = str(published)
    return env


def _media_boxes(data: bytes) -> list[tuple[float, float]]:
    return [
        (float(w), float(h))
        for w, h in re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    ]


@pytest.mark.parametrize("public", [False, True])
def test_week_pdf_prints_the_pack_on_a4(tmp_path: Path, public: bool) -> None:
    require(find_chromium() is not None, "no Chromium installed; apt-get install chromium")
    published = tmp_path / "out"
    publish_week(published, rich_snapshot(), make_areas(), tiles=None)
    out = tmp_path / "v47.pdf"
    args = ["week", "pdf", "--week", "2026-W47", "--kommun", "0580", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", *args, *(["--public"] if public else [])],
        env=_env(published),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = pdf_page_count(data)
    assert pages >= 1
    assert f"{pages} sidor A4" in proc.stdout
    boxes = _media_boxes(data)
    assert boxes and all(abs(w - A4_POINTS[0]) < 2 and abs(h - A4_POINTS[1]) < 2 for w, h in boxes)


def test_the_appendix_starts_on_its_own_page(tmp_path: Path) -> None:
    """The pack's appendix ("Bilaga": the full tables): after a page break, the main part
    counted apart."""
    require(find_chromium() is not None, "no Chromium installed; apt-get install chromium")
    published = tmp_path / "out"
    publish_week(published, rich_snapshot(), make_areas(), tiles=None)
    pack = published / "0580" / "2026-W47" / "motesunderlag.html"
    assert '<h2 id="bilaga-rubrik">Bilaga' in pack.read_text("utf-8")
    printed = print_pack(pack, tmp_path / "med.pdf")
    assert printed.has_appendix and printed.pages > printed.main_pages >= 1


def test_week_pdf_without_a_built_week_says_so(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "week", "pdf", "--week", "2026-W47",
         "--out", str(tmp_path / "x.pdf")],
        env=_env(tmp_path / "tom"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Bygg veckan först" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.pdf").exists()
