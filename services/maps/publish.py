"""Write a week's lägesbild into the publish folder, atomically.

Layout: `{out}/index.html`, `{out}/index.json` (the manifest), `{out}/assets/…`,
`{out}/{kommun}/{iso_week}/karta.html` and `sammanfattning.json`. Every file is written
to a temporary name and renamed into place, so a reader never sees half a page.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from services.maps.render import install_assets, render_index, render_week_map, week_summary
from shared.areas import KommunAreas
from shared.contracts import WeekSnapshotV1

MANIFEST = "index.json"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def week_dir(out: Path, kommun: str, iso_week: str) -> Path:
    return out / kommun / iso_week


def publish_week(
    out: Path, snapshot: WeekSnapshotV1, kommun_areas: KommunAreas, *, tiles: str | None
) -> tuple[Path, Path]:
    """Render and write one week; returns (map path, summary path)."""
    install_assets(out)
    folder = week_dir(out, snapshot.kommun, snapshot.iso_week)
    map_path, summary_path = folder / "karta.html", folder / "sammanfattning.json"
    summary = week_summary(snapshot)
    write_atomically(summary_path, json.dumps(summary, ensure_ascii=False, indent=2))
    write_atomically(map_path, render_week_map(snapshot, kommun_areas, tiles=tiles))
    _update_index(out, snapshot, summary)
    return map_path, summary_path


def _update_index(out: Path, snapshot: WeekSnapshotV1, summary: dict) -> None:
    manifest_path = out / MANIFEST
    entries = json.loads(manifest_path.read_text("utf-8")) if manifest_path.exists() else []
    entries = [
        e for e in entries if (e["kommun"], e["iso_week"]) != (snapshot.kommun, snapshot.iso_week)
    ]
    entries.append(
        {
            "kommun": snapshot.kommun,
            "kommun_name": snapshot.kommun_name,
            "iso_week": snapshot.iso_week,
            "revision": snapshot.revision,
            "total": summary["total"],
        }
    )
    entries.sort(key=lambda e: (e["kommun"], e["iso_week"]))
    write_atomically(manifest_path, json.dumps(entries, ensure_ascii=False, indent=2))
    write_atomically(out / "index.html", render_index(entries))
