"""The accessibility suite's shared parts: axe-core in real Chromium, the list of what was
tested (written to the statement's results file), and the helpers every page's test uses.

A new page or state: open it in an `axe_context` and call
`assert_accessible(page, name, path, state, size, recorder)` at each of `SIZES`; add the
(page, path, state) triple to `EXPECTED_RUNS` so the statement lists it, run the suite
once with `LAGESBILD_A11Y_UPDATE=1` and commit `shared/data/a11y/resultat.json`.

axe-core is the version pinned in `tests/a11y/package.json` (the one the issue's audit
used; `npm ci` beside this file installs it), injected with `page.add_script_tag(path=…)`.
axe runs in a browser context with `bypass_csp=True` (the injected script is not allowed
by the pages' CSP): for the audit only; every behaviour test keeps the CSP on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.accessibility import RESULTS_PATH

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SIZES = {"390×844": (390, 844), "1366×768": (1366, 768)}
REFLOW = (320, 640)
HERE = Path(__file__).parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
UPDATE_ENV = "LAGESBILD_A11Y_UPDATE"  # "1": write the results file from this run

# What automated rules cannot judge, and what we know is not fully accessible.
KNOWN_EXCEPTIONS = [
    {
        "what": "Kartbilden (områdenas färger, värmekartan Täthet och bakgrundskartan)",
        "criterion": "WCAG 1.1.1, 1.4.11",
        "why": "Kartan är en bild av läget; färgerna kan inte läsas av en skärmläsare och "
        "värmekartan visar täthet bara med färg.",
        "instead": "Samma antal står vid varje områdesnamn och i tabellerna under kartan, och "
        "varje händelse finns i listan per kategori.",
    },
    {
        "what": "Kartans ytor (områden, väktarnas närvaro, TiB:s rapporter)",
        "criterion": "WCAG 2.1.1",
        "why": "Ytorna nås inte med tabbtangenten; deras uppgifter visas när man för musen "
        "över dem.",
        "instead": "Allt som ytorna visar finns i tabellerna och listorna bredvid eller under "
        "kartan; hotspots och händelser nås med tangentbord både på kartan och från tabellerna.",
    },
    {
        "what": "Tidsmönstren i mötesunderlaget (veckodag × timme)",
        "criterion": "WCAG 1.1.1",
        "why": "Varje rutas antal står bara i ett verktygstips.",
        "instead": "Bildens text anger summan och när det var flest rapporter; tabellerna i "
        "mötesunderlaget har antalen per område och kategori.",
    },
    {
        "what": "Platssökning på adress",
        "criterion": "WCAG 2.1.1",
        "why": "Tjänsten har ingen adressökning (ingen geokodare utan internet).",
        "instead": "Sök på område, del av område eller koordinater, tryck på kartan eller "
        "använd enhetens position.",
    },
]
MANUAL_CHECKS = [
    "Tangentbord utan mus: en rapport skickas med platsen vald genom sökning när positionen "
    "nekas; en händelses detaljer läses från veckokartan och dess popup stängs med Esc; ett "
    "TiB-uppdrag utfärdas, ändras och ställs in; en väktare kvitterar ett uppdrag, checkar in "
    "och ut och rapporterar utfallet på sidan Uppdrag, där varje ändring läses upp; ett beslut "
    "registreras; fokus syns hela tiden och stannar på samma uppdrag när listorna ritas om "
    "(tests/a11y/test_keyboard.py).",
    "Omflödning i 320 pixlars bredd: inget innehåll eller reglage döljs och sidan rullar inte i "
    "sidled (tests/a11y/test_reflow.py).",
    "Kontrast: kartans färger för områden, kategorier och klustersiffror räknas mot WCAG:s "
    "gränser 4,5:1 och 3:1 (tests/a11y/test_contrast.py).",
]

# (page, path, state): every page and state the axe test visits, at every size.
EXPECTED_RUNS: list[tuple[str, str, str]] = [
    ("Rapportformuläret", "/rapport", "nyckel saknas"),
    ("Rapportformuläret", "/rapport", "tomt"),
    ("Rapportformuläret", "/rapport", "platsförslag öppna"),
    ("Rapportformuläret", "/rapport", "med fel"),
    ("Rapportformuläret", "/rapport", "skickad"),
    ("Tillgänglighetsredogörelsen", "/tillganglighet", "visad"),
    ("TiB", "/logga-in", "inloggning"),
    ("TiB", "/tib", "live"),
    ("TiB", "/tib", "uppdrag utfärdat"),
    ("TiB", "/tib", "uppdrag ändras"),
    ("TiB", "/tib", "uppdrag med fel"),
    ("Väktarnas uppdrag", "/uppdrag", "inloggning"),
    ("Väktarnas uppdrag", "/uppdrag", "uppdragslista"),
    ("Väktarnas uppdrag", "/uppdrag", "uppdrag öppet"),
    ("Väktarnas uppdrag", "/uppdrag", "utan nät, åtgärd i kö"),
    ("Väktarnas uppdrag", "/uppdrag", "åtgärd avvisad"),
    ("Arkivet", "/logga-in", "inloggning"),
    ("Arkivet", "/index.html", "veckolista"),
    ("Veckokartan", "/{kommun}/{vecka}/karta.html", "stängd"),
    ("Veckokartan", "/{kommun}/{vecka}/karta.html", "händelsepopup öppen"),
    ("Veckokartan", "/{kommun}/{vecka}/karta.html", "hotspotpopup öppen"),
    ("Veckokartan", "/{kommun}/{vecka}/karta.html", "tabeller öppna"),
    ("Mötesunderlaget", "/{kommun}/{vecka}/motesunderlag.html", "visat"),
    ("Beslutssidan", "/{kommun}/beslut", "tomt"),
    ("Beslutssidan", "/{kommun}/beslut", "med fel"),
    ("Beslutssidan", "/{kommun}/beslut", "registrerat"),
    ("Beslutssidan", "/{kommun}/beslut", "återrapport öppen"),
    ("Beslutssidan", "/{kommun}/beslut", "återrapporterat"),
    ("Offentliga arkivet", "/offentlig/index.html", "veckolista"),
    ("Offentliga veckokartan", "/offentlig/{kommun}/{vecka}/karta.html", "stängd"),
    ("Offentliga mötesunderlaget", "/offentlig/{kommun}/{vecka}/motesunderlag.html", "visat"),
]


def need_chromium() -> Any:
    """Playwright's sync API, or a skip when there is no Chromium."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium binary (looked for {CHROMIUM}); apt-get install chromium")
    return pytest.importorskip("playwright.sync_api")


def axe_pinned() -> str:
    """The axe-core version tests/a11y/package.json pins."""
    package = json.loads((HERE / "package.json").read_text(encoding="utf-8"))
    version: str = package["dependencies"]["axe-core"]
    return version


def axe_script() -> Path:
    """axe-core's browser bundle, the version pinned in tests/a11y/package.json (the one
    the issue's audit used), installed with `npm ci` beside this file when absent."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the accessibility tests")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                       capture_output=True, timeout=600)  # fmt: skip
    return AXE_SCRIPT


def axe_context(browser: Any, size: tuple[int, int], **options: Any) -> Any:
    """A context for axe runs: the given viewport, Swedish locale, CSP bypassed (only so
    that axe itself can be injected)."""
    width, height = size
    return browser.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, locale="sv-SE",
        timezone_id="Europe/Stockholm", **options,
    )  # fmt: skip


def run_axe(page: Any) -> dict[str, Any]:
    """axe-core over the whole page with the WCAG 2.0/2.1 A and AA rules."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=axe_script())
    result: dict[str, Any] = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                               resultTypes: ["violations"]});
            return {version: axe.version, passes: r.passes.length,
                    violations: r.violations.map((v) => ({id: v.id, impact: v.impact,
                        help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({
                            target: n.target.join(" "), summary: n.failureSummary}))}))};
        }""",
        AXE_TAGS,
    )
    return result


@dataclass
class Recorder:
    """Every axe run of a test: (page, path, state, size) and what axe found."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    axe_version: str = ""
    browser: str = ""

    def failures(self) -> list[str]:
        out = []
        for run in self.runs:
            for v in run["found"]:
                nodes = "; ".join(f"{n['target']}: {n['summary']}" for n in v["nodes"])
                out.append(f"{run['page']} [{run['state']}, {run['size']}] {v['id']}: {nodes}")
        return out


def assert_accessible(
    page: Any, name: str, path: str, state: str, size: str, recorder: Recorder
) -> None:
    """Run axe on the page as it is now and record it; the test asserts at its end (so one
    run reports every violation of every page)."""
    result = run_axe(page)
    recorder.axe_version = result["version"]
    recorder.runs.append(
        {
            "page": name,
            "path": path,
            "state": state,
            "size": size,
            "passes": result["passes"],
            "found": result["violations"],
        }
    )


def check_results(recorder: Recorder, size: str) -> None:
    """The committed results file lists exactly this run's pages at `size`, with zero
    violations; with LAGESBILD_A11Y_UPDATE=1 this run is written into it first."""
    fresh = [(r["page"], r["path"], r["state"]) for r in recorder.runs]
    assert fresh == EXPECTED_RUNS, "the axe test visited other pages than EXPECTED_RUNS"
    if os.environ.get(UPDATE_ENV) == "1":
        _write(recorder, size)
    committed = json.loads(RESULTS_PATH.read_text(encoding="utf-8"))
    listed = [(r["page"], r["path"], r["state"]) for r in committed["runs"] if r["size"] == size]
    assert listed == fresh, (
        f"{RESULTS_PATH} does not list this run's pages at {size}: run the suite with "
        f"{UPDATE_ENV}=1 and commit the file"
    )
    assert recorder.axe_version == axe_pinned(), "the page ran another axe-core than pinned"
    assert committed["axe_version"] == recorder.axe_version, (
        f"{RESULTS_PATH} was written with axe-core {committed['axe_version']}, this run used "
        f"{recorder.axe_version}: run the suite with {UPDATE_ENV}=1 and commit the file"
    )
    assert committed["violations"] == 0
    assert all(r["violations"] == 0 for r in committed["runs"])
    assert committed["known_exceptions"] == KNOWN_EXCEPTIONS
    assert committed["manual_checks"] == MANUAL_CHECKS
    assert committed["rule_tags"] == AXE_TAGS


def _write(recorder: Recorder, size: str) -> None:
    try:
        data = json.loads(RESULTS_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    kept = [r for r in data.get("runs", []) if r.get("size") != size and r.get("size") in SIZES]
    mine = [
        {
            "page": r["page"],
            "path": r["path"],
            "state": r["state"],
            "size": r["size"],
            "rules_passed": r["passes"],
            "violations": len(r["found"]),
        }
        for r in recorder.runs
    ]
    order = list(SIZES)
    runs = sorted(kept + mine, key=lambda r: order.index(r["size"]))
    data = {
        "tested": date.today().isoformat(),
        "axe_version": recorder.axe_version,
        "browser": recorder.browser,
        "rule_tags": AXE_TAGS,
        "sizes": [s for s in order if any(r["size"] == s for r in runs)],
        "runs": runs,
        "violations": sum(r["violations"] for r in runs),
        "known_exceptions": KNOWN_EXCEPTIONS,
        "manual_checks": MANUAL_CHECKS,
    }
    RESULTS_PATH.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
