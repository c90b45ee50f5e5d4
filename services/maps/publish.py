"""Write a week's lägesbild into the publish folder, atomically, in two trees.

Restricted (meeting, TiB; served with a token)::

    {out}/index.html, index.json (the manifest), assets/…
    {out}/{kommun}/{week}/karta.html, motesunderlag.html, sammanfattning.json,
                          export.geojson, export.csv, export-omraden.csv (Swedish Excel),
                          export-rfc4180.csv (for programs)
    {out}/{kommun}/{week}/r{revision}/…   every revision, kept readable

Public (aggregated, counts below 3 suppressed; served without a token)::

    {out}/offentlig/index.html, assets/…
    {out}/offentlig/{kommun}/{week}/karta.html, motesunderlag.html, sammanfattning.json
    {out}/offentlig/{kommun}/{week}/r{revision}/…

The week's main files are the newest revision's; a late event for an older revision
only writes its `r{n}` copy. Every file is written to a temporary name and renamed into
place, so a reader never sees half a page.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.maps.exports import (
    export_counts_csv,
    export_geojson,
    export_incidents_csv,
    export_incidents_machine_csv,
)
from services.maps.meeting import render_meeting_pack
from services.maps.public import public_summary
from services.maps.render import (
    install_assets,
    render_index,
    render_public_map,
    render_week_map,
    week_summary,
)
from shared.accessibility import STATEMENT_FILE, render_statement
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1
from shared.counting import week_numbers
from shared.formats import week_label_sv
from shared.photos import PhotoStore
from shared.web_security import content_security_policy, meta_tag, script_hashes, tile_sources

MANIFEST = "index.json"
PUBLIC_DIR = "offentlig"
ASSET_PREFIX = "../../assets"  # from {tree}/{kommun}/{week}/
PHOTO_FOLDER = "foto"  # /{kommun}/foto/{photo id}.jpg: served from the photo store, never published
_HEAD = re.compile(r"<head(?:\s[^>]*)?>", re.IGNORECASE)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def with_csp(page: str, *, tiles: str | None = None) -> str:
    """The page with its Content-Security-Policy as a ``<meta>`` first in ``<head>``, so
    that it holds when the file is opened from disk, a USB stick or an e-mail: scripts only
    from the assets folder and the page's own inline scripts (by hash), images also from
    the map's tile server."""
    policy = content_security_policy(
        script_hashes=script_hashes(page), for_meta=True, img_sources=tile_sources(tiles)
    )
    head = _HEAD.search(page)
    if head is None:
        raise ValueError("sidan saknar <head>: ingen plats för dess Content-Security-Policy")
    return f"{page[: head.end()]}\n{meta_tag(policy)}{page[head.end() :]}"


def week_dir(out: Path, kommun: str, iso_week: str) -> Path:
    return out / kommun / iso_week


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def photo_addresses(snapshot: WeekSnapshotV1, photos: PhotoStore | None) -> dict[str, str]:
    """Incident key -> the archive server's address of its report's photo (behind the
    restricted login, `services/maps/server.py`), for the incidents that have one."""
    if photos is None:
        return {}
    found = photos.ids_for(snapshot.kommun, (i.key for i in snapshot.incidents))
    return {key: photo_path(snapshot.kommun, pid) for key, pid in found.items()}


def photo_path(kommun: str, pid: str) -> str:
    return f"/{kommun}/{PHOTO_FOLDER}/{pid}.jpg"


def restricted_files(
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None,
    photos: PhotoStore | None = None,
) -> dict[str, str]:
    """The restricted tree's files. The summary is computed once: the JSON is it, and the
    map and the meeting pack are rendered from it (one set of numbers)."""
    summary = week_summary(snapshot)
    return {
        "sammanfattning.json": _json(summary),
        "karta.html": render_week_map(
            snapshot,
            kommun_areas,
            tiles=tiles,
            asset_prefix=ASSET_PREFIX,
            photos=photo_addresses(snapshot, photos),
            summary=summary,
            public=public_summary(snapshot),  # its shown totals set both maps' colour classes
        ),
        "motesunderlag.html": render_meeting_pack(summary, areas=kommun_areas),
        "export.geojson": export_geojson(snapshot, kommun_areas),
        "export.csv": export_incidents_csv(snapshot),
        "export-omraden.csv": export_counts_csv(snapshot),
        "export-rfc4180.csv": export_incidents_machine_csv(snapshot),
    }


def public_files(
    snapshot: WeekSnapshotV1, kommun_areas: KommunAreas, *, tiles: str | None
) -> dict[str, str]:
    summary = public_summary(snapshot)
    return {
        "sammanfattning.json": _json(summary),
        "karta.html": render_public_map(
            snapshot, kommun_areas, tiles=tiles, asset_prefix=ASSET_PREFIX, summary=summary
        ),
        "motesunderlag.html": render_meeting_pack(summary),
    }


def _one_level_deeper(name: str, text: str) -> str:
    """A page in r{n}/ reaches the shared assets one folder further up."""
    if not name.endswith(".html"):
        return text
    return text.replace(f'"{ASSET_PREFIX}/', f'"../{ASSET_PREFIX}/')


def _write_week(
    folder: Path, revision: int, files: dict[str, str], newest: bool, tiles: str | None
) -> None:
    def final(name: str, text: str) -> str:
        return with_csp(text, tiles=tiles) if name.endswith(".html") else text

    for name, text in files.items():
        write_atomically(folder / f"r{revision}" / name, final(name, _one_level_deeper(name, text)))
    if newest:
        for name, text in files.items():
            write_atomically(folder / name, final(name, text))


def publish_week(
    out: Path,
    snapshot: WeekSnapshotV1,
    kommun_areas: KommunAreas,
    *,
    tiles: str | None,
    public: bool = True,
    photos: PhotoStore | None = None,
) -> tuple[Path, Path]:
    """Render and write one week; returns (map path, summary path).

    `public=False` (a revision made by late reports) leaves the public tree as it was: it
    changes only with the scheduled weekly build, so that comparing two public revisions
    cannot single out one late report."""
    public_out = out / PUBLIC_DIR
    # Rendered outside the lock (the slow part); several maps workers render at once.
    restricted = restricted_files(snapshot, kommun_areas, tiles=tiles, photos=photos)
    public_pages = public_files(snapshot, kommun_areas, tiles=tiles) if public else None
    key = (snapshot.kommun, snapshot.iso_week)
    folder = week_dir(out, *key)
    with _manifest_lock(out):
        # The manifest is read, changed and written by one worker at a time: two maps
        # processes publishing different weeks at once would otherwise lose an entry.
        install_assets(out)
        install_assets(public_out)
        entries = _read_manifest(out)
        known = [e for e in entries if (e["kommun"], e["iso_week"]) == key]
        newest = not known or snapshot.revision >= known[0]["revision"]
        _write_week(folder, snapshot.revision, restricted, newest, tiles)
        if public_pages is not None:
            _write_week(week_dir(public_out, *key), snapshot.revision, public_pages, newest, tiles)
        _update_index(out, entries, snapshot, newest, public=public)
    return folder / "karta.html", folder / "sammanfattning.json"


@contextlib.contextmanager
def _manifest_lock(out: Path) -> Iterator[None]:
    """An exclusive lock on the publish folder (a lock file beside the manifest)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_manifest(out: Path) -> list[dict[str, Any]]:
    path = out / MANIFEST
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def _update_index(
    out: Path,
    entries: list[dict[str, Any]],
    snapshot: WeekSnapshotV1,
    newest: bool,
    *,
    public: bool = True,
) -> None:
    """One manifest entry per week: its revisions, and separately those of the public
    version (which may lag behind, see `publish_week`)."""
    key = (snapshot.kommun, snapshot.iso_week)
    old = next((e for e in entries if (e["kommun"], e["iso_week"]) == key), {})
    entry = dict(old)
    earlier = old.get("revisions", [old["revision"]] if old else [])
    entry["revisions"] = sorted({*earlier, snapshot.revision})
    if newest:
        entry.update(
            kommun=snapshot.kommun,
            kommun_name=snapshot.kommun_name,
            iso_week=snapshot.iso_week,
            revision=snapshot.revision,
            total=week_numbers(snapshot).total.count,
            week_label=week_label_sv(snapshot.iso_week),
        )
    if public:  # entries written before public revisions were kept apart: all were public
        public_earlier = old.get("public_revisions", earlier)
        entry["public_revisions"] = sorted({*public_earlier, snapshot.revision})
        if snapshot.revision >= old.get("public_revision", old.get("revision", 0)):
            entry["public_revision"] = snapshot.revision
            # The public index shows only what the public week shows (it may be withheld).
            entry["public_total"] = public_summary(snapshot)["total"]
    entries = [e for e in entries if (e["kommun"], e["iso_week"]) != key] + [entry]
    entries.sort(key=lambda e: (e["kommun"], e["iso_week"]))
    write_atomically(out / MANIFEST, _json(entries))
    write_atomically(out / "index.html", with_csp(render_index(entries)))
    write_atomically(out / PUBLIC_DIR / "index.html", with_csp(render_index(entries, public=True)))
    statement = with_csp(render_statement())  # the accessibility statement, in both trees
    write_atomically(out / STATEMENT_FILE, statement)
    write_atomically(out / PUBLIC_DIR / STATEMENT_FILE, statement)
