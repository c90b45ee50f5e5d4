"""The report form as a guard uses it at night, in real Chromium at a phone's size (390 × 844),
with every address but the app's blocked (no internet): the map from the service's own data
(the kommun's areas, their names, the known places), the place in words, the categories as
large buttons with the most used first, errors at their fields in plain Swedish, a place
from the guards' "rapportera härifrån" link, and a photo sent while offline that arrives
once, without its GPS metadata, and shows only in the restricted week map. Screenshots in
light and dark mode go to docs/img/."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

import pytest
import uvicorn
from PIL import Image
from redis import Redis
from shapely.geometry import Point

from services.intake.config import IntakeSettings
from services.intake.main import create_app
from services.maps.config import MapsSettings
from services.maps.publish import PUBLIC_DIR, publish_week
from services.maps.server import create_server_app
from shared.access import create_organisation
from shared.areas import PACKAGED_AREAS_DIR, load_area_file
from shared.contracts import REPORTS_STREAM
from shared.db import init_db, make_engine
from shared.geo import distance_m
from shared.photos import MAX_SIDE, PhotoStore, photo_id, report_key
from shared.places import build_places, write_places
from shared.redis_runtime import EmbeddedRedis
from shared.streams import entry_payload
from tests.a11y.support import run_axe
from tests.conftest import free_port, wait_for
from tests.integration.test_report_photos import GPS_IFD, photo_with_gps
from tests.support.snapshots import incident, make_areas, make_snapshot

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
REPO = Path(__file__).resolve().parents[2]
IMG = REPO / "docs" / "img"
SCREENSHOTS_ENV = "LAGESBILD_DOCS_SCREENSHOTS"  # "1": write docs/img/rapport-*.png
AREAS = load_area_file(PACKAGED_AREAS_DIR / "0580.geojson")
KOMMUN_NAME = next(
    f["properties"]["name"]
    for f in json.loads((PACKAGED_AREAS_DIR / "0580.geojson").read_text("utf-8"))["features"]
    if f["properties"].get("kind") == "kommun"
)
KNOWN_PLACES = {  # a kommun's place list (`lagesbild places import`)
    "Skäggetorps centrum": (58.4245, 15.5815),
    "Resecentrum": (58.4165, 15.6250),
    "Ryds centrum": (58.4070, 15.5610),
}
TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"  # unreachable here: no internet


@dataclass
class Site:
    url: str
    token: str
    settings: IntakeSettings
    engine: Any

    def org(self, name: str) -> str:
        return create_organisation(self.engine, name, "0580", "reporter", ["vaktare"])[1]

    def entries(self) -> list[dict[str, Any]]:
        redis = Redis.from_url(str(self.settings.redis_url))
        try:
            entries: Any = redis.xrange(REPORTS_STREAM)
            return [json.loads(entry_payload(f)) for _, f in entries]
        finally:
            redis.close()


def _http(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """(status, parsed JSON or the raw answer's content type) of one plain HTTP call."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urlopen(Request(url, data=data, headers=headers, method=method), timeout=10) as r:
            raw, status, kind = r.read(), r.status, r.headers.get("content-type", "")
    except HTTPError as exc:
        raw, status, kind = exc.read(), exc.code, exc.headers.get("content-type", "")
    return status, json.loads(raw) if kind.startswith("application/json") else kind


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    return server, thread, port


@pytest.fixture
def site(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Site]:
    """The intake (SQLite, real Redis) with Linköping's vendored areas, a place list and a
    configured tile server that the phone cannot reach."""
    data = tmp_path / "data"
    rows = [
        {"number": n, "name": name, "aliases": "", "geometry": Point(lon, lat)}
        for n, (name, (lat, lon)) in enumerate(KNOWN_PLACES.items(), start=2)
    ]
    places, problems = build_places(rows)
    assert problems == []
    write_places(data / "areas", "0580", places)
    settings = IntakeSettings(
        redis_url=redis_server.url,
        data_dir=data,
        database_url=f"sqlite:///{data / 'lagesbild.db'}",
        intake_tile_url=TILES,
    )
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    _, token = create_organisation(engine, "Securitas", "0580", "reporter", ["vaktare"])
    server, thread, port = _serve(create_app(settings))
    yield Site(f"http://127.0.0.1:{port}", token, settings, engine)
    server.should_exit = True
    thread.join(10)


@dataclass
class Phone:
    context: Any
    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _phone(browser: Any, **options: Any) -> Phone:
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="sv-SE",
        timezone_id="Europe/Stockholm", **options,
    )  # fmt: skip
    phone = Phone(context, context.new_page())

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            phone.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    phone.page.on("pageerror", lambda exc: phone.errors.append(str(exc)))
    phone.page.set_default_timeout(15_000)
    return phone


@pytest.fixture
def phone(browser: Any) -> Iterator[Phone]:
    made = _phone(browser)
    yield made
    made.context.close()


def _open(page: Any, site: Site, fragment: str = "") -> None:
    page.goto(f"{site.url}/rapport#nyckel={site.token}{fragment}")
    page.wait_for_function("() => document.getElementById('vem').textContent.includes('Securitas')")
    page.wait_for_function("() => localStorage.getItem('lagesbild.omraden')")
    page.wait_for_function("() => localStorage.getItem('lagesbild.platser')")


def _go(page: Any, fragment: str) -> None:
    """The guard's link opened while the form is open: only the fragment changes."""
    page.evaluate("(f) => { location.hash = f; }", fragment)


def _texts(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def _north_of(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat + metres / 111_195.0, lon


def test_the_map_and_the_place_in_words_without_internet(site: Site, phone: Phone) -> None:
    page = phone.page
    _open(page, site)
    # The kommun's areas and their names, from the service's own (vendored) data.
    page.wait_for_function("() => document.querySelectorAll('#karta path.omrade-yta').length > 0")
    assert page.locator("#karta path.omrade-yta").count() == len(AREAS.areas)
    assert page.locator("#karta path.kommungrans").count() == 1
    names = _texts(page, ".karta-namn.omrade span")
    assert sorted(names) == sorted(a.name for a in AREAS.areas)
    assert page.locator(".karta-namn.omrade", has_text="Skäggetorp").first.is_visible()
    # The background map was asked for and could not come: the map is useful all the same.
    assert phone.blocked and all("tile.openstreetmap.org" in u for u in phone.blocked)

    # A point 80 m north of a known place, as the guards' link or a tap gives it.
    lat, lon = _north_of(*KNOWN_PLACES["Skäggetorps centrum"], 80)
    area = AREAS.area_of(lat, lon)
    metres = distance_m(lat, lon, *KNOWN_PLACES["Skäggetorps centrum"])
    _go(page, f"plats={lat:.6f},{lon:.6f}")
    expected = f"Vald plats: {area}, {round(metres / 10) * 10} m från Skäggetorps centrum"
    page.wait_for_function(
        "(t) => document.getElementById('plats-text').textContent === t", arg=expected
    )
    assert expected == "Vald plats: Skäggetorp, 80 m från Skäggetorps centrum"
    assert "#" not in page.url  # the fragment left the address bar
    # Zoomed in on it: the known places' names show too.
    place_label = page.locator(".karta-namn.plats", has_text="Skäggetorps centrum")
    place_label.wait_for(state="visible")  # (once the zoom's animation ends)
    assert sorted(_texts(page, ".karta-namn.plats span")) == sorted(KNOWN_PLACES)

    # A tap on the map: words, never coordinates.
    page.locator("#karta").tap()
    text = page.text_content("#plats-text") or ""
    assert text.startswith("Vald plats: ") and not any(ch.isdigit() for ch in text.split(",")[0])
    assert phone.errors == []


def test_every_error_at_once_at_its_field_in_plain_swedish(site: Site, phone: Phone) -> None:
    page = phone.page
    _open(page, site)
    _go(page, "plats=59.329300,18.068600")  # Stockholm: outside the kommun
    outside = f"Platsen ligger utanför {KOMMUN_NAME}. Välj en plats i kommunen."
    page.wait_for_selector("#plats-fel:not([hidden])")
    assert page.text_content("#plats-fel") == outside  # at once, at the field
    assert page.get_attribute("#plats-sok", "aria-invalid") == "true"
    assert "plats-fel" in (page.get_attribute("#plats-sok", "aria-describedby") or "").split()

    page.fill("#tid", "2099-01-01T12:00")
    page.click("#skicka")
    page.wait_for_selector("#fel-ruta:not([hidden])")
    summary = _texts(page, "#fel-lista li")
    assert summary == [
        "Kategori: Välj en kategori.",
        f"Plats: {outside}",
        "Tidpunkt: Tidpunkten kan inte ligga i framtiden.",
    ]
    for field_id, note in (("kategori", "kategori-fel"), ("plats-sok", "plats-fel"),
                           ("tid", "tid-fel")):  # fmt: skip
        assert page.get_attribute(f"#{field_id}", "aria-invalid") == "true"
        assert page.is_visible(f"#{note}")
    assert not re.search(r"WGS|\b(lat|lon)\b|koordinat|\d{2}\.\d", " ".join(summary))
    assert site.entries() == []  # nothing was sent

    # A place inside fixes the place error; a category button fixes its own.
    _go(page, "plats={:.6f},{:.6f}&namn=Resecentrum".format(*KNOWN_PLACES["Resecentrum"]))
    page.wait_for_function(
        "() => !document.getElementById('plats-sok').hasAttribute('aria-invalid')"
    )
    assert page.text_content("#plats-text") == (
        f"Vald plats: Resecentrum, {AREAS.area_of(*KNOWN_PLACES['Resecentrum'])}"
    )
    page.locator("label[data-kod='klotter']").tap()
    assert page.get_attribute("#kategori", "aria-invalid") is None
    assert phone.errors == []


def test_the_categories_are_large_buttons_most_used_first(site: Site, phone: Phone) -> None:
    avarn = site.org("Avarn")
    mine, theirs = {"nedskrapning": 3, "brand": 2}, {"vald": 4, "brand": 1}
    n = 0
    for token, counts in ((site.token, mine), (avarn, theirs)):
        for category, times in counts.items():
            for _ in range(times):
                n += 1
                body = {"report_id": f"c-{n}", "category": category, "lat": 58.4108,
                        "lon": 15.6214, "occurred_at": _now_iso()}  # fmt: skip
                status, answer = _http("POST", f"{site.url}/api/v1/reports", token, body)
                assert status == 202, answer
    status, api = _http("GET", f"{site.url}/api/v1/categories", site.token)
    assert status == 200
    ordered = [c["code"] for c in api["categories"]]
    assert ordered[:3] == ["nedskrapning", "brand", "vald"]  # own use first, then the kommun's

    page = phone.page
    _open(page, site)
    page.wait_for_function(
        "(c) => document.querySelector('#kategori-knappar label').dataset.kod === c",
        arg=ordered[0],
    )
    shown = page.eval_on_selector_all("#kategori-knappar label", "ls => ls.map(l => l.dataset.kod)")
    assert shown == ordered
    first = page.locator("#kategori-knappar label").first
    assert first.inner_text().strip() == "Nedskräpning"
    for box in page.eval_on_selector_all(
        "#kategori-knappar label", "ls => ls.map(l => l.getBoundingClientRect().toJSON())"
    ):
        assert box["height"] >= 48 and box["width"] >= 150  # a thumb's target, two to a row
    # Offline the next time: the order the phone kept.
    saved = json.loads(page.evaluate("() => localStorage.getItem('lagesbild.kategorier')"))
    assert saved["codes"] == ordered
    assert phone.errors == []


def _now_iso() -> str:
    return (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


def test_a_photo_sent_offline_arrives_once_stripped_and_only_in_the_restricted_view(
    site: Site, phone: Phone, tmp_path: Path, browser: Any
) -> None:
    original = tmp_path / "IMG_0001.jpg"
    original.write_bytes(photo_with_gps((2400, 1800), orientation=6))
    uploads: list[bytes] = []
    page = phone.page
    page.on(
        "request",
        lambda req: (
            uploads.append(req.post_data_buffer or b"")
            if req.method == "PUT" and req.url.endswith("/photo")
            else None
        ),
    )
    # The guard's "rapportera härifrån": the token and the order's place in one link.
    lat, lon = KNOWN_PLACES["Skäggetorps centrum"]
    _open(page, site, f"&plats={lat},{lon}&namn={quote('Skäggetorps centrum')}")
    assert page.input_value("#plats-sok") == "Skäggetorps centrum"
    assert page.text_content("#plats-text") == "Vald plats: Skäggetorps centrum"
    page.locator("label[data-kod='klotter']").tap()
    page.fill("#beskrivning", "Nytt klotter på gångtunneln")
    page.set_input_files("#foto", str(original))
    page.wait_for_selector("#foto-ruta:not([hidden])")
    preview = page.eval_on_selector(
        "#foto-bild", "i => ({src: i.src, w: i.naturalWidth, h: i.naturalHeight})"
    )
    assert preview["src"].startswith("blob:")
    assert max(preview["w"], preview["h"]) == MAX_SIDE and preview["h"] > preview["w"]  # upright

    # No network at all: the report and its photo wait in the phone's queue.
    phone.context.set_offline(True)
    page.click("#skicka")
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent.includes('Ingen kontakt')"
    )
    pending = json.loads(page.evaluate("() => localStorage.getItem('lagesbild.vantande')"))
    assert pending["photo"].startswith("data:image/jpeg;base64,")
    assert site.entries() == []
    phone.context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('kvitto-text').textContent"
        " === 'Tack! Rapporten och fotot är mottagna.'",
        timeout=45_000,
    )
    assert page.evaluate("() => localStorage.getItem('lagesbild.vantande')") is None

    [entry] = site.entries()  # once
    assert entry["report_id"] == pending["body"]["report_id"]
    assert (entry["lat"], entry["lon"], entry["location_precision"]) == (lat, lon, "centroid")
    assert len(uploads) == 1 and len(uploads[0]) < original.stat().st_size  # resized on the phone
    key = report_key("Securitas", entry["report_id"])
    stored_path = PhotoStore.under(site.settings.data_dir).find("0580", photo_id(key))
    assert stored_path is not None
    stored = Image.open(stored_path)
    assert not stored.getexif().get_ifd(GPS_IFD) and "exif" not in stored.info
    assert b"Telefonmakaren" not in stored_path.read_bytes()
    assert max(stored.size) == MAX_SIDE and stored.size[1] > stored.size[0]
    assert phone.errors == []

    # The restricted week map shows it (behind the archive's login); the public one never.
    out = tmp_path / "out"
    snapshot = make_snapshot([incident(key, "klotter", "Norr", 58.425, 15.575)])
    publish_week(out, snapshot, make_areas(), tiles=None,
                 photos=PhotoStore.under(site.settings.data_dir))  # fmt: skip
    maps = MapsSettings(redis_url=site.settings.redis_url, database_url=site.settings.database_url,
                        data_dir=site.settings.data_dir, output_dir=out)  # fmt: skip
    _, meeting = create_organisation(site.engine, "Samverkansmötet", "0580", "meeting", [])
    server, thread, port = _serve(create_server_app(maps))
    try:
        viewer = browser.new_context(
            viewport=PHONE, extra_http_headers={"Authorization": f"Bearer {meeting}"}
        )
        archive = viewer.new_page()
        archive.goto(f"http://127.0.0.1:{port}/0580/2026-W47/karta.html")
        archive.locator(".lb-pt").click()
        image = archive.locator(".leaflet-popup-content img")
        image.wait_for()
        archive.wait_for_function(
            "() => document.querySelector('.leaflet-popup-content img').naturalWidth > 0"
        )
        assert image.get_attribute("alt") == "Foto från rapporten"
        archive.goto(f"http://127.0.0.1:{port}/{PUBLIC_DIR}/0580/2026-W47/karta.html")
        assert "/foto/" not in archive.content()
        viewer.close()
        status, kind = _http("GET", f"http://127.0.0.1:{port}/0580/foto/{photo_id(key)}.jpg")
        assert status == 401 and kind.startswith("text/html")  # the login form, not the photo
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_light_and_dark_and_no_axe_violations(
    site: Site, browser: Any, scheme: str, tmp_path: Path
) -> None:
    """The phone's colour scheme decides; axe's WCAG AA rules (contrast ≥ 4.5:1 included)
    pass in both. With LAGESBILD_DOCS_SCREENSHOTS=1 the screenshots are written to
    docs/img/rapport-{ljus,mork}{,-karta}.png (else to the test's own folder)."""
    made = _phone(browser, color_scheme=scheme, bypass_csp=True)  # bypass: only to inject axe
    try:
        page = made.page
        lat, lon = _north_of(*KNOWN_PLACES["Skäggetorps centrum"], 80)
        _open(page, site, f"&plats={lat:.6f},{lon:.6f}")
        page.locator("label[data-kod='klotter']").tap()
        photo = tmp_path / "foto.jpg"
        photo.write_bytes(photo_with_gps((1200, 900), orientation=1))
        page.set_input_files("#foto", str(photo))
        page.wait_for_selector("#foto-ruta:not([hidden])")
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(18, 20, 22)" if scheme == "dark" else "rgb(246, 246, 243)")
        result = run_axe(page)
        assert result["violations"] == [], result["violations"]
        page.fill("#tid", "")  # … and with an error shown at its field
        page.click("#skicka")
        page.wait_for_selector("#fel-ruta:not([hidden])")
        result = run_axe(page)
        assert result["violations"] == [], result["violations"]
        page.reload()
        page.wait_for_function("() => document.getElementById('vem').textContent.length > 0")
        page.wait_for_selector("#karta path.omrade-yta")
        page.locator("#karta").tap()  # the middle of the kommun's areas
        page.wait_for_function(
            "() => document.getElementById('plats-text').textContent.includes(' från ')"
        )
        page.locator("label[data-kod='klotter']").tap()
        page.evaluate("() => window.scrollTo(0, 0)")
        folder = IMG if os.environ.get(SCREENSHOTS_ENV) == "1" else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        name = "ljus" if scheme == "light" else "mork"
        page.screenshot(path=str(folder / f"rapport-{name}.png"))  # the top: the categories
        page.locator("fieldset.plats").scroll_into_view_if_needed()
        page.evaluate("() => window.scrollBy(0, document.querySelector('#karta')"
                      ".getBoundingClientRect().top - 120)")  # fmt: skip
        page.screenshot(path=str(folder / f"rapport-{name}-karta.png"))  # the map and the words
        for shot in (f"rapport-{name}.png", f"rapport-{name}-karta.png"):
            assert Image.open(folder / shot).size == (PHONE["width"], PHONE["height"])
        assert made.errors == []
    finally:
        made.context.close()
