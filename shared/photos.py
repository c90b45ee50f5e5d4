"""Report photos: re-encoded without any metadata, kept on disk beside the report's data,
shown only in restricted views.

A photo belongs to one report (`organisation/report_id`, the same key the week's incidents
carry). The intake receives it (`PUT /api/v1/reports/{report_id}/photo`), re-encodes it
here and stores it; the archive server shows it in the restricted week map's popups
(`/{kommun}/foto/{photo_id}.jpg`, behind the restricted login); the intake's retention
purge deletes it with its report (by the report's time, `LAGESBILD_RETENTION_DAYS`). The
public version, the exports and Open311 never name it.

**Why shared, not the intake's.** Like the access registry (docs/architecture.md) the
store is platform infrastructure: one writer (the intake) and one API, read by the
archive server that must show a photo to a logged-in meeting without a copy that would
outlive the purge. It is files, not a table: `<data dir>/photos/<kommun>/<photo id>.jpg`
with a `.json` beside it (organisation, report_id, the report's time, size).

**What is kept.** Only pixels: the upload is decoded (JPEG, PNG or WebP, at most
`MAX_PIXELS`), turned upright by its EXIF orientation, scaled to at most `MAX_SIDE` px and
written as a fresh JPEG from the raw pixels, so no EXIF (GPS position, camera, time), XMP,
ICC profile or comment survives.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1600  # px, the longer side (the form resizes to this on the phone too)
JPEG_QUALITY = 80
MAX_PIXELS = 40_000_000  # a decoded image larger than this is refused (decompression bombs)
ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
PHOTOS_DIR = "photos"
_ID = re.compile(r"^[0-9a-f]{32}$")
_KOMMUN = re.compile(r"^\d{4}$")


class PhotoError(ValueError):
    """An upload that is not a usable photo: a code, a Swedish and an English message."""

    def __init__(self, status: int, code: str, message_sv: str, message_en: str) -> None:
        super().__init__(message_en)
        self.status, self.code, self.message_sv, self.message_en = (
            status,
            code,
            message_sv,
            message_en,
        )


def photo_id(key: str) -> str:
    """The photo's id from its report's key (`organisation/report_id`): stable, so a
    re-sent photo replaces the first, and the week map finds it by the incident's key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def report_key(organisation: str, report_id: str) -> str:
    return f"{organisation}/{report_id}"


def not_an_image() -> PhotoError:
    return PhotoError(
        415,
        "not_an_image",
        "Filen är ingen bild. Välj ett foto (JPEG, PNG eller WebP).",
        "The file is not an image. Send a photo (JPEG, PNG or WebP).",
    )


def clean_photo(data: bytes, content_type: str | None = None) -> tuple[bytes, tuple[int, int]]:
    """The upload as a JPEG without metadata, at most MAX_SIDE px; (bytes, (width, height)).
    Raises PhotoError for anything that is not a JPEG, PNG or WebP photo."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in ACCEPTED_TYPES and kind != "application/octet-stream":
        raise not_an_image()
    if not data:
        raise PhotoError(
            422, "empty_photo", "Fotot är tomt. Välj ett foto igen.", "The photo is empty."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_TYPES.values()))
            if image.width * image.height > MAX_PIXELS:
                raise PhotoError(
                    413,
                    "photo_too_large",
                    f"Fotot har för många bildpunkter (högst {MAX_PIXELS // 1_000_000} "
                    "miljoner). Ta ett nytt foto eller välj ett mindre.",
                    f"The photo has too many pixels (at most {MAX_PIXELS} pixels).",
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise not_an_image() from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise PhotoError(
            422,
            "broken_photo",
            "Fotot gick inte att läsa (filen är skadad eller ofullständig). Välj det igen.",
            "The photo could not be read (the file is damaged or incomplete).",
        ) from None
    rgb = _rgb(upright)
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # Only the pixels go on: a new image from the raw bytes carries no info, EXIF or ICC.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), bare.size


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


@dataclass(frozen=True)
class StoredPhoto:
    photo_id: str
    kommun: str
    organisation: str
    report_id: str
    occurred_at: datetime
    stored_at: datetime
    width: int
    height: int
    bytes: int


class PhotoStore:
    """`<data dir>/photos/<kommun>/<photo id>.jpg` and its `.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def under(cls, data_dir: Path) -> PhotoStore:
        return cls(data_dir / PHOTOS_DIR)

    def _paths(self, kommun: str, pid: str) -> tuple[Path, Path]:
        if not _KOMMUN.match(kommun) or not _ID.match(pid):
            raise ValueError("not a photo address")
        folder = self.root / kommun
        return folder / f"{pid}.jpg", folder / f"{pid}.json"

    def save(
        self,
        *,
        kommun: str,
        organisation: str,
        report_id: str,
        occurred_at: datetime,
        jpeg: bytes,
        size: tuple[int, int],
        now: datetime | None = None,
    ) -> StoredPhoto:
        """Write (or replace) the report's photo, atomically."""
        pid = photo_id(report_key(organisation, report_id))
        image, meta = self._paths(kommun, pid)
        occurred_at = aware(occurred_at)
        image.parent.mkdir(parents=True, exist_ok=True)
        stored = StoredPhoto(
            photo_id=pid,
            kommun=kommun,
            organisation=organisation,
            report_id=report_id,
            occurred_at=occurred_at,
            stored_at=now or datetime.now(UTC),
            width=size[0],
            height=size[1],
            bytes=len(jpeg),
        )
        _write(image, jpeg)
        record = {
            **stored.__dict__,
            "occurred_at": stored.occurred_at.isoformat(),
            "stored_at": stored.stored_at.isoformat(),
        }
        _write(meta, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return stored

    def find(self, kommun: str, pid: str) -> Path | None:
        """The photo's file, or None (also for an address that is not a photo's)."""
        try:
            image, _ = self._paths(kommun, pid)
        except ValueError:
            return None
        return image if image.is_file() else None

    def record(self, kommun: str, pid: str) -> StoredPhoto | None:
        try:
            _, meta = self._paths(kommun, pid)
            return _parse(json.loads(meta.read_text("utf-8")))
        except (ValueError, OSError, KeyError, TypeError):
            return None

    def ids_for(self, kommun: str, keys: Iterable[str]) -> dict[str, str]:
        """{report key: photo id} for those of the keys that have a photo."""
        if not _KOMMUN.match(kommun) or not (self.root / kommun).is_dir():
            return {}
        found = {}
        for key in keys:
            pid = photo_id(key)
            if self.find(kommun, pid) is not None:
                found[key] = pid
        return found

    def purge(self, cutoff: datetime, *, dry_run: bool) -> int:
        """Delete (or, dry, count) the photos of reports that happened before the cut-off;
        a photo whose record is unreadable goes by its file's time."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for image in sorted(folder.glob("*.jpg")):
                meta = image.with_suffix(".json")
                stored = self.record(folder.name, image.stem)
                when = (
                    stored.occurred_at
                    if stored is not None
                    else datetime.fromtimestamp(image.stat().st_mtime, UTC)
                )
                if when >= cutoff:
                    continue
                removed += 1
                if not dry_run:
                    image.unlink(missing_ok=True)
                    meta.unlink(missing_ok=True)
        return removed


def _parse(data: dict[str, object]) -> StoredPhoto:
    return StoredPhoto(
        photo_id=str(data["photo_id"]),
        kommun=str(data["kommun"]),
        organisation=str(data["organisation"]),
        report_id=str(data["report_id"]),
        occurred_at=aware(datetime.fromisoformat(str(data["occurred_at"]))),
        stored_at=aware(datetime.fromisoformat(str(data["stored_at"]))),
        width=int(str(data["width"])),
        height=int(str(data["height"])),
        bytes=int(str(data["bytes"])),
    )


def aware(moment: datetime) -> datetime:
    """A database's naive time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
