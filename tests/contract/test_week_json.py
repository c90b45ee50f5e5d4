"""The week, machine-readable (issue #17): the archive server serves each published week's
`sammanfattning.json` at a stable URL per kommun and week (restricted with a token, public
without), valid against docs/schemas/sammanfattning.schema.json, with an ETag and 304 for
a matching If-None-Match. The week is published by the real publisher; SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient

from services.maps.config import MapsSettings
from services.maps.publish import publish_week
from services.maps.server import create_server_app
from shared.access import create_organisation
from shared.db import init_db, make_engine
from tests.support.snapshots import make_areas, rich_snapshot

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "schemas" / "sammanfattning.schema.json"
RESTRICTED = "/api/v1/lagesbild/0580/2026-W47.json"
PUBLIC = "/offentlig/api/v1/lagesbild/0580/2026-W47.json"


@pytest.fixture
def archive(tmp_path: Path) -> tuple[TestClient, dict[str, str], Path]:
    out = tmp_path / "out"
    publish_week(out, rich_snapshot(), make_areas(), tiles=None)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(db_url)
    init_db(engine)
    tokens = {
        role: create_organisation(engine, f"Org {role}", "0580", role, sources)[1]
        for role, sources in (("meeting", []), ("reporter", ["vaktare"]))
    }
    settings = MapsSettings(database_url=db_url, output_dir=out, data_dir=tmp_path / "data")
    return TestClient(create_server_app(settings)), tokens, out


def test_the_restricted_week_is_served_with_an_etag_and_304(archive) -> None:
    client, tokens, out = archive
    bearer = {"Authorization": f"Bearer {tokens['meeting']}"}
    first = client.get(RESTRICTED, headers=bearer)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/json")
    on_disk = json.loads((out / "0580" / "2026-W47" / "sammanfattning.json").read_text("utf-8"))
    assert first.json() == on_disk
    jsonschema.validate(first.json(), json.loads(SCHEMA.read_text("utf-8")))
    etag = first.headers["etag"]
    assert etag.startswith('"') and "private" in first.headers["cache-control"]
    again = client.get(RESTRICTED, headers=bearer | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    stale = client.get(RESTRICTED, headers=bearer | {"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_the_restricted_week_needs_a_token_that_may_see_the_kommun(archive) -> None:
    client, tokens, _ = archive
    none = client.get(RESTRICTED)
    assert none.status_code == 401 and none.json()["errors"][0]["code"] == "unauthorized"
    reporter = client.get(RESTRICTED, headers={"Authorization": f"Bearer {tokens['reporter']}"})
    assert reporter.status_code == 403 and "errors" in reporter.json()


def test_the_public_week_needs_no_token_and_has_its_own_etag(archive) -> None:
    client, _, out = archive
    public = client.get(PUBLIC)
    assert public.status_code == 200, public.text
    on_disk = (out / "offentlig" / "0580" / "2026-W47" / "sammanfattning.json").read_bytes()
    assert public.content == on_disk
    jsonschema.validate(public.json(), json.loads(SCHEMA.read_text("utf-8")))
    assert "public" in public.headers["cache-control"]
    assert client.get(PUBLIC, headers={"If-None-Match": public.headers["etag"]}).status_code == 304


@pytest.mark.parametrize(
    "path",
    ["/api/v1/lagesbild/0580/2026-W01.json", "/api/v1/lagesbild/058/2026-W47.json",
     "/offentlig/api/v1/lagesbild/9999/2026-W47.json", "/offentlig/api/v1/lagesbild/0580/x.json"],
)  # fmt: skip
def test_an_unknown_week_is_a_404_in_the_apis_shape(archive, path: str) -> None:
    client, tokens, _ = archive
    r = client.get(path, headers={"Authorization": f"Bearer {tokens['meeting']}"})
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "not_found"
