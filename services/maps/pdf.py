"""`lagesbild week pdf`: the week's meeting pack printed to A4 with real Chromium.

The published pack (`{out}/{kommun}/{week}/motesunderlag.html`, with `--public` the public
version under `offentlig/`) is opened from disk with every network request refused, as
`screenshot.py` does, and printed with the pack's own print styles. The appendix (an
element `#bilaga` or `.bilaga`, headed "Bilaga") always starts on a new page; the main
part's page count is that of the pack printed without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from services.maps.config import MapsSettings
from services.maps.publish import PUBLIC_DIR, week_dir
from services.maps.screenshot import (
    CHROMIUM_ARGS,
    FALLBACK_PATHS,
    HOW_TO_INSTALL,
    NoChromiumError,
    _block_network,
    find_chromium,
)
from shared.weeks import parse_week

APPENDIX = "#bilaga, .bilaga"
PRINT_CSS = f"{APPENDIX} {{ break-before: page; page-break-before: always; }}"
HIDE_APPENDIX = f"{APPENDIX} {{ display: none !important; }}"
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@dataclass(frozen=True)
class PrintedPack:
    path: Path
    pages: int  # the whole file
    main_pages: int  # without the appendix
    has_appendix: bool


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF as Chromium writes it (one `/Type /Page` object per page)."""
    return len(_PAGE.findall(data))


def pack_path(published: Path, kommun: str, week: str, public: bool) -> Path:
    base = published / PUBLIC_DIR if public else published
    return week_dir(base, kommun, week) / "motesunderlag.html"


def print_pack(
    source: Path,
    out: Path,
    chromium: str | None = None,
    search_path: str | None = None,
    fallbacks: tuple[str, ...] = FALLBACK_PATHS,
) -> PrintedPack:
    """Print `source` to `out` (A4, backgrounds on); see the module's docstring."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise NoChromiumError(
            "Playwright saknas i installationen: `pip install playwright`."
        ) from exc
    if not source.is_file():
        raise FileNotFoundError(f"inte publicerad: {source}")
    executable = find_chromium(chromium, search_path, fallbacks)
    with sync_playwright() as p:
        if executable is None and not Path(p.chromium.executable_path).is_file():
            raise NoChromiumError(f"Ingen Chromium eller Chrome hittades. {HOW_TO_INSTALL}")
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            # The pack's meta CSP allows its own styles only: the print rule is added by
            # the browser's tooling, which the policy does not cover.
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()
            page.route("**/*", _block_network)
            page.goto(source.resolve().as_uri(), wait_until="load")
            page.emulate_media(media="print")
            has_appendix = page.locator(APPENDIX).count() > 0
            page.add_style_tag(content=PRINT_CSS)
            data = _pdf(page)
            main = data
            if has_appendix:
                page.add_style_tag(content=HIDE_APPENDIX)
                main = _pdf(page)
            context.close()
        finally:
            browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return PrintedPack(out, pdf_page_count(data), pdf_page_count(main), has_appendix)


def _pdf(page: Any) -> bytes:
    return bytes(
        page.pdf(
            format="A4",
            print_background=True,
            prefer_css_page_size=False,
            margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"},
        )
    )


def pdf_command(
    week: Annotated[str, typer.Option("--week", help="ISO-vecka, t.ex. 2026-W47.")],
    out: Annotated[Path, typer.Option("--out", help="PDF-filen att skriva, t.ex. v47.pdf.")],
    kommun: Annotated[
        str | None, typer.Option("--kommun", help="Kommunkod (standard: den första).")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Den offentliga versionen (antal under 3 som <3).")
    ] = False,
) -> None:
    """Skriv ut veckans mötesunderlag som PDF (A4) med Chromium."""
    try:
        settings = MapsSettings()
    except Exception as exc:  # pydantic's message names the bad variable
        typer.echo(f"Fel i konfigurationen (LAGESBILD_…): {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        parse_week(week)
    except ValueError as exc:
        typer.echo(f"Fel: {week!r} är ingen ISO-vecka: skriv t.ex. 2026-W47.", err=True)
        raise typer.Exit(2) from exc
    kommun = kommun or settings.kommuner[0]
    if not re.fullmatch(r"\d{4}", kommun):
        typer.echo(f"Fel: {kommun!r} är ingen kommunkod (fyra siffror, t.ex. 0580).", err=True)
        raise typer.Exit(2)
    if out.suffix.lower() != ".pdf":
        typer.echo(f"Fel: {out} ska sluta på .pdf.", err=True)
        raise typer.Exit(2)
    source = pack_path(settings.resolved_output_dir, kommun, week, public)
    try:
        printed = print_pack(source, out, chromium=settings.chromium)
    except FileNotFoundError as exc:
        typer.echo(f"Fel: {exc}. Bygg veckan först (lagesbild week build).", err=True)
        raise typer.Exit(1) from exc
    except NoChromiumError as exc:
        typer.echo(f"Fel: {exc}", err=True)
        raise typer.Exit(4) from exc
    except OSError as exc:
        typer.echo(f"Fel: kan inte skriva {out}: {exc}", err=True)
        raise typer.Exit(1) from exc
    appendix = (
        f", varav bilaga {printed.pages - printed.main_pages}" if printed.has_appendix else ""
    )
    typer.echo(
        f"{printed.path}: {printed.pages} sidor A4 (huvuddel {printed.main_pages}{appendix})."
    )
