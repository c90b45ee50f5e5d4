"""Offline map pages: point folium's CDN links at vendored copies in ``assets/``.

Folium writes ``<script src="https://cdn…">`` and ``<link href="https://cdn…">`` tags.
`localize_html` rewrites every one of them to ``{asset_prefix}/<file>``, drops the tags
of libraries the maps never use (jQuery, Bootstrap, Font Awesome, awesome-markers) and
raises `OfflineAssetError` for any other http(s) URL, so a new folium version or a new
plugin cannot silently make a page depend on the network again.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "assets"

# (pattern on the CDN URL, vendored file)
_VENDORED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"/leaflet@[\d.]+/dist/leaflet\.js$", "leaflet.js"),
        (r"/leaflet@[\d.]+/dist/leaflet\.css$", "leaflet.css"),
        (
            r"leaflet\.markercluster[/@][\d.]+/(dist/)?leaflet\.markercluster\.js$",
            "leaflet.markercluster.js",
        ),
        (r"leaflet\.markercluster[/@][\d.]+/(dist/)?MarkerCluster\.css$", "MarkerCluster.css"),
        (
            r"leaflet\.markercluster[/@][\d.]+/(dist/)?MarkerCluster\.Default\.css$",
            "MarkerCluster.Default.css",
        ),
        (r"/leaflet_heat\.min\.js$", "leaflet_heat.min.js"),
    )
)

# Folium defaults the maps never use (no folium.Icon, no Bootstrap markup).
_UNUSED = re.compile(
    r"jquery|bootstrap|fontawesome|font-awesome|awesome-markers|awesome\.rotate",
    re.IGNORECASE,
)

_SCRIPT_TAG = re.compile(r"<script\b[^>]*?\bsrc=\"([^\"]*)\"[^>]*>\s*</script>\s*", re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\b[^>]*?\bhref=\"([^\"]*)\"[^>]*?/?>\s*", re.IGNORECASE)
_REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)


class OfflineAssetError(RuntimeError):
    """The page references a remote script or stylesheet with no vendored copy."""


def vendored_file(url: str) -> str | None:
    """The vendored file name for a CDN URL, or None when there is none."""
    for pattern, name in _VENDORED:
        if pattern.search(url):
            return name
    return None


def localize_html(html: str, asset_prefix: str) -> str:
    """Rewrite CDN script/link URLs to ``{asset_prefix}/<file>``; raise on unknown URLs."""
    prefix = asset_prefix.rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group(1)
        if not _REMOTE.match(url):
            return tag
        name = vendored_file(url)
        if name is not None:
            return tag.replace(url, f"{prefix}/{name}")
        if _UNUSED.search(url):
            return ""
        raise OfflineAssetError(f"no vendored copy of {url}; add it to shared/assets")

    return _LINK_TAG.sub(rewrite, _SCRIPT_TAG.sub(rewrite, html))


def remote_asset_urls(html: str) -> list[str]:
    """Every http(s) or protocol-relative URL left in a script src or link href."""
    urls = [m.group(1) for m in _SCRIPT_TAG.finditer(html)]
    urls += [m.group(1) for m in _LINK_TAG.finditer(html)]
    return [u for u in urls if _REMOTE.match(u)]


def install_assets(out_dir: Path) -> Path:
    """Copy the vendored assets to ``out_dir/assets``; return that folder.

    Idempotent: files already identical are left alone; others are written to a
    temporary name and renamed into place, so a page being read never gets half a file.
    """
    target = Path(out_dir) / "assets"
    for source in sorted(ASSETS_DIR.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        dest = target / source.relative_to(ASSETS_DIR)
        data = source.read_bytes()
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target
