"""Before/after follow-up on constructed data where the right answer is known."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import pytest

from services.aggregate.followup import (
    follow_up,
    promise_month,
    rate_ratio,
    statement,
    target_areas,
    window_weeks,
)
from services.aggregate.logic import Incident
from shared.areas import OTHER_AREA
from shared.contracts import DecisionV1
from shared.plan import Promise
from shared.weeks import shift_week

AREAS = ["Skäggetorp", "Ryd", "Berga", "Innerstaden", OTHER_AREA]


def _decision(target: str = "Skäggetorp, norra delen", **kw: object) -> DecisionV1:
    fields = {
        "decision_id": "d1",
        "kommun": "0580",
        "measure": "Nattvandring",
        "target": target,
        "categories": ["skadegorelse"],
        "responsible": ["Kommunen"],
        "from_week": "2026-W40",
        "until_week": "2026-W51",
        "decided_at": datetime(2026, 9, 28, tzinfo=UTC),
    }
    return DecisionV1.model_validate({**fields, **kw})


def test_the_ratio_of_rate_ratios_and_its_interval() -> None:
    ratio, low, high = rate_ratio(40, 20, 400, 400)
    spread = 1.96 * math.sqrt(1 / 40 + 1 / 20 + 2 / 400)
    assert ratio == pytest.approx(0.5)
    assert (low, high) == pytest.approx((0.5 * math.exp(-spread), 0.5 * math.exp(spread)))
    assert rate_ratio(0, 4, 10, 10)[0] == pytest.approx((4.5 / 0.5) / 1)  # half an event added


@pytest.mark.parametrize(
    ("counts", "start"),
    [
        ((40, 20, 400, 400), "Minskade med ca 50 %"),
        ((20, 40, 400, 400), "Ökade med ca 100 %"),
        ((20, 18, 400, 400), "Ingen säker skillnad"),
        ((4, 1, 400, 400), "För få händelser för att säga något säkert"),
    ],
)
def test_the_statement_is_honest_about_uncertainty(
    counts: tuple[int, int, int, int], start: str
) -> None:
    assert statement(*counts).startswith(start)


def test_target_areas_of_areas_and_hotspot_names() -> None:
    assert target_areas("Ryd", AREAS) == ["Ryd"]
    assert target_areas("Skäggetorp, norra delen", AREAS) == ["Skäggetorp"]
    assert target_areas("Ryd/Berga m.fl.", AREAS) == ["Ryd", "Berga"]
    assert target_areas("Okänd plats", AREAS) == []


def test_windows_are_8_weeks_before_and_the_weeks_so_far() -> None:
    before, after = window_weeks(_decision(), "2026-W43")
    assert (before[0], before[-1], len(before)) == ("2026-W32", "2026-W39", 8)
    assert after == ["2026-W40", "2026-W41", "2026-W42", "2026-W43"]
    assert window_weeks(_decision(), "2027-W05")[1][-1] == "2026-W51"  # ended: up to its end


def test_a_halving_at_the_target_against_steady_comparison_places() -> None:
    """Skäggetorp: 10 a week before, 5 after; Ryd and Berga: 20 a week throughout; a second
    decision treats Innerstaden (not a comparison place) and the rural rest is never one."""
    counts: dict[str, Counter[tuple[str, str]]] = {}
    for i in range(-8, 4):
        week = shift_week("2026-W40", i)
        c = counts[week] = Counter()
        c[("Skäggetorp", "skadegorelse")] = 10 if i < 0 else 5
        c[("Ryd", "skadegorelse")] = c[("Berga", "skadegorelse")] = 10
        c[("Innerstaden", "skadegorelse")] = 100 if i >= 0 else 1
        c[(OTHER_AREA, "skadegorelse")] = 50 if i >= 0 else 1
        c[("Skäggetorp", "klotter")] = 30  # another category: not counted
    decision, other = _decision(), _decision("Innerstaden", decision_id="d2")
    result = follow_up(decision, [decision, other], counts, AREAS, "2026-W43")
    assert (result.before, result.after) == (80, 20)
    assert (result.comparison_before, result.comparison_after) == (160, 80)
    assert (result.weeks_before, result.weeks_after) == (8, 4)
    assert result.ratio == pytest.approx(0.5)
    assert result.ratio_high is not None and result.ratio_high < 1
    assert result.statement.startswith("Minskade med ca 50 %")


def test_a_target_that_is_no_area_says_so() -> None:
    result = follow_up(_decision("Någonstans"), [], {}, AREAS, "2026-W43")
    assert result.ratio is None and "kunde inte knytas" in result.statement


def _incident(n: int, when: datetime, lat: float, area: str = "Innerstaden") -> Incident:
    return Incident(f"o/{n}", area, "ordningsstorning", "polis", when, lat, 15.62, "exact", "")


def test_a_promise_month_counts_only_at_its_place_and_in_its_month() -> None:
    promise = Promise.model_validate(
        {
            "id": "resecentrum",
            "lofte": "Tryggare resecentrum",
            "platser": [{"namn": "Resecentrum", "lat": 58.4165, "lon": 15.62, "radie_m": 300}],
            "kategorier": ["ordningsstorning"],
            "atgarder": ["Fotpatrullering"],
            "ansvar": ["Polisen"],
        }
    )
    oct_, nov, dec = (datetime(2026, m, 1, tzinfo=UTC) for m in (10, 11, 12))
    near, far = 58.4166, 58.44  # about 10 m and 2.6 km from the place
    incidents = (
        [_incident(i, datetime(2026, 10, 5, tzinfo=UTC), near) for i in range(12)]
        + [_incident(100 + i, datetime(2026, 11, 5, tzinfo=UTC), near) for i in range(3)]
        + [_incident(200 + i, datetime(2026, 11, 6, tzinfo=UTC), far) for i in range(9)]
    )
    decided = [_decision("Innerstaden", activity_id="resecentrum", measure="Fotpatrullering")]
    month = promise_month(promise, "2026-11", incidents, (oct_, nov, dec), decided)
    assert (month.count, month.previous_count) == (3, 12)
    assert month.planned == ["Fotpatrullering"] and len(month.done) == 1
    assert month.statement.startswith("Tydlig minskning")
