"""Decisions that close the loop, the pure rules: weeks and places as people type them,
report-backs (återrapporter) and how a reader keeps every one it heard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import DecisionV1
from shared.decisions import (
    DecisionDraft,
    DecisionError,
    build_decision,
    decision_problems,
    match_target,
    merged_decision,
    report_event,
)
from shared.weeks import read_week

NOW = datetime(2026, 12, 6, 20, tzinfo=UTC)  # a Sunday of week 49
NAMES = [
    "Skäggetorp",
    "Ryd",
    "Innerstaden",
    "Skäggetorps centrum",
    "Resecentrum",
    "Ryds centrum",
    "Berga",
]


@pytest.mark.parametrize(
    ("typed", "week"),
    [
        ("v50", "2026-W50"),
        ("V50", "2026-W50"),
        ("v 50", "2026-W50"),
        ("vecka 50", "2026-W50"),
        ("Vecka 50", "2026-W50"),
        ("50", "2026-W50"),
        ("2026-W50", "2026-W50"),
        ("2026-w50", "2026-W50"),
        ("2026 v50", "2026-W50"),
        ("v2", "2027-W02"),  # in December, week 2 is next January's
        ("v48", "2026-W48"),
    ],
)
def test_weeks_as_people_write_them(typed: str, week: str) -> None:
    assert read_week(typed, NOW) == week


@pytest.mark.parametrize("typed", ["", "vecka", "v54", "2025-W53", "2026-48", "nästa vecka", "5O"])
def test_what_is_no_week_says_so_in_swedish(typed: str) -> None:
    with pytest.raises(ValueError, match="vecka"):
        read_week(typed, NOW)


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Skäggetorps centrum", "Skäggetorps centrum"),
        ("Skäggetorp centrum", "Skäggetorps centrum"),
        ("skäggetorp  CENTRUM", "Skäggetorps centrum"),
        ("resecentrum", "Resecentrum"),
        ("Skägetorp", "Skäggetorp"),
        ("berga", "Berga"),
        ("skäggetorps, norra delen", "Skäggetorp, norra delen"),  # a hotspot's name
        ("Ryd", "Ryd"),
    ],
)
def test_targets_typed_as_people_type_them_resolve(typed: str, name: str) -> None:
    assert match_target(typed, NAMES) == (name, [])


def test_an_ambiguous_target_gets_suggestions_not_a_guess() -> None:
    resolved, suggestions = match_target("centrum", NAMES)
    assert resolved is None
    assert set(suggestions) == {"Skäggetorps centrum", "Ryds centrum"}
    draft = DecisionDraft(
        kommun="0580", measure="Belysning", target="centrum", until_week="v50",
        responsible=["Kommunen"],
    )  # fmt: skip
    with pytest.raises(DecisionError) as caught:
        build_decision(draft, categories={"klotter": "Klotter"}, area_names=NAMES, now=NOW)
    assert caught.value.field == "target"
    assert "kan vara flera platser" in caught.value.message
    assert "Skäggetorps centrum" in caught.value.message


def test_an_unknown_target_is_refused_with_the_nearest_name() -> None:
    assert match_target("Nowhere", NAMES) == (None, [])
    problems = dict(
        decision_problems(
            DecisionDraft(
                kommun="0580", measure="x", target="Stora torget", until_week="2026-W50",
                from_week="2026-W49", responsible=["K"],
            ),
            {},
            NAMES,
        )
    )  # fmt: skip
    assert "okänt område" in problems["target"]


def test_a_decision_built_from_loose_input_is_spelt_as_the_kommun_spells_it() -> None:
    draft = DecisionDraft(
        kommun="0580", measure="Extra väktare", target="skäggetorp centrum",
        from_week="vecka 50", until_week="52", responsible=["Securitas"], owner="Kommunen",
    )  # fmt: skip
    d = build_decision(draft, categories={}, area_names=NAMES, now=NOW)
    assert (d.target, d.from_week, d.until_week) == ("Skäggetorps centrum", "2026-W50", "2026-W52")
    assert (d.owner, d.progress, d.reports) == ("Kommunen", "planerad", [])


def _decision() -> DecisionV1:
    return DecisionV1(
        decision_id="0580-abcdef01", kommun="0580", measure="Belysning i tunneln",
        target="Resecentrum", responsible=["Tekniska förvaltningen"], from_week="2026-W48",
        until_week="2026-W52", decided_at=NOW - timedelta(days=14), owner="Tekniska",
    )  # fmt: skip


def test_a_report_back_carries_date_text_who_and_the_new_status() -> None:
    first = report_event(_decision(), " Lamporna bytta ", "Tekniska", "pågår", NOW)
    assert first.progress == "pågår" and first.status == "open"
    [report] = first.reports
    assert (report.text, report.by, report.progress, report.reported_at) == (
        "Lamporna bytta", "Tekniska", "pågår", NOW,
    )  # fmt: skip
    later = report_event(first, "Klart, tunneln ljus", "", "genomförd", NOW + timedelta(days=1))
    assert [r.text for r in later.reports] == ["Lamporna bytta", "Klart, tunneln ljus"]
    assert later.progress == "genomförd" and later.message_id != first.message_id
    unchanged = report_event(later, "Uppföljning", "Polisen", None, NOW + timedelta(days=2))
    assert unchanged.progress == "genomförd"  # a report without a status keeps it


@pytest.mark.parametrize(
    ("text", "progress", "field", "words"),
    [
        ("   ", None, "text", "skriv vad som har gjorts"),
        ("x" * 2001, None, "text", "högst 2000"),
        ("ok", "klar", "progress", "planerad, pågår, genomförd, avbruten"),
    ],
)
def test_a_bad_report_back_is_refused(
    text: str, progress: str | None, field: str, words: str
) -> None:
    with pytest.raises(DecisionError) as caught:
        report_event(_decision(), text, "", progress, NOW)
    assert caught.value.field == field and words in caught.value.message


def test_a_closed_decision_takes_no_report_and_personal_data_is_scrubbed() -> None:
    closed = _decision().model_copy(update={"status": "closed"})
    with pytest.raises(DecisionError, match="stängt"):
        report_event(closed, "för sent", "", None, NOW)
    scrubbed = report_event(_decision(), "Ring 070-123 45 67", "Anna 19800101-1234", None, NOW)
    assert "070-123 45 67" not in scrubbed.reports[0].text
    assert "19800101-1234" not in scrubbed.reports[0].by


def test_a_reader_keeps_every_report_it_heard() -> None:
    base = _decision()
    one = report_event(base, "Första", "A", "pågår", NOW)
    # a second report sent from a copy that never heard the first (the CLI reads the
    # aggregate's row): the reader still keeps both, oldest first
    two = report_event(base, "Andra", "B", "genomförd", NOW + timedelta(hours=1))
    kept = merged_decision(merged_decision(base, one), two)
    assert [r.text for r in kept.reports] == ["Första", "Andra"]
    assert kept.progress == "genomförd"
    # the same event heard twice changes nothing; an older one heard late keeps the order
    assert merged_decision(kept, two).reports == kept.reports
    assert merged_decision(merged_decision(base, two), one).reports == kept.reports
    # closing (sent from a copy without reports) keeps the reports; closed stays closed
    closing = base.model_copy(update={"status": "closed"})
    closed = merged_decision(kept, closing)
    assert closed.status == "closed" and len(closed.reports) == 2
    assert merged_decision(closed, one).status == "closed"


def test_a_plan_whose_period_has_ended_is_avslutad() -> None:
    from datetime import date

    from shared.plan import parse_plan

    plan = parse_plan(
        'id = "p"\nkommun = "0580"\ntitel = "Plan"\n'
        "period = { fran = 2025-01-01, till = 2025-12-31 }\n"
    )
    assert plan.state(date(2025, 12, 31)) == "gällande"
    assert plan.state(date(2026, 1, 1)) == "avslutad"
    assert plan.state(date(2024, 12, 31)) == "kommande"


def test_the_matching_is_explained_in_one_line() -> None:
    from shared.plan import match_line

    reasons = ["kategori: Klotter", "område: Centrum", "plats: Resecentrum"]
    line = match_line([*reasons, "tid: 3 av 4 händelser inom fre 22-02"])
    assert line == (
        "Samma kategori (Klotter), i området Centrum, vid Resecentrum, "
        "tid: 3 av 4 händelser inom fre 22-02."
    )
    assert "\n" not in line and match_line([]) == ""
