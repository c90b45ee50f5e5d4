"""The plan's state in the week (services/aggregate/plan_state.py): promises and
samverkansområden counted by the counting rule, compared only when comparable, and the
patrols proposed until the next meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.aggregate.logic import Incident
from services.aggregate.plan_state import (
    MAX_PATROLS,
    PATROLS_PER_DAY,
    plan_area_states,
    promise_states,
    trend,
    upcoming_patrols,
    upcoming_window,
)
from shared.contracts import DecisionReportV1, DecisionV1
from shared.patrol_orders import Visit
from shared.plan import parse_plan
from shared.weeks import STOCKHOLM
from tests.unit.test_tib_planning import SNAP

WEEK, BEFORE = "2026-W47", "2026-W46"
FRIDAY = datetime(2026, 11, 20, 21, tzinfo=STOCKHOLM)
RESECENTRUM = (58.4165, 15.6250)
PLAN = parse_plan(
    """
id = "p"
kommun = "0580"
titel = "Plan"
period = { fran = 2026-01-01, till = 2026-12-31 }

[[samverkansomraden]]
id = "rummet"
namn = "Otrygghet i det offentliga rummet"

[[samverkansomraden.atgarder]]
id = "resecentrum"
vad = "Närvaro vid resecentrum"
ansvar = ["Polisen"]
kategorier = ["storande_samling"]
platser = [{ namn = "Resecentrum", lat = 58.4165, lon = 15.6250, radie_m = 300 }]

[[medborgarloften]]
id = "lofte-resecentrum"
lofte = "Tryggare kvällar vid Resecentrum"
ansvar = ["Polisen"]
kategorier = ["storande_samling", "hot"]
platser = [{ namn = "Resecentrum", lat = 58.4165, lon = 15.6250, radie_m = 300 }]
"""
)


def incident(
    n: int,
    category: str,
    at: datetime,
    where: tuple[float, float] = RESECENTRUM,
    area: str = "Innerstaden",
    duplicate_of: str | None = None,
) -> Incident:
    return Incident(
        key=f"o/{n}", area=area, category=category, source="vaktare",
        occurred_at=at.astimezone(UTC), lat=where[0], lon=where[1],
        location_precision="exact", description="", duplicate_of=duplicate_of,
    )  # fmt: skip


def area_of(lat: float, lon: float) -> str:
    return "Innerstaden" if abs(lat - RESECENTRUM[0]) < 0.01 else "Ryd"


NOW = [incident(i, "storande_samling", FRIDAY + timedelta(minutes=i)) for i in range(6)]
NOW += [incident(10, "storande_samling", FRIDAY, duplicate_of="o/1")]  # never counted
NOW += [incident(11, "klotter", FRIDAY)]  # not the promise's category
NOW += [incident(12, "hot", FRIDAY, where=(58.44, 15.55), area="Ryd")]  # elsewhere
PREVIOUS = [incident(20 + i, "hot", FRIDAY - timedelta(weeks=1)) for i in range(2)]


def test_trend_words() -> None:
    assert [trend(5, None), trend(5, 0), trend(5, 2), trend(2, 5), trend(3, 3)] == [
        "–", "ny", "ökar", "minskar", "oförändrad",
    ]  # fmt: skip


def test_a_promise_counts_its_categories_at_its_places_and_compares_only_when_it_may() -> None:
    decision = DecisionV1(
        decision_id="d1", kommun="0580", measure="Fotpatrull kvällstid",
        activity_id="lofte-resecentrum", target="Resecentrum", responsible=["Polisen"],
        from_week="2026-W45", until_week="2026-W50", decided_at=FRIDAY - timedelta(weeks=2),
        reports=[
            DecisionReportV1(reported_at=FRIDAY - timedelta(days=2), text="Två pass gjorda",
                             by="Polisen"),
            DecisionReportV1(reported_at=FRIDAY - timedelta(days=60), text="För länge sedan"),
        ],
    )  # fmt: skip
    visit = Visit("o1", "Resecentrum", "Innerstaden", *RESECENTRUM, FRIDAY,
                  FRIDAY + timedelta(hours=2, minutes=30))  # fmt: skip
    [state] = promise_states([PLAN], WEEK, NOW, PREVIOUS, True, [decision], [visit])
    assert (state.promise_id, state.places, state.count, state.previous) == (
        "lofte-resecentrum", ["Resecentrum"], 6, 2,
    )  # fmt: skip
    assert state.trend == "ökar"
    assert state.done == [
        "Beslut från vecka 45: Fotpatrull kvällstid (Resecentrum)",
        "18 nov: Två pass gjorda (Polisen)",  # this month's report-back, not October's
        "Väktare på plats 2,5 timmar (1 besök) vecka 47",
    ]
    [unsure] = promise_states([PLAN], WEEK, NOW, PREVIOUS, False, [], [])
    assert (unsure.count, unsure.previous, unsure.trend, unsure.done) == (6, None, "–", [])
    # a plan whose period does not cover the week says nothing
    assert promise_states([PLAN], "2027-W02", NOW, PREVIOUS, True, [], []) == []


def test_a_plan_area_counts_in_the_areas_of_its_places_with_hotspots_and_decisions() -> None:
    snap = SNAP.model_copy(
        update={
            "open_decisions": [
                DecisionV1(decision_id="d", kommun="0580", measure="m", target="Innerstaden",
                           categories=["storande_samling"], responsible=["x"],
                           from_week=WEEK, until_week=WEEK, decided_at=FRIDAY),
                DecisionV1(decision_id="e", kommun="0580", measure="m", target="Innerstaden",
                           categories=["klotter"], responsible=["x"],
                           from_week=WEEK, until_week=WEEK, decided_at=FRIDAY),
            ]
        }
    )  # fmt: skip
    [state] = plan_area_states([PLAN], snap, NOW, PREVIOUS, True, area_of, lambda t: t)
    assert (state.plan_area_id, state.areas, state.categories) == (
        "rummet", ["Innerstaden"], ["storande_samling"],
    )  # fmt: skip
    assert (state.count, state.previous, state.trend) == (6, 0, "ny")
    assert state.hotspots == []  # SNAP's hotspots are in Skäggetorp and Ryd
    assert state.open_decisions == 1  # the klotter decision is not about this area's work


def test_upcoming_patrols_fill_the_days_until_the_next_meeting_on_quarter_hours() -> None:
    start, end = upcoming_window(SNAP.iso_week)
    assert start == datetime(2026, 11, 23, tzinfo=STOCKHOLM)
    assert end == start + timedelta(days=7)
    patrols = upcoming_patrols(SNAP, [], [], False, {})
    assert 1 <= len(patrols) <= MAX_PATROLS
    days: dict[object, int] = {}
    for p in patrols:
        local = p.start.astimezone(STOCKHOLM)
        assert start <= p.start < p.end <= end
        assert local.minute % 15 == 0 and p.end.astimezone(STOCKHOLM).minute % 15 == 0
        assert p.place in {"Skäggetorps centrum", "Ryd centrum"}
        assert "väntat ca" in p.reason  # an expectation, labelled as one
        days[local.date()] = days.get(local.date(), 0) + 1
    assert max(days.values()) <= PATROLS_PER_DAY
    assert [p.start for p in patrols] == sorted(p.start for p in patrols)
    # Skäggetorp's profile is Friday 21–23: that is when its patrol is proposed
    friday = [p for p in patrols if p.place == "Skäggetorps centrum"]
    assert friday and all(p.start.astimezone(STOCKHOLM).weekday() == 4 for p in friday)
    assert upcoming_patrols(SNAP.model_copy(update={"hotspots": []}), [], [], False, {}) == []
