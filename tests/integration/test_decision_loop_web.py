"""Decisions that close the loop on the archive server, and its folders: report-backs
(återrapporter) from the decision page, a decision listed as soon as it is recorded
("ej i lägesbilden än" until the next build), places and weeks typed loosely, an index at
every folder URL, a favicon, and the same pages as the files on disk. Real redis-server and
database, the server app over HTTP."""

# ruff: noqa: F811 (the `web` fixture is imported from test_decision_web)
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.maps import decision_store
from services.maps.publish import PUBLIC_DIR
from shared.contracts import DecisionV1
from tests.integration.test_decision_web import GOOD, PAGE, Web, web  # noqa: F401 (fixture)
from tests.support.snapshots import HOT_CENTRUM

pytestmark = pytest.mark.redis


def _stored(web: Web, decision_id: str = "0580-0000cafe") -> DecisionV1:
    decision = DecisionV1(
        decision_id=decision_id,
        kommun="0580",
        measure="Belysning vid gångtunneln",
        target=HOT_CENTRUM,
        responsible=["Tekniska förvaltningen"],
        from_week="2026-W45",
        until_week="2026-W50",
        decided_at=datetime(2026, 11, 2, 18, tzinfo=UTC),
        owner="Kommunens trygghetssamordnare",
    )
    assert decision_store.save_decision(web.engine, decision)
    return decision


def test_a_report_back_from_the_page(web: Web) -> None:
    stored = _stored(web)
    page = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert f'action="beslut/{stored.decision_id}/aterrapport"' in page
    assert "Kommunens trygghetssamordnare" in page and "Ingen återrapport än." in page
    for code in ("planerad", "pågår", "genomförd", "avbruten"):
        assert f'<option value="{code}"' in page
    sent = web.client.post(
        f"{PAGE}/{stored.decision_id}/aterrapport",
        data={"text": "Två armaturer bytta", "by": "Tekniska", "progress": "pågår"},
        headers=web.as_("meeting"),
    )
    assert sent.status_code == 303 and sent.headers["location"] == PAGE
    [event] = web.published()
    assert (event.decision_id, event.status, event.progress) == (
        stored.decision_id,
        "open",
        "pågår",
    )
    [report] = event.reports
    assert (report.text, report.by, report.progress) == ("Två armaturer bytta", "Tekniska", "pågår")
    assert web.audit("decision_report")
    shown = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert "Återrapporten är registrerad" in shown and "status pågår" in shown
    assert "Två armaturer bytta" in shown and "<b>Pågår</b>" in shown

    # a second report, sent by the CLI from a copy without the first: both are listed
    other = event.model_copy(update={"reports": [], "progress": "planerad"})
    from shared.decisions import report_event

    late = report_event(other, "Resten klart", "Polisen", "genomförd", datetime.now(UTC))
    decision_store.save_decision(web.engine, late)
    listed = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert "Två armaturer bytta" in listed and "Resten klart" in listed
    assert listed.index("Resten klart") < listed.index("Två armaturer bytta")  # newest first
    assert "<b>Genomförd</b>" in listed


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"text": "  "}, 422, "Skriv vad som har gjorts"),
        ({"text": "ok", "progress": "klar"}, 422, "Okänd status"),
    ],
)
def test_a_bad_report_back_is_refused_with_a_reason(
    web: Web, form: dict[str, str], status: int, words: str
) -> None:
    stored = _stored(web)
    answer = web.client.post(
        f"{PAGE}/{stored.decision_id}/aterrapport", data=form, headers=web.as_("meeting")
    )
    assert answer.status_code == status and words in answer.text
    assert "Återrapporten sparades inte" in answer.text
    assert web.published() == []


def test_report_backs_need_the_right_and_an_existing_open_decision(web: Web) -> None:
    stored = _stored(web)
    url = f"{PAGE}/{stored.decision_id}/aterrapport"
    assert web.client.post(url, data={"text": "x"}, headers=web.as_("tib")).status_code == 403
    assert web.client.post(url, data={"text": "x"}).status_code == 401
    missing = web.client.post(
        f"{PAGE}/0580-nope/aterrapport", data={"text": "x"}, headers=web.as_("meeting")
    )
    assert missing.status_code == 404 and "Det finns inget beslut" in missing.text
    web.client.post(f"{PAGE}/{stored.decision_id}/stang", headers=web.as_("meeting"))
    closed = web.client.post(url, data={"text": "för sent"}, headers=web.as_("meeting"))
    assert closed.status_code == 409 and "stängt" in closed.text
    assert [e.status for e in web.published()] == ["closed"]


def test_a_decision_is_listed_at_once_marked_until_the_next_build(web: Web) -> None:
    form = {
        **GOOD,
        "target": "norr",
        "from_week": "v48",
        "until_week": "vecka 51",
        "owner": "Polisen",
    }
    created = web.client.post(PAGE, data=form, headers=web.as_("meeting"))
    assert created.status_code == 303, created.text
    [event] = web.published()
    # the place and the weeks as typed, spelt as the kommun and ISO spell them
    assert (event.target, event.from_week, event.until_week) == ("Norr", "2026-W48", "2026-W51")
    assert event.owner == "Polisen" and event.progress == "planerad"
    page = web.client.get(PAGE, headers=web.as_("meeting")).text
    row = page.split(f'data-id="{event.decision_id}"', 1)[1].split("</tr>", 1)[0]
    assert "ej i lägesbilden än" in row and "Polisen" in row
    # "D1" is in the built week 2026-W47 (the test snapshot's open decision): not marked
    _stored(web, "D1")
    page = web.client.get(PAGE, headers=web.as_("meeting")).text
    built_row = page.split('data-id="D1"', 1)[1].split("</tr>", 1)[0]
    assert "ej i lägesbilden än" not in built_row


def test_an_unknown_place_is_refused_with_its_reason(web: Web) -> None:
    answer = web.client.post(
        PAGE, data={**GOOD, "target": "Stora torget"}, headers=web.as_("meeting")
    )
    assert answer.status_code == 422 and "Okänt område" in answer.text
    assert web.published() == []


def test_every_folder_has_an_index_and_the_pages_are_the_files(
    web: Web, service_env: dict[str, str]
) -> None:
    out = Path(service_env["LAGESBILD_OUTPUT_DIR"])
    headers = web.as_("meeting")
    kommun = web.client.get("/0580/", headers=headers)
    assert kommun.status_code == 200 and 'href="2026-W47/"' in kommun.text
    assert "Vecka 47, 2026" in kommun.text and "Content-Security-Policy" in kommun.text
    week = web.client.get("/0580/2026-W47/", headers=headers)
    assert week.status_code == 200
    for name, label in (("karta.html", "Karta"), ("motesunderlag.html", "Mötesunderlag")):
        assert f'href="{name}">{label}</a>' in week.text
    redirect = web.client.get("/0580/2026-W47", headers=headers)
    assert redirect.headers["location"] == "/0580/2026-W47/"
    # restricted folders need the key; the public tree does not
    assert web.client.get("/0580/").status_code == 401
    public = web.client.get(f"/{PUBLIC_DIR}/0580/")
    assert public.status_code == 200 and 'href="2026-W47/"' in public.text
    public_week = web.client.get(f"/{PUBLIC_DIR}/0580/2026-W47/")
    assert public_week.status_code == 200 and 'href="motesunderlag.html"' in public_week.text
    assert "export" not in public_week.text
    # the same pages as on disk, byte for byte
    for path in ("0580/2026-W47/motesunderlag.html", "0580/2026-W47/sammanfattning.json"):
        served = web.client.get(f"/{path}", headers=headers)
        assert served.status_code == 200 and served.content == (out / path).read_bytes()
    public_pack = f"{PUBLIC_DIR}/0580/2026-W47/motesunderlag.html"
    assert web.client.get(f"/{public_pack}").content == (out / public_pack).read_bytes()


def test_the_favicon(web: Web) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        icon = web.client.get(path)  # no key: browsers ask for it before logging in
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.content.startswith(b"<svg") and b"</svg>" in icon.content


def test_cli_report_back_goes_on_the_stream_and_reaches_the_page(
    web: Web,
    service_env: dict[str, str],
    running_services: dict[str, object],
    tmp_path: Path,
) -> None:
    """`lagesbild decision report ID --text …` as a process, through the real aggregate,
    to the archive server's page (its stream consumers run: the app's lifespan)."""
    from tests.conftest import run_cli, wait_for

    env = {**service_env, "LAGESBILD_AREAS_DIR": str(tmp_path / "areas")}
    web.client.__enter__()  # the lifespan: the server's own stream consumers
    try:
        _cli_report_back(web, env, run_cli, wait_for)
    finally:
        web.client.__exit__(None, None, None)


def _cli_report_back(web: Web, env: dict[str, str], run_cli: Any, wait_for: Any) -> None:
    run_cli(
        env, "decision", "add", "--measure", "Väktare vid resecentrum", "--target", "centrum",
        "--responsible", "Securitas", "--owner", "Kommunen", "--from-week", "v48",
        "--until-week", "vecka 50", "--id", "0580-00c11abc",
    )  # fmt: skip
    stored = wait_for(lambda: decision_store.stored_decision(web.engine, "0580-00c11abc"), 30)
    assert (stored.target, stored.from_week, stored.until_week) == (
        "Centrum", "2026-W48", "2026-W50",
    )  # fmt: skip

    def listed() -> list[str]:
        out = run_cli(env, "decision", "list").stdout
        return [line for line in out.splitlines() if "0580-00c11abc" in line]

    wait_for(listed, 30)  # the aggregate has it: `report` reads it there
    done = run_cli(
        env, "decision", "report", "0580-00c11abc", "--text", "Två pass gjorda",
        "--by", "Securitas", "--status", "pågår",
    )  # fmt: skip
    assert "Återrapport för beslut 0580-00c11abc skickad (status pågår)" in done.stdout
    kept = wait_for(
        lambda: (
            (d := decision_store.stored_decision(web.engine, "0580-00c11abc")) and d.reports and d
        ),
        30,
    )
    assert kept.progress == "pågår" and kept.reports[0].text == "Två pass gjorda"
    assert kept.owner == "Kommunen"
    page = web.client.get(PAGE, headers=web.as_("meeting")).text
    assert "Två pass gjorda" in page
