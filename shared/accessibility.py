"""The accessibility statement (tillgänglighetsredogörelse) that Lag (2018:1937) om
tillgänglighet till digital offentlig service asks for, in the structure of DIGG's model
statement, generated from the accessibility test suite's results.

`tests/a11y/` runs axe-core over every page and state at two sizes, the keyboard-only and
reflow tests, and writes what it tested to `data/a11y/resultat.json` (committed; a test
checks that the committed file matches a fresh run's pages and shows zero violations).
`render_statement()` turns that file into the page that the intake and the TiB serve at
`/tillganglighet` and that the maps service publishes as `tillganglighet.html` in both
archive trees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

A11Y_DIR = Path(__file__).parent / "data" / "a11y"
RESULTS_PATH = A11Y_DIR / "resultat.json"
STATEMENT_PATH = "/tillganglighet"
STATEMENT_FILE = "tillganglighet.html"
DIGG_REPORT_URL = "https://www.digg.se/tdosanmalan"

_templates = Environment(
    loader=FileSystemLoader(A11Y_DIR),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
)


def load_results(path: Path = RESULTS_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def conformance(results: dict[str, Any]) -> str:
    """DIGG's three levels: 'helt förenlig', 'delvis förenlig' or 'inte förenlig'."""
    if results.get("violations", 1) == 0 and not results.get("known_exceptions"):
        return "helt förenlig"
    if results.get("violations", 1) == 0:
        return "delvis förenlig"
    return "inte förenlig"


def render_statement(results: dict[str, Any] | None = None, *, site: str = "Lägesbild") -> str:
    """The statement as a complete HTML page (Swedish, no scripts)."""
    results = results if results is not None else load_results()
    pages: dict[str, dict[str, Any]] = {}
    for run in results.get("runs", []):
        entry = pages.setdefault(run["page"], {"page": run["page"], "states": [], "sizes": []})
        if run["state"] not in entry["states"]:
            entry["states"].append(run["state"])
        if run["size"] not in entry["sizes"]:
            entry["sizes"].append(run["size"])
    return _templates.get_template("tillganglighet.html.j2").render(
        site=site,
        r=results,
        level=conformance(results),
        pages=list(pages.values()),
        digg_url=DIGG_REPORT_URL,
    )
