"""Open311 GeoReport v2 conformance (wiki.open311.org/GeoReport_v2, issue #17): every
endpoint in JSON and in XML (parsed with ElementTree, element names as the spec has them),
the spec's errors, the public view without a key against the view with one, comma lists,
`service_request_id` overriding every other filter, the 90-day window, `updated_datetime`
once closed, and `address_string` / `address_id` resolved or refused. The intake app on a
real redis-server and a real SQLite file; the real ingest closes requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import update

from services.intake.main import create_app
from services.intake.models import IntakeReceipt
from services.intake.open311_model import area_points
from shared.db import init_db, make_engine
from shared.places import places_for
from shared.redis_runtime import EmbeddedRedis
from tests.integration.test_intake_api import Intake, settings_for

pytestmark = pytest.mark.redis

V2 = "/open311/v2"
EXACT = {"lat": "58.4108", "long": "15.6214"}  # Linköping, a spot in a named area
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type",
                  "keywords", "group"}  # fmt: skip
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description",
                    "order", "description"}  # fmt: skip
# Every element the spec allows in a <request> of GET requests.
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
}  # fmt: skip


def _make(tmp_path: Path, redis_url: str, **changes: Any) -> Intake:
    db_url = f"sqlite:///{tmp_path / 'data' / 'lagesbild.db'}"
    settings = settings_for(tmp_path, redis_url, db_url, **changes)
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    client = TestClient(create_app(settings)).__enter__()
    return Intake(client, engine, Redis.from_url(redis_url), settings)


@pytest.fixture
def intake(tmp_path: Path, redis_server: EmbeddedRedis) -> Iterator[Intake]:
    made = _make(tmp_path, redis_server.url)
    yield made
    made.client.__exit__(None, None, None)
    made.redis.close()


def xml(response: Any) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8", response.text
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def children(element: ET.Element) -> dict[str, str]:
    return {c.tag: c.text or "" for c in element}


def post(intake: Intake, token: str, fmt: str = "json", **form: str) -> Any:
    data = {"service_code": "klotter", "api_key": token} | form
    return intake.client.post(f"{V2}/requests.{fmt}", data=data)


def created_id(response: Any) -> str:
    assert response.status_code == 201, response.text
    [created] = response.json()
    return str(created["service_request_id"])


# --- discovery and services ---------------------------------------------------------------


def test_discovery_in_both_formats(intake: Intake) -> None:
    as_json = intake.client.get(f"{V2}/discovery.json").json()
    root = xml(intake.client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    [endpoint] = root.find("endpoints") or []
    assert endpoint.tag == "endpoint"
    fields = children(endpoint)
    assert fields["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert fields["type"] == "production" and fields["url"] == V2
    formats = [f.text for f in endpoint.iterfind("formats/format")]
    assert set(formats) == {"text/xml", "application/json"}
    assert as_json["endpoints"][0]["formats"] == formats
    assert as_json["changeset"] == root.findtext("changeset")


def test_services_and_their_definitions_in_both_formats(intake: Intake) -> None:
    services = intake.client.get(f"{V2}/services.json").json()
    root = xml(intake.client.get(f"{V2}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    assert [children(s)["service_code"] for s in root] == [s["service_code"] for s in services]
    for element, service in zip(root, services, strict=True):
        assert set(children(element)) == SERVICE_FIELDS == set(service)
        assert children(element)["metadata"] == "true" and service["metadata"] is True
        assert service["type"] == "realtime"

    definition = intake.client.get(f"{V2}/services/klotter.json").json()
    root = xml(intake.client.get(f"{V2}/services/klotter.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "klotter"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["source", "occurred_at", "address_id"]
    for element, attribute in zip(attributes, definition["attributes"], strict=True):
        assert set(children(element)) >= ATTRIBUTE_FIELDS
        assert children(element)["order"] == str(attribute["order"])
        keys = [v.findtext("key") for v in element.iterfind("values/value")]
        assert keys == [v["key"] for v in attribute.get("values", [])]
    source, when, address = definition["attributes"]
    assert source["datatype"] == "singlevaluelist" and source["variable"] is True
    assert "vaktare" in [v["key"] for v in source["values"]]
    assert when["datatype"] == "datetime" and when["required"] is False
    kommun = intake.client.app.state.ctx.kommuner["0580"]  # type: ignore[attr-defined]
    names = {f"{'omrade' if i['kind'] == 'område' else 'plats'}:{i['name']}"
             for i in places_for(kommun)}  # fmt: skip
    assert address["variable"] is False and {v["key"] for v in address["values"]} == names

    missing = intake.client.get(f"{V2}/services/elefant.xml")
    assert missing.status_code == 404
    [error] = xml(missing)
    assert error.tag == "error" and error.findtext("code") == "404"
    assert "elefant" in (error.findtext("description") or "")


# --- creating requests ----------------------------------------------------------------------


def test_a_request_is_created_in_both_formats_with_lat_long(intake: Intake) -> None:
    token = intake.org("Securitas", sources=("vaktare", "ordningsvakt"))
    when = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    first = created_id(post(intake, token, **EXACT, **{
        "attribute[source]": "ordningsvakt", "attribute[occurred_at]": when,
    }))  # fmt: skip
    as_xml = post(intake, token, "xml", **EXACT)
    assert as_xml.status_code == 201
    root = xml(as_xml)
    assert root.tag == "service_requests"
    [request] = root
    assert request.tag == "request"
    assert set(children(request)) == {"service_request_id", "service_notice", "account_id"}
    second = request.findtext("service_request_id")
    assert first.isdigit() and second and second.isdigit() and first != second
    entries = intake.entries()
    assert entries[0]["source"] == "ordningsvakt"
    assert datetime.fromisoformat(entries[0]["occurred_at"]) == datetime.fromisoformat(when)
    assert entries[0]["location_precision"] == "exact"
    # api_key in the address works as well as in the form body
    in_query = intake.client.post(
        f"{V2}/requests.json?api_key={token}", data={"service_code": "klotter", **EXACT}
    )
    assert in_query.status_code == 201, in_query.text


def test_address_string_and_address_id_are_resolved_or_refused(intake: Intake) -> None:
    token = intake.org("Securitas")
    kommun = intake.client.app.state.ctx.kommuner["0580"]  # type: ignore[attr-defined]
    area, (lat, lon) = next(iter(area_points(kommun).items()))
    created_id(post(intake, token, address_string=f"{area}, Linköping"))
    created_id(post(intake, token, address_id=f"omrade:{area}"))
    for entry in intake.entries():
        assert (entry["lat"], entry["lon"]) == (lat, lon)
        assert entry["location_precision"] == "centroid"

    refused = post(intake, token, address_string="Atlantis")
    assert refused.status_code == 400
    [error] = refused.json()
    assert error["code"] == 400 and error["field"] == "address_string"
    assert error["description"].startswith(
        "Adressen 'Atlantis' finns inte bland Linköpings områden och platser"
    )
    refused_xml = post(intake, token, "xml", address_id="omrade:Atlantis")
    assert refused_xml.status_code == 400
    assert "Atlantis" in (xml(refused_xml).findtext("error/description") or "")
    nowhere = post(intake, token)
    assert nowhere.status_code == 400 and "lat och long" in nowhere.json()[0]["description"]
    half = post(intake, token, lat="58.41")
    assert half.status_code == 400 and half.json()[0]["field"] == "long"
    assert len(intake.entries()) == 2  # nothing refused reached the stream


# --- reading: the public view and the key's view ----------------------------------------------


def test_without_a_key_only_the_public_view_is_shown(intake: Intake) -> None:
    token = intake.org("Securitas")
    text = "Klotter på muren vid Kalles hus, ring 070-123 45 67"
    request_id = created_id(post(intake, token, description=text, **EXACT))
    kommun = intake.client.app.state.ctx.kommuner["0580"]  # type: ignore[attr-defined]
    area = kommun.area_of(float(EXACT["lat"]), float(EXACT["long"]))
    lat, lon = area_points(kommun)[area]

    # Alone in its area × category × week, a request names only the kommun: the public
    # lägesbild shows such a count as "<3", and a list would count it.
    [alone] = intake.client.get(f"{V2}/requests/{request_id}.json").json()
    assert alone["address"] == kommun.kommun_name
    assert not {"address_id", "lat", "long"} & set(alone)
    for _ in range(2):
        created_id(post(intake, token, **EXACT))
    other = created_id(post(intake, token, service_code="vald", **EXACT))
    [still_alone] = intake.client.get(f"{V2}/requests/{other}.json").json()
    assert still_alone["address"] == kommun.kommun_name

    listed = intake.client.get(f"{V2}/requests.json", params={"service_code": "klotter"})
    one = intake.client.get(f"{V2}/requests/{request_id}.json")
    assert listed.status_code == one.status_code == 200, listed.text
    assert [r for r in listed.json() if r["service_request_id"] == request_id] == one.json()
    assert len(listed.json()) == 3
    [shown] = one.json()
    assert shown["service_code"] == "klotter" and shown["status"] == "open"
    assert shown["address_id"] == f"omrade:{area}" and shown["address"].startswith(area)
    assert (shown["lat"], shown["long"]) == (lat, lon) != (58.4108, 15.6214)
    assert set(shown) <= REQUEST_FIELDS and "description" not in shown
    for private in ("Kalles", "070-123", "muren", "Securitas", "vaktare", "58.4108"):
        assert private not in one.text
    root = xml(intake.client.get(f"{V2}/requests/{request_id}.xml"))
    [request] = root
    assert root.tag == "service_requests" and request.tag == "request"
    assert set(children(request)) == set(shown) and request.findtext("lat") == str(lat)

    keyed = intake.client.get(f"{V2}/requests/{request_id}.json", params={"api_key": token})
    [restricted] = keyed.json()
    assert (restricted["lat"], restricted["long"]) == (58.4108, 15.6214)
    assert restricted["description"] == "Klotter på muren vid Kalles hus, ring [telefon]"

    wrong_kommun = intake.client.get(f"{V2}/requests.json", params={"jurisdiction_id": "9999"})
    assert wrong_kommun.status_code == 404


def test_the_public_view_can_be_turned_off(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    intake = _make(tmp_path, redis_server.url, open311_public_read=False)
    try:
        token = intake.org("Securitas")
        request_id = created_id(post(intake, token, **EXACT))
        for path in (f"{V2}/requests.json", f"{V2}/requests/{request_id}.xml"):
            refused = intake.client.get(path)
            assert refused.status_code == 403, refused.text
        assert xml(refused).findtext("error/code") == "403"
        keyed = intake.client.get(f"{V2}/requests.json", params={"api_key": token})
        assert keyed.status_code == 200 and len(keyed.json()) == 1
    finally:
        intake.client.__exit__(None, None, None)
        intake.redis.close()


def test_comma_lists_the_id_override_and_the_90_day_window(intake: Intake) -> None:
    token = intake.org("Securitas")
    klotter = created_id(post(intake, token, **EXACT))
    brand = created_id(post(intake, token, service_code="brand", **EXACT))
    old = created_id(post(intake, token, service_code="stold", **EXACT))
    long_ago = datetime.now(UTC) - timedelta(days=100)
    with intake.engine.begin() as db:
        db.execute(
            update(IntakeReceipt)
            .where(IntakeReceipt.id == int(old))  # type: ignore[arg-type]
            .values(submitted_at=long_ago)
        )

    def ids(**params: str) -> list[str]:
        r = intake.client.get(f"{V2}/requests.json", params={"api_key": token, **params})
        assert r.status_code == 200, r.text
        return sorted(x["service_request_id"] for x in r.json())

    assert ids() == sorted([klotter, brand])  # the last 90 days by default
    assert ids(service_code="klotter,brand") == sorted([klotter, brand])
    assert ids(service_code="brand") == [brand]
    assert ids(status="open,closed") == sorted([klotter, brand])
    assert ids(status="closed") == []
    start = (long_ago - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start) == [old]  # 90 days from start_date
    # service_request_id overrides every other filter (the window and status included)
    assert ids(service_request_id=f"{old}, {brand}", status="closed", service_code="x") == (
        sorted([old, brand])
    )
    too_long = intake.client.get(
        f"{V2}/requests.xml", params={"start_date": start, "end_date": "2999-01-01T00:00:00Z"}
    )
    assert too_long.status_code == 400 and "90 dagar" in too_long.text
    bad_status = intake.client.get(f"{V2}/requests.json", params={"status": "open,done"})
    assert bad_status.status_code == 400 and bad_status.json()[0]["field"] == "status"


def test_updated_datetime_is_when_the_request_was_closed(intake: Intake) -> None:
    token = intake.org("Securitas")
    request_id = created_id(post(intake, token, **EXACT))
    [before] = intake.client.get(f"{V2}/requests/{request_id}.json").json()
    assert before["status"] == "open"
    assert before["updated_datetime"] == before["requested_datetime"]
    intake.ingest()
    [after] = intake.client.get(f"{V2}/requests/{request_id}.json").json()
    root = xml(intake.client.get(f"{V2}/requests/{request_id}.xml"))
    assert after["status"] == "closed" and root.findtext("request/status") == "closed"
    closed = datetime.fromisoformat(after["updated_datetime"])
    assert closed >= datetime.fromisoformat(after["requested_datetime"])
    assert root.findtext("request/updated_datetime") == after["updated_datetime"]
    assert intake.client.get(f"{V2}/requests.json", params={"status": "closed"}).json() == [after]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_have_the_spec_shape_and_status(intake: Intake, fmt: str) -> None:
    token = intake.org("Securitas")
    cases = {
        403: post(intake, "ingen-sådan-nyckel", fmt, **EXACT),
        400: intake.client.get(f"{V2}/requests/abc.{fmt}"),
        404: intake.client.get(f"{V2}/requests/987654.{fmt}", params={"api_key": token}),
        405: intake.client.delete(f"{V2}/services.{fmt}"),
    }
    unknown_route = intake.client.get(f"{V2}/nothing-here.{fmt}")
    assert unknown_route.status_code == 404
    for status, response in [*cases.items(), (404, unknown_route)]:
        assert response.status_code == status, response.text
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == status and error["description"]
        else:
            root = xml(response)
            assert root.tag == "errors" and [e.tag for e in root] == ["error"]
            assert [c.tag for c in root[0]] == ["code", "description"]
            assert root.findtext("error/code") == str(status)


def test_the_openapi_document_describes_both_formats(intake: Intake) -> None:
    spec = intake.client.get("/openapi.json").json()
    paths = {p for p in spec["paths"] if p.startswith(V2)}
    assert paths == {
        f"{V2}/discovery.{{response_format}}", f"{V2}/services.{{response_format}}",
        f"{V2}/services/{{service_code}}.{{response_format}}",
        f"{V2}/requests.{{response_format}}",
        f"{V2}/requests/{{service_request_id}}.{{response_format}}",
    }  # fmt: skip
    listing = spec["paths"][f"{V2}/requests.{{response_format}}"]["get"]
    assert set(listing["responses"]["200"]["content"]) == {"application/json", "text/xml"}
    assert set(listing["responses"]["403"]["content"]) == {"application/json", "text/xml"}
    assert {} in listing["security"]  # readable without a key
    creating = spec["paths"][f"{V2}/requests.{{response_format}}"]["post"]
    assert {} not in creating["security"]
