"""`GET /api/v1/places`: the kommun's known places and areas for a typed place search, over
the real intake app (real redis-server; SQLite file and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from shared.access import create_organisation
from shared.kommun_registry import enable
from shared.kommuner import areas_dir_of
from shared.places import build_places, read_places_csv, write_places
from tests.integration.test_intake_api import Intake, make_intake  # noqa: F401

pytestmark = pytest.mark.redis

PLACES = """name;aliases;lat;lon
Resecentrum;Centralstationen|Stationen;58.4165;15.6256
Stora torget;Torget;58.4108;15.6214
"""


def test_known_places_are_searchable_by_name_and_alias(
    make_intake: Callable[..., Intake],  # noqa: F811
) -> None:
    intake = make_intake()
    places, _ = build_places(read_places_csv(PLACES))
    write_places(areas_dir_of(intake.settings), "0580", places)
    time.sleep(5.1)  # the running intake looks at the files again within REFRESH_S
    token = intake.org("Securitas")

    everything = intake.get(token, "/api/v1/places").json()
    assert everything["kommun"] == "0580"
    kinds = {p["name"]: p["kind"] for p in everything["places"]}
    assert kinds["Resecentrum"] == "plats" and kinds["Skäggetorp"] == "område"

    found = intake.get(token, "/api/v1/places?q=stat").json()["places"]
    assert [p["name"] for p in found][:1] == ["Resecentrum"]  # by its alias "Stationen"
    assert found[0]["lat"] == 58.4165 and found[0]["aliases"] == ["Centralstationen", "Stationen"]

    other = intake.get(token, "/api/v1/places?kommun=0586")
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "forbidden_kommun"
    assert intake.client.get("/api/v1/places").status_code == 401


def test_a_kommun_enabled_after_start_is_served_without_restart(
    make_intake: Callable[..., Intake],  # noqa: F811
) -> None:
    intake = make_intake()
    token = create_organisation(
        intake.engine, "Länsadmin", "0580", "admin", ["ovrig"], extra_kommuner=["0586"]
    )[1]
    missing = intake.get(token, "/api/v1/places?kommun=0586")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "unknown_kommun"
    enable(intake.engine, "0586", by="kommun add")
    time.sleep(1.1)  # a miss looks at the registry again at most once a second
    served = intake.get(token, "/api/v1/places?kommun=0586").json()
    assert served == {"kommun": "0586", "places": []}  # enabled, no areas or places yet
