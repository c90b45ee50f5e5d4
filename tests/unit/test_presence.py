"""The guards' presence per place and week, and their hours at a decision's target (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.aggregate.logic import Incident
from services.aggregate.presence import guard_hours, week_presence, with_areas
from shared.contracts import PLACE_REACH_M, DecisionV1, HotspotV1
from shared.patrol_orders import Visit, fold, visits
from shared.weeks import week_bounds
from tests.support.patrols import visit_events

WEEK = "2026-W48"  # Monday 23 November 2026
FRIDAY_20 = datetime(2026, 11, 27, 19, tzinfo=UTC)  # 20:00 in Stockholm
PLACE = (58.4275, 15.5890)
METRE_LAT = 1 / 111_320  # degrees of latitude per metre


def _visit(order_id: str, start: datetime, hours: float, **kw: object) -> Visit:
    [visit] = visits(fold(visit_events(order_id, start, hours, **kw)).values())  # type: ignore[arg-type]
    return visit


def _incident(key: str, at: datetime, north_m: float = 0.0, **kw: object) -> Incident:
    fields: dict[str, object] = dict(
        key=key, area="Skäggetorp", category="skadegorelse", source="vaktare",
        occurred_at=at, lat=PLACE[0] + north_m * METRE_LAT, lon=PLACE[1],
        location_precision="exact", description="",
    )  # fmt: skip
    return Incident(**(fields | kw))  # type: ignore[arg-type]


def _square_hotspot(name: str, centre: tuple[float, float], half: float = 0.002) -> HotspotV1:
    lat, lon = centre
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]  # fmt: skip
    return HotspotV1(
        name=name, areas=["Skäggetorp"], polygon=[ring], centroid=centre, count=5, previous=1,
        baseline_mean=1.0, categories={"skadegorelse": 5}, cells=1, score=3.0, trend="ökar",
    )  # fmt: skip


def test_hours_are_summed_per_place_and_clipped_to_the_week() -> None:
    _, week_end = week_bounds(WEEK)
    rows = week_presence(
        [
            _visit("o1", FRIDAY_20, 3),
            _visit("o2", FRIDAY_20 + timedelta(days=1), 2, incident_report=True),
            _visit("o3", week_end - timedelta(hours=1), 4),  # 1 h of it in this week
            _visit("o4", week_end + timedelta(hours=5), 4),  # next week only
            _visit("o5", FRIDAY_20, 1.5, place="Ryds centrum", lat=58.39, lon=15.56),
        ],
        [],
        [],
        WEEK,
    )
    assert [(r.place, r.hours, r.visits, r.incident_reports) for r in rows] == [
        ("Skäggetorps centrum", 6.0, 3, 1),
        ("Ryds centrum", 1.5, 1, 0),
    ]


def test_incidents_at_the_place_and_while_a_guard_was_there() -> None:
    during = FRIDAY_20 + timedelta(hours=1)
    incidents = [
        _incident("near-during", during, north_m=100),
        _incident("near-later", FRIDAY_20 + timedelta(hours=6), north_m=-200),
        _incident("edge-during", during, north_m=PLACE_REACH_M + 30),  # outside reach
        _incident("duplicate", during, duplicate_of="near-during"),  # counted once, as its original
        _incident("unplaced", during, location_precision="centroid"),  # never at a place
    ]
    [row] = week_presence([_visit("o1", FRIDAY_20, 3)], incidents, [], WEEK)
    assert (row.incidents, row.incidents_during) == (2, 1)


def test_a_place_inside_a_hotspot_is_named_after_it() -> None:
    spot = _square_hotspot("Skäggetorp, centrala delen", PLACE)
    far = _square_hotspot("Ryd, norra delen", (58.40, 15.55))
    [row] = week_presence([_visit("o1", FRIDAY_20, 2)], [], [far, spot], WEEK)
    assert row.hotspot == "Skäggetorp, centrala delen"
    [unnamed] = week_presence([_visit("o1", FRIDAY_20, 2)], [], [far], WEEK)
    assert unnamed.hotspot is None


def test_a_place_without_coordinates_counts_the_incidents_of_its_hotspot_or_area() -> None:
    spot = _square_hotspot("Skäggetorp, centrala delen", PLACE)
    by_name = _visit("o1", FRIDAY_20, 2, place=spot.name, lat=None, lon=None)
    by_area = _visit("o2", FRIDAY_20, 2, place="Runt Ryd", lat=None, lon=None, area="Ryd")
    incidents = [
        _incident("in-spot", FRIDAY_20 + timedelta(hours=1)),
        _incident("in-ryd", FRIDAY_20 + timedelta(hours=9), north_m=-4000, area="Ryd"),
    ]
    rows = {r.place: r for r in week_presence([by_name, by_area], incidents, [spot], WEEK)}
    assert (rows[spot.name].hotspot, rows[spot.name].incidents) == (spot.name, 1)
    assert (rows["Runt Ryd"].incidents, rows["Runt Ryd"].incidents_during) == (1, 0)


def _decision(target: str) -> DecisionV1:
    return DecisionV1(
        decision_id="d1", kommun="0580", measure="Trygghetsväktare kvällstid", target=target,
        responsible=["Kommunen"], from_week="2026-W47", until_week="2026-W50",
        decided_at=datetime(2026, 11, 16, 9, tzinfo=UTC),
    )  # fmt: skip


def test_guard_hours_at_a_decisions_target_count_its_weeks_only() -> None:
    areas = ["Skäggetorp", "Ryd", "Innerstaden"]
    all_visits = [
        _visit("at-name", FRIDAY_20, 3, place="Skäggetorps centrum", area="Skäggetorp"),
        _visit("in-area", FRIDAY_20 + timedelta(days=1), 2, place="Gatan", area="Skäggetorp"),
        _visit("other-area", FRIDAY_20, 5, place="Ryds centrum", area="Ryd"),
        _visit("before", FRIDAY_20 - timedelta(weeks=2), 4, area="Skäggetorp"),
    ]
    by_area = _decision("Skäggetorp, norra delen")  # a hotspot in Skäggetorp: its area counts
    assert guard_hours(all_visits, by_area, areas, ["2026-W47", "2026-W48"]) == 5.0
    by_place = _decision("Skäggetorps centrum")  # not an area: only visits to that place
    assert guard_hours(all_visits, by_place, areas, ["2026-W47", "2026-W48"]) == 3.0
    assert guard_hours(all_visits, by_area, areas, []) == 0.0


def test_a_visit_placed_by_coordinates_gets_its_area_and_counts_for_the_areas_decision() -> None:
    def area_of(lat: float, lon: float) -> str:
        return "Skäggetorp" if lat > 58.42 else "Ryd"

    by_point = _visit("o1", FRIDAY_20, 2, place="Vid kiosken", area=None)
    named = _visit("o2", FRIDAY_20, 1, place="Ryds centrum", lat=58.40, lon=15.56, area="Berga")
    unplaced = _visit("o3", FRIDAY_20, 1, place="Runt om", lat=None, lon=None, area=None)
    placed = with_areas([by_point, named, unplaced], area_of)
    assert [v.area for v in placed] == ["Skäggetorp", "Berga", None]  # a named area is kept
    decision = _decision("Skäggetorp")
    assert guard_hours(placed, decision, ["Skäggetorp", "Ryd", "Berga"], ["2026-W48"]) == 2.0
    assert guard_hours([by_point], decision, ["Skäggetorp"], ["2026-W48"]) == 0.0  # before
