"""The accessibility statement: DIGG's structure, generated from the suite's committed
results, served by the intake and the TiB and published with the archive."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from services.maps.publish import publish_week
from shared.accessibility import conformance, load_results, render_statement
from tests.a11y.support import EXPECTED_RUNS, KNOWN_EXCEPTIONS, SIZES, axe_pinned
from tests.integration.test_decision_web import decision_snapshot
from tests.unit.test_render import make_areas

DIGG_HEADINGS = [
    "Hur tillgänglig är webbplatsen?",
    "Kontakta oss / Rapportera brister",
    "Kontakta tillsynsmyndigheten",
    "Teknisk information om webbplatsens tillgänglighet",
    "Innehåll som inte är tillgängligt",
    "Hur vi testat webbplatsen",
]


def _headings(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", page)]


def test_the_committed_results_cover_every_page_at_both_sizes() -> None:
    results = load_results()
    for size in SIZES:
        listed = [(r["page"], r["path"], r["state"]) for r in results["runs"] if r["size"] == size]
        assert listed == EXPECTED_RUNS
    assert results["violations"] == 0
    assert results["axe_version"] == axe_pinned()  # tests/a11y/package.json
    assert results["known_exceptions"] == KNOWN_EXCEPTIONS


def test_the_statement_follows_diggs_structure_and_the_results() -> None:
    results = load_results()
    page = render_statement(results)
    headings = _headings(page)
    assert headings[0] == "Tillgänglighetsredogörelse för Lägesbild"
    assert [h for h in headings if h in DIGG_HEADINGS] == DIGG_HEADINGS
    assert '<html lang="sv">' in page and "<script" not in page
    assert "Myndigheten för digital förvaltning (DIGG)" in page
    assert f"axe-core {results['axe_version']}" in page
    assert "(CSP) är avstängd i webbläsaren bara under den granskningen" in page
    assert f"{len(results['runs'])} sidor och tillstånd" in page
    assert "390×844 och 1366×768" in page and "0 överträdelser" in page
    for exception in KNOWN_EXCEPTIONS:
        assert exception["what"] in page
    for name in {p for p, _, _ in EXPECTED_RUNS}:
        assert f'<th scope="row">{name}</th>' in page
    assert conformance(results) == "delvis förenlig"  # known exceptions are listed
    assert conformance({**results, "known_exceptions": []}) == "helt förenlig"
    assert conformance({**results, "violations": 2}) == "inte förenlig"


def test_the_intake_and_the_tib_serve_it_and_the_archive_publishes_it(tmp_path: Path) -> None:
    from services.intake.config import IntakeSettings
    from services.intake.main import create_app as intake_app
    from services.tib.config import TibSettings
    from services.tib.main import create_app as tib_app

    expected = render_statement()
    data = tmp_path / "data"
    db = f"sqlite:///{data / 'lagesbild.db'}"
    apps = [
        intake_app(IntakeSettings(data_dir=data, database_url=db, intake_tile_url="")),
        tib_app(TibSettings(data_dir=data, database_url=db, tib_tile_url="")),
    ]
    for app in apps:
        response = TestClient(app).get("/tillganglighet")
        assert response.status_code == 200 and response.text == expected
        assert (
            "unsafe-inline"
            not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        )
    out = tmp_path / "out"
    publish_week(out, decision_snapshot(), make_areas(), tiles=None)
    for path in (out / "tillganglighet.html", out / "offentlig" / "tillganglighet.html"):
        text = path.read_text("utf-8")
        assert 'http-equiv="Content-Security-Policy"' in text and "Hur vi testat" in text
    # Every page links to it, the week pages through the public tree.
    week = out / "0580" / "2026-W47"
    assert "../../assets/../offentlig/tillganglighet.html" in (week / "karta.html").read_text()
    assert "offentlig/tillganglighet.html" in (out / "index.html").read_text()
    public_map = (out / "offentlig" / "0580" / "2026-W47" / "karta.html").read_text()
    assert "../../assets/../tillganglighet.html" in public_map
    revision = (week / "r2" / "karta.html").read_text()
    assert "../../../assets/../offentlig/tillganglighet.html" in revision
