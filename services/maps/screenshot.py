"""PNG screenshots of a published week (map, meeting pack, public map) for a person to
look at: `lagesbild screenshot --week 2026-W47`.

Uses an installed Chromium or Chrome through Playwright (a normal dependency: the wheel
brings its driver, never a browser download), offline: every request that is not a file:
URL is blocked, so the pictures show what a laptop without internet shows. The browser is
`LAGESBILD_CHROMIUM` when set, else the first of `chromium`, `chromium-browser`,
`google-chrome`, `google-chrome-stable` on PATH (or in /usr/bin, /snap/bin), else the one
`python -m playwright install chromium` put in Playwright's cache; none: a Swedish message
that says how to get one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from services.maps.config import MapsSettings
from services.maps.publish import PUBLIC_DIR, week_dir

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT_W, VIEWPORT_H = 1600, 1000  # a projector's 16:10
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FALLBACK_PATHS = tuple(
    f"{folder}/{name}" for folder in ("/usr/bin", "/snap/bin") for name in BROWSER_NAMES
)
HOW_TO_INSTALL = (
    "Installera Chromium (t.ex. `sudo apt-get install chromium`) eller ange webbläsarens "
    "sökväg i LAGESBILD_CHROMIUM. Utan systemets Chromium går också "
    "`python -m playwright install chromium`."
)


class NoChromiumError(RuntimeError):
    """No browser to take the pictures with; the message says how to get one."""


def find_chromium(
    configured: str | None = None,
    search_path: str | None = None,
    fallbacks: Sequence[str] = FALLBACK_PATHS,
) -> str | None:
    """The browser to use: `configured` (a name on PATH or a path; an error when it is
    neither), else the first known name on `search_path` (default: PATH), else the first
    of `fallbacks` that exists. None when there is none."""
    if configured:
        found = shutil.which(configured, path=search_path)
        if found:
            return found
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured
        raise NoChromiumError(
            f"LAGESBILD_CHROMIUM={configured} finns inte eller går inte att köra. {HOW_TO_INSTALL}"
        )
    for name in BROWSER_NAMES:
        found = shutil.which(name, path=search_path)
        if found:
            return found
    return next((p for p in fallbacks if os.access(p, os.X_OK)), None)


def chromium_path() -> str:
    """The browser `lagesbild screenshot` would use (the usual Debian path when none)."""
    try:
        return find_chromium(os.environ.get("LAGESBILD_CHROMIUM")) or "/usr/bin/chromium"
    except NoChromiumError:
        return "/usr/bin/chromium"


def _block_network(route: Any) -> None:
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


def take_screenshots(
    published: Path,
    kommun: str,
    week: str,
    out: Path,
    chromium: str | None = None,
    search_path: str | None = None,
    fallbacks: Sequence[str] = FALLBACK_PATHS,
) -> list[Path]:
    """Screenshot the week's pages under `published`; returns the PNGs written.

    `chromium`: the configured browser (LAGESBILD_CHROMIUM); see `find_chromium`."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a dependency; only a broken install lacks it
        raise NoChromiumError(
            "Playwright saknas i installationen: `pip install playwright`."
        ) from exc

    pages = [
        (week_dir(published, kommun, week) / "karta.html", f"karta-{kommun}-{week}.png", False),
        (
            week_dir(published, kommun, week) / "motesunderlag.html",
            f"motesunderlag-{kommun}-{week}.png",
            True,
        ),
        (
            week_dir(published / PUBLIC_DIR, kommun, week) / "karta.html",
            f"offentlig-karta-{kommun}-{week}.png",
            False,
        ),
    ]
    missing = [str(path) for path, _, _ in pages if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"inte publicerad: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    executable = find_chromium(chromium, search_path, fallbacks)
    with sync_playwright() as p:
        if executable is None:  # Playwright's own download, if someone made one
            bundled = p.chromium.executable_path
            if not Path(bundled).is_file():
                raise NoChromiumError(f"Ingen Chromium eller Chrome hittades. {HOW_TO_INSTALL}")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for source, name, full_page in pages:
                page = browser.new_page(viewport={"width": VIEWPORT_W, "height": VIEWPORT_H})
                page.route("**/*", _block_network)
                page.goto(source.resolve().as_uri(), wait_until="load")
                if source.name == "karta.html":
                    page.wait_for_selector(".leaflet-control-layers", state="attached")
                    page.wait_for_timeout(300)  # let clusters and the fit animation settle
                page.screenshot(path=str(out / name), full_page=full_page)
                page.close()
                written.append(out / name)
        finally:
            browser.close()
    return written


def screenshot_command(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    kommun: Annotated[str, typer.Option("--kommun", help="Kommunkod.")] = "0580",
    out: Annotated[Path, typer.Option("--out", help="Mapp för bilderna.")] = Path("skärmbilder"),
) -> None:
    """Ta skärmbilder (PNG) av veckans karta och mötesunderlag från de publicerade filerna."""
    try:
        settings = MapsSettings()
    except Exception as exc:  # pydantic's message names the bad variable
        typer.echo(f"Fel i konfigurationen (LAGESBILD_…): {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        written = take_screenshots(
            settings.resolved_output_dir, kommun, week, out, chromium=settings.chromium
        )
    except FileNotFoundError as exc:
        typer.echo(f"Fel: {exc}. Bygg veckan först (lagesbild week build).", err=True)
        raise typer.Exit(1) from exc
    except NoChromiumError as exc:
        typer.echo(f"Fel: {exc}", err=True)
        raise typer.Exit(4) from exc
    for path in written:
        typer.echo(str(path))
