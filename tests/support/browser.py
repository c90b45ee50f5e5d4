"""Real headless Chromium for the browser tests: the system's binary (Debian's `chromium`),
driven by Playwright's sync API, never a browser download.

The `browser` fixture (tests/conftest.py) launches one per test module with
`launched_chromium`; a test that uses it is marked `browser`. Without Chromium the test is
skipped, in CI it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require_chromium(path: str | None = CHROMIUM) -> None:
    require(
        path is not None and Path(path).exists(),
        f"no chromium binary (looked for {path}); apt-get install chromium",
    )


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """The system's Chromium under Playwright's sync API (one at a time per thread)."""
    require_chromium()
    from playwright import sync_api  # a runtime dependency (`lagesbild screenshot`)

    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
