"""PNG screenshots of a published week (map, meeting pack, public map) for a person to
look at: `lagesbild screenshot --week 2026-W47`.

Uses Debian's Chromium through Playwright (never `playwright install`), offline: every
request that is not a file: URL is blocked, so the pictures show what a laptop without
internet shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from services.maps.publish import PUBLIC_DIR, week_dir
from shared.config import Settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT_W, VIEWPORT_H = 1600, 1000  # a projector's 16:10


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


def _block_network(route: Any) -> None:
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


def take_screenshots(published: Path, kommun: str, week: str, out: Path) -> list[Path]:
    """Screenshot the week's pages under `published`; returns the PNGs written."""
    from playwright.sync_api import sync_playwright

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
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
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
    published = Settings().resolved_output_dir
    try:
        written = take_screenshots(published, kommun, week, out)
    except FileNotFoundError as exc:
        typer.echo(f"Fel: {exc}. Bygg veckan först (lagesbild week build).", err=True)
        raise typer.Exit(1) from exc
    for path in written:
        typer.echo(str(path))
