"""From the lägesbild, history and decisions to places, rates and one-line reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.tib.patrol_plan import history_weeks
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import DecisionV1, HotspotV1, TimeProfileV1, WeekSnapshotV1
from shared.patrols.allocation import Constraints
from shared.patrols.planning import Seen, candidates, level_rates, recommend
from shared.weeks import STOCKHOLM

FRIDAY_21 = datetime(2026, 11, 27, 21, 0, tzinfo=STOCKHOLM)
SKAGGETORP = (58.4270, 15.5890)
RYD = (58.4090, 15.5630)


def hotspot(
    name: str, centre: tuple[float, float], area: str, count: int, **cats: int
) -> HotspotV1:
    lat, lon = centre
    ring = [[lon - 0.002, lat - 0.001], [lon + 0.002, lat - 0.001], [lon + 0.002, lat + 0.001],
            [lon - 0.002, lat - 0.001]]  # fmt: skip
    return HotspotV1(name=name, areas=[area], polygon=[ring], centroid=centre, count=count,
                     previous=0, baseline_mean=None, categories=cats or {"klotter": count},
                     cells=2, score=3.0, trend="ny")  # fmt: skip


def profile(area: str | None, cells: dict[tuple[int, int], int]) -> TimeProfileV1:
    counts = [[cells.get((d, h), 0) for h in range(24)] for d in range(7)]
    return TimeProfileV1(area=area, category=None, total=sum(map(sum, counts)), counts=counts,
                         peak="fre 21–01")  # fmt: skip


def snapshot(hotspots: list[HotspotV1], profiles: list[TimeProfileV1]) -> WeekSnapshotV1:
    return WeekSnapshotV1(
        kommun="0580", kommun_name="Linköping", iso_week="2026-W47", previous_week="2026-W46",
        revision=1, content_hash="x", built_at=datetime(2026, 11, 23, 5, tzinfo=UTC),
        categories=dict(DEFAULT_CATEGORIES), areas=["Skäggetorp", "Ryd"], cells=[], incidents=[],
        hotspots=hotspots, time_profiles=profiles,
    )  # fmt: skip


def decision(target: str, status: Any = "open") -> DecisionV1:
    return DecisionV1(decision_id=f"d-{target}", kommun="0580", measure="Väktare kvällstid",
                      target=target, responsible=["Kommunen"], from_week="2026-W47",
                      until_week="2026-W52", status=status,
                      decided_at=datetime(2026, 11, 24, tzinfo=UTC))  # fmt: skip


def friday_nights(
    weeks: int, per_night: int, category: str, centre: tuple[float, float]
) -> list[Seen]:
    out = []
    for w in range(1, weeks + 1):
        for k in range(per_night):
            at = FRIDAY_21 - timedelta(weeks=w) + timedelta(minutes=20 * k)
            out.append(Seen(at.astimezone(UTC), category, centre[0], centre[1], "Skäggetorp"))
    return out


SNAP = snapshot(
    [hotspot("Skäggetorps centrum", SKAGGETORP, "Skäggetorp", 6, ordningsstorning=4, klotter=2),
     hotspot("Ryd centrum", RYD, "Ryd", 6, klotter=6)],
    [profile("Skäggetorp", {(4, 21): 3, (4, 22): 3}), profile("Ryd", {(1, 10): 6})],
)  # fmt: skip


def test_forecast_rates_spread_the_level_over_the_profile() -> None:
    rates = level_rates(
        6, [[3 if (d, h) in {(4, 21), (4, 22)} else 0 for h in range(24)] for d in range(7)]
    )
    assert rates[4][21] == rates[4][22] == 3.0 and sum(map(sum, rates)) == pytest.approx(6)
    assert sum(map(sum, level_rates(7, [[0] * 24 for _ in range(7)]))) == pytest.approx(7)


def test_the_reason_names_the_place_time_and_what_happened_on_the_last_fridays() -> None:
    # 9 ordningsstörningar at 21:30, 23:30 and 00:30 on three of the last four Friday nights
    history = [
        Seen((FRIDAY_21 - timedelta(weeks=w) + timedelta(minutes=m)).astimezone(UTC),
             "ordningsstorning", *SKAGGETORP, "Skäggetorp")
        for w in (1, 2, 4)
        for m in (30, 150, 210)
    ]  # fmt: skip
    history += friday_nights(4, 3, "klotter", RYD)  # near Ryd, not Skäggetorp
    cands = candidates(SNAP, history, 4, [])
    visits = recommend(
        cands, FRIDAY_21, 4, 1, Constraints(60, 25, 1.0), 4, DEFAULT_CATEGORIES, "2026-W47"
    )
    assert [v.reason for v in visits] == [
        "Skäggetorps centrum fre 21–01: 9 ordningsstörningar senaste 4 fredagarna"
    ]


def test_without_history_the_reason_uses_the_lagesbild() -> None:
    visits = recommend(candidates(SNAP, [], 0, []), FRIDAY_21, 2, 1, Constraints(60, 25, 1.0), 0,
                       DEFAULT_CATEGORIES, "2026-W47")  # fmt: skip
    assert [v.reason for v in visits] == [
        # the level is modelled: named "väntat ca", with the lägesbild's count beside it
        "Skäggetorps centrum fre 21–23: väntat ca 6 händelser i veckan (6 i lägesbilden "
        "vecka 47), mest ordningsstörning"
    ]


def test_an_open_decision_weighs_its_place_and_is_named_in_the_reason() -> None:
    tuesday = datetime(2026, 11, 24, 21, tzinfo=STOCKHOLM)  # nothing expected anywhere but flat
    snap = snapshot(SNAP.hotspots, [])  # no profiles: both places flat and equal
    plain = recommend(
        candidates(snap, [], 0, []), tuesday, 1, 1, Constraints(), 0, DEFAULT_CATEGORIES, "W"
    )
    assert plain[0].place == "Skäggetorps centrum"
    cands = candidates(snap, [], 0, [decision("Ryd"), decision("Skäggetorp", "closed")])
    weighted = recommend(cands, tuesday, 1, 1, Constraints(), 0, DEFAULT_CATEGORIES, "W")
    assert weighted[0].place == "Ryd centrum"
    assert weighted[0].reason.endswith("; mötets beslut: Väktare kvällstid")


def test_an_area_with_an_open_decision_but_no_hotspot_becomes_a_place() -> None:
    cands = candidates(SNAP, [], 0, [decision("Lambohov")], {"Lambohov": (58.38, 15.57)})
    assert [c.place.name for c in cands][-1] == "Lambohov" and cands[-1].place.weight == 1.5


def test_history_weeks_count_whole_weeks_up_to_four() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert history_weeks(None, now) == 0
    assert history_weeks(now - timedelta(days=6), now) == 0
    assert history_weeks(now - timedelta(days=15), now) == 2
    assert history_weeks(now - timedelta(days=60), now) == 4
