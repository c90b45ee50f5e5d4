"""A report's photo: re-encoded without EXIF/GPS on the server, stored under the data
directory, purged with its report, shown only behind the restricted archive login, never
in the public version, the exports or Open311. And the form's category order API.
Real redis-server, SQLite file and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from services.cli_ops import purge_all
from services.intake.retention import purge_own_tables
from services.maps.config import MapsSettings
from services.maps.publish import PUBLIC_DIR, publish_week
from services.maps.server import create_server_app
from shared.access import create_organisation
from shared.categories import DEFAULT_CATEGORIES
from shared.photos import MAX_SIDE, PhotoStore, photo_id, report_key
from tests.integration.test_intake_api import (  # noqa: F401 (fixture)
    Intake,
    make_intake,
    report,
)
from tests.support.snapshots import incident, make_areas, make_snapshot

pytestmark = pytest.mark.redis

GPS_IFD = 0x8825
EXIF_IFD = 0x8769


def photo_with_gps(size: tuple[int, int] = (2400, 1800), orientation: int = 6) -> bytes:
    """A JPEG as a phone takes it: GPS position, camera, time and a rotation in its EXIF."""
    image = Image.new("RGB", size)
    image.putdata(
        [(x % 256, y % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    exif = Image.Exif()
    exif[0x010F] = "Telefonmakaren"  # Make
    exif[0x0110] = "Modell X"  # Model
    exif[0x0112] = orientation  # Orientation: 6 = turn 90° clockwise to show upright
    exif.get_ifd(EXIF_IFD)[0x9003] = "2026:11:20 22:15:00"  # DateTimeOriginal
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (58.0, 25.0, 28.2)  # Skäggetorp
    gps[3], gps[4] = "E", (15.0, 34.0, 53.4)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def put_photo(intake: Intake, token: str, report_id: str, body: bytes, kind: str) -> Any:
    return intake.client.put(
        f"/api/v1/reports/{quote(report_id, safe='')}/photo",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
    )


@pytest.fixture
def intake(make_intake: Callable[..., Intake]) -> Intake:  # noqa: F811
    return make_intake()


def test_a_photos_gps_and_other_metadata_are_stripped_on_the_server(intake: Intake) -> None:
    token = intake.org("Securitas")
    assert intake.post(token, report("med/foto #1")).status_code == 202
    original = photo_with_gps()
    before = Image.open(io.BytesIO(original)).getexif()
    assert before.get_ifd(GPS_IFD) and before[0x010F] == "Telefonmakaren"  # the test's premise

    r = put_photo(intake, token, "med/foto #1", original, "image/jpeg")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message_sv"] == "Fotot är sparat."
    # Turned upright by its orientation (1800 × 2400), then scaled to MAX_SIDE.
    assert (body["width"], body["height"]) == (round(1800 * MAX_SIDE / 2400), MAX_SIDE)

    stored = PhotoStore.under(intake.settings.data_dir)
    pid = photo_id(report_key("Securitas", "med/foto #1"))
    path = stored.find("0580", pid)
    assert path is not None and path.parent == intake.settings.data_dir / "photos" / "0580"
    data = path.read_bytes()
    assert len(data) == body["bytes"]
    clean = Image.open(path)
    assert clean.format == "JPEG" and clean.size == (body["width"], body["height"])
    assert dict(clean.getexif()) == {} and not clean.getexif().get_ifd(GPS_IFD)
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(clean.info)
    for marker in (b"Exif", b"Telefonmakaren", b"Modell X", b"2026:11:20"):
        assert marker not in data
    record = stored.record("0580", pid)
    assert record is not None and (record.organisation, record.report_id) == (
        "Securitas", "med/foto #1",
    )  # fmt: skip

    # PNG and WebP are accepted too (and come out as JPEG); sending again replaces it.
    for kind, fmt in (("image/png", "PNG"), ("image/webp", "WEBP")):
        out = io.BytesIO()
        Image.new("RGBA", (300, 200), (200, 30, 30, 128)).save(out, fmt)
        again = put_photo(intake, token, "med/foto #1", out.getvalue(), kind)
        assert again.status_code == 200, again.text
        assert (again.json()["width"], again.json()["height"]) == (300, 200)
        assert Image.open(stored.find("0580", pid)).format == "JPEG"  # type: ignore[arg-type]


def test_what_is_not_a_photo_gets_a_clear_swedish_error(intake: Intake) -> None:
    token = intake.org("Securitas")
    intake.post(token, report("r-1"))
    cases = [
        (b"%PDF-1.7 not a picture", "application/pdf", 415, "not_an_image", "ingen bild"),
        (b"just text, typed as a JPEG", "image/jpeg", 415, "not_an_image", "ingen bild"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif", 415, "not_an_image", "ingen bild"),
        (b"", "image/jpeg", 422, "empty_photo", "tomt"),
        (photo_with_gps((64, 48))[:300], "image/jpeg", 422, "broken_photo", "skadad"),
    ]
    for body, kind, status, code, words in cases:
        r = put_photo(intake, token, "r-1", body, kind)
        assert r.status_code == status, (kind, r.text)
        [error] = r.json()["errors"]
        assert (error["code"], error["field"]) == (code, "photo")
        assert words in error["message_sv"]
    assert not (intake.settings.data_dir / "photos" / "0580").exists()  # nothing kept


def test_a_photo_needs_its_own_report_and_a_size_limit(
    make_intake: Callable[..., Intake],  # noqa: F811
) -> None:
    intake = make_intake(photo_max_bytes=40_000)
    securitas, other = intake.org("Securitas"), intake.org("Avarn")
    intake.post(other, report("r-1"))
    small = photo_with_gps((64, 48))
    r = put_photo(intake, securitas, "r-1", small, "image/jpeg")  # Avarn's report, not ours
    assert r.status_code == 404 and "Skicka rapporten först" in r.json()["errors"][0]["message_sv"]
    intake.post(securitas, report("r-1"))
    big = photo_with_gps((800, 600))
    assert len(big) > 40_000
    r = put_photo(intake, securitas, "r-1", big, "image/jpeg")
    assert r.status_code == 413
    assert r.json()["errors"][0]["message_sv"].startswith("Fotot är för stort")
    assert put_photo(intake, securitas, "r-1", small, "image/jpeg").status_code == 200


def test_an_old_reports_photo_is_purged_with_it(intake: Intake) -> None:
    token = intake.org("Securitas")
    now = datetime.now(UTC)
    old_time = (now - timedelta(days=20)).isoformat()
    intake.post(token, report("gammal", occurred_at=old_time))
    intake.post(token, report("ny"))
    small = photo_with_gps((64, 48))
    for rid in ("gammal", "ny"):
        assert put_photo(intake, token, rid, small, "image/jpeg").status_code == 200
    store = PhotoStore.under(intake.settings.data_dir)
    old_id, new_id = (photo_id(report_key("Securitas", r)) for r in ("gammal", "ny"))

    # `lagesbild purge --dry-run` counts it; the intake's own daily purge removes it.
    counts = purge_all(intake.engine, now=now, retention_days=10, dry_run=True, run_by="test",
                       data_dir=intake.settings.data_dir)  # fmt: skip
    assert counts["report_photos"] == 1 and store.find("0580", old_id) is not None
    removed = purge_own_tables(intake.engine, now=now, retention_days=10, dry_run=False,
                               run_by="intake", data_dir=intake.settings.data_dir)  # fmt: skip
    assert removed["report_photos"] == 1
    assert store.find("0580", old_id) is None and store.record("0580", old_id) is None
    assert store.find("0580", new_id) is not None  # the recent report keeps its photo
    later = now + timedelta(days=11)
    purge_all(intake.engine, now=later, retention_days=10, dry_run=False, run_by="test",
              data_dir=intake.settings.data_dir)  # fmt: skip
    assert store.find("0580", new_id) is None


def test_open311_and_the_status_never_carry_the_photo(intake: Intake) -> None:
    token = intake.org("Securitas")
    tib = intake.org("TiB", role="tib")
    intake.post(token, report("r-1"))
    assert (
        put_photo(intake, token, "r-1", photo_with_gps((64, 48)), "image/jpeg").status_code == 200
    )
    pid = photo_id(report_key("Securitas", "r-1"))
    listed = intake.client.get("/open311/v2/requests.json", params={"api_key": tib})
    assert listed.status_code == 200 and listed.json()
    for item in listed.json():
        assert not item.get("media_url")
    status = intake.get(token, "/api/v1/reports/r-1/status")
    for answer in (listed.text, status.text):
        assert pid not in answer and "photo" not in answer and "foto" not in answer


def test_the_categories_come_most_used_first(intake: Intake) -> None:
    securitas, avarn = intake.org("Securitas"), intake.org("Avarn")
    mine = {"nedskrapning": 3, "brand": 2}
    theirs = {"vald": 4, "brand": 1}
    n = 0
    for token, counts in ((securitas, mine), (avarn, theirs)):
        for category, times in counts.items():
            for _ in range(times):
                n += 1
                assert intake.post(token, report(f"c-{n}", category=category)).status_code == 202
    r = intake.get(securitas, "/api/v1/categories")
    assert r.status_code == 200
    body = r.json()
    codes = [c["code"] for c in body["categories"]]
    catalogue = list(DEFAULT_CATEGORIES)
    kommun = {c: mine.get(c, 0) + theirs.get(c, 0) for c in catalogue}
    expected = sorted(catalogue, key=lambda c: (-mine.get(c, 0), -kommun[c], catalogue.index(c)))
    assert codes == expected
    assert codes[:3] == ["nedskrapning", "brand", "vald"]  # own use, then the kommun's
    assert {c["code"]: c["own"] for c in body["categories"]}["brand"] == 2
    assert body["days"] == intake.settings.category_usage_days
    # Another organisation sees its own order first.
    theirs_first = [c["code"] for c in intake.get(avarn, "/api/v1/categories").json()["categories"]]
    assert theirs_first[:2] == ["vald", "brand"]


# --- the restricted view: the archive server's week map ---------------------------------


@pytest.fixture
def archive_with_photo(tmp_path: Path, intake: Intake) -> Iterator[dict[str, Any]]:
    token = intake.org("Securitas")
    intake.post(token, report("r-1"))
    assert (
        put_photo(intake, token, "r-1", photo_with_gps((640, 480)), "image/jpeg").status_code == 200
    )
    data_dir = intake.settings.data_dir
    out = tmp_path / "out"
    key = report_key("Securitas", "r-1")
    snapshot = make_snapshot(
        [
            incident(key, "klotter", "Norr", 58.425, 15.575, description="Klotter på muren"),
            incident("Avarn/x", "klotter", "Norr", 58.43, 15.58),
        ]
    )
    publish_week(out, snapshot, make_areas(), tiles=None, photos=PhotoStore.under(data_dir))
    settings = MapsSettings(
        redis_url=intake.settings.redis_url,
        database_url=intake.settings.database_url,
        data_dir=data_dir,
        output_dir=out,
    )
    tokens = {
        "meeting": create_organisation(intake.engine, "Mötet", "0580", "meeting", [])[1],
        "reporter": token,
        "public": create_organisation(intake.engine, "Allmänheten", "0580", "public", [])[1],
        "other_kommun": create_organisation(intake.engine, "Mjölby", "0586", "meeting", [])[1],
    }
    with TestClient(create_server_app(settings)) as client:
        yield {"client": client, "out": out, "tokens": tokens, "key": key, "data_dir": data_dir,
               "engine": intake.engine}  # fmt: skip


def test_the_photo_is_shown_only_in_the_restricted_map(archive_with_photo: dict[str, Any]) -> None:
    out, key = archive_with_photo["out"], archive_with_photo["key"]
    pid = photo_id(key)
    address = f"/0580/foto/{pid}.jpg"
    week = out / "0580" / "2026-W47"
    assert address in (week / "karta.html").read_text("utf-8")  # the incident's popup
    assert (week / "karta.html").read_text("utf-8").count("/foto/") == 1  # only that one
    published = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in published if p.suffix in (".jpg", ".jpeg")]  # never copied out
    for path in published:
        if path.name == "karta.html" and PUBLIC_DIR not in path.parts:
            continue
        text = path.read_text("utf-8", errors="replace")
        assert pid not in text and "/foto/" not in text, path  # public, exports, pack, summary
    exports = {p.name for p in week.glob("export*")}
    assert {"export.geojson", "export.csv", "export-omraden.csv"} <= exports  # checked above


def test_the_archive_serves_the_photo_only_to_the_restricted_view(
    archive_with_photo: dict[str, Any],
) -> None:
    client, tokens = archive_with_photo["client"], archive_with_photo["tokens"]
    pid = photo_id(archive_with_photo["key"])
    address = f"/0580/foto/{pid}.jpg"

    def get(token: str | None, path: str = address) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(path, headers=headers, follow_redirects=False)

    shown = get(tokens["meeting"])
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert "no-store" in shown.headers["cache-control"]
    assert not Image.open(io.BytesIO(shown.content)).getexif().get_ifd(GPS_IFD)
    assert get(None).status_code == 401  # the login form
    assert get(tokens["reporter"]).status_code == 403  # a reporter sees no restricted view
    assert get(tokens["public"]).status_code == 403
    assert get(tokens["other_kommun"]).status_code == 403
    assert get(tokens["meeting"], f"/0580/foto/{'0' * 32}.jpg").status_code == 404
    assert get(tokens["meeting"], "/0580/foto/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert get(None, f"/{PUBLIC_DIR}/0580/foto/{pid}.jpg").status_code == 404  # not public
    audit = json.dumps(
        [e.object for e in _audit(archive_with_photo["engine"]) if e.action == "view"]
    )
    assert f"photo:/0580/{pid}.jpg" in audit
    # Purged with its report: the map's link then finds nothing.
    PhotoStore.under(archive_with_photo["data_dir"]).purge(
        datetime.now(UTC) + timedelta(days=1), dry_run=False
    )
    assert get(tokens["meeting"]).status_code == 404


def _audit(engine: Any) -> list[Any]:
    from sqlmodel import Session, select

    from shared.models_access import AuditEntry

    with Session(engine) as s:
        return list(s.exec(select(AuditEntry)).all())
