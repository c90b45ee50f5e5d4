"""Write a week's lägesbild into the publish folder, atomically, in two trees.

Restricted (meeting, TiB; served with a token)::

    {out}/index.html, index.json (the manifest), assets/…
    {out}/{kommun}/{week}/karta.html, motesunderlag.html, sammanfattning.json,
                          export.geojson, export.csv, export-omraden.csv
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

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from services.maps.exports import export_counts_csv, export_geojson, export_incidents_csv
from services.maps.meeting import render_meeting_pack
from services.maps.public import public_summary
from services.maps.render import (
    install_assets,
    render_index,
    render_public_map,
    render_week_map,
    week_summary,
)
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1

MANIFEST = "index.json"
PUBLIC_DIR = "offentlig"
ASSET_PREFIX = "../../assets"  # from {tree}/{kommun}/{week}/


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


def week_dir(out: Path, kommun: str, iso_week: str) -> Path:
    return out / kommun / iso_week


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def restricted_files(
    snapshot: WeekSnapshotV1, kommun_areas: KommunAreas, *, tiles: str | None
) -> dict[str, str]:
    return {
        "sammanfattning.json": _json(week_summary(snapshot)),
        "karta.html": render_week_map(
            snapshot, kommun_areas, tiles=tiles, asset_prefix=ASSET_PREFIX
        ),
        "motesunderlag.html": render_meeting_pack(snapshot),
        "export.geojson": export_geojson(snapshot, kommun_areas),
        "export.csv": export_incidents_csv(snapshot),
        "export-omraden.csv": export_counts_csv(snapshot),
    }


def public_files(
    snapshot: WeekSnapshotV1, kommun_areas: KommunAreas, *, tiles: str | None
) -> dict[str, str]:
    return {
        "sammanfattning.json": _json(public_summary(snapshot)),
        "karta.html": render_public_map(
            snapshot, kommun_areas, tiles=tiles, asset_prefix=ASSET_PREFIX
        ),
        "motesunderlag.html": render_meeting_pack(snapshot, public=True),
    }


def _one_level_deeper(name: str, text: str) -> str:
    """A page in r{n}/ reaches the shared assets one folder further up."""
    if not name.endswith(".html"):
        return text
    return text.replace(f'"{ASSET_PREFIX}/', f'"../{ASSET_PREFIX}/')


def _write_week(folder: Path, revision: int, files: dict[str, str], newest: bool) -> None:
    for name, text in files.items():
        write_atomically(folder / f"r{revision}" / name, _one_level_deeper(name, text))
    if newest:
        for name, text in files.items():
            write_atomically(folder / name, text)


def publish_week(
    out: Path, snapshot: WeekSnapshotV1, kommun_areas: KommunAreas, *, tiles: str | None
) -> tuple[Path, Path]:
    """Render and write one week in both trees; returns (map path, summary path)."""
    public_out = out / PUBLIC_DIR
    install_assets(out)
    install_assets(public_out)
    entries = _read_manifest(out)
    key = (snapshot.kommun, snapshot.iso_week)
    known = [e for e in entries if (e["kommun"], e["iso_week"]) == key]
    newest = not known or snapshot.revision >= known[0]["revision"]
    folder = week_dir(out, *key)
    _write_week(
        folder, snapshot.revision, restricted_files(snapshot, kommun_areas, tiles=tiles), newest
    )
    _write_week(
        week_dir(public_out, *key),
        snapshot.revision,
        public_files(snapshot, kommun_areas, tiles=tiles),
        newest,
    )
    _update_index(out, entries, snapshot, newest)
    return folder / "karta.html", folder / "sammanfattning.json"


def _read_manifest(out: Path) -> list[dict[str, Any]]:
    path = out / MANIFEST
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def _update_index(
    out: Path, entries: list[dict[str, Any]], snapshot: WeekSnapshotV1, newest: bool
) -> None:
    key = (snapshot.kommun, snapshot.iso_week)
    old = next((e for e in entries if (e["kommun"], e["iso_week"]) == key), None)
    revisions = set(old.get("revisions", [old["revision"]])) if old else set()
    revisions.add(snapshot.revision)
    entry = dict(old) if old and not newest else {}
    if newest:
        entry = {
            "kommun": snapshot.kommun,
            "kommun_name": snapshot.kommun_name,
            "iso_week": snapshot.iso_week,
            "revision": snapshot.revision,
            "total": sum(c.count for c in snapshot.cells),
            # The public index shows only what the public week shows (it may be withheld).
            "public_total": public_summary(snapshot)["total"],
        }
    entry["revisions"] = sorted(revisions)
    entries = [e for e in entries if (e["kommun"], e["iso_week"]) != key] + [entry]
    entries.sort(key=lambda e: (e["kommun"], e["iso_week"]))
    write_atomically(out / MANIFEST, _json(entries))
    write_atomically(out / "index.html", render_index(entries))
    write_atomically(out / PUBLIC_DIR / "index.html", render_index(entries, public=True))
