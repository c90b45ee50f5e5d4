"""A patrol order's state from its events, and the guards' presence per place and week."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts import PatrolOrderEventV1, PatrolOrderV1
from shared.patrol_orders import OrderConflict, apply, fold, presence

T0 = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Friday, week 2026-W48


def order(
    order_id: str = "o-1", place: str = "Skäggetorps centrum", **changes: object
) -> PatrolOrderV1:
    base = dict(order_id=order_id, kommun="0580", place=place, lat=58.427, lon=15.589,
                start=T0, end=T0 + timedelta(hours=4), task="Synlig patrullering")  # fmt: skip
    return PatrolOrderV1(**(base | changes))


def event(
    kind: Any, minutes: int = 0, by: str = "Vaktbolaget", order_id: str = "o-1", **kw: Any
) -> PatrolOrderEventV1:
    return PatrolOrderEventV1(
        order_id=order_id,
        kommun="0580",
        kind=kind,
        by=by,
        at=T0 + timedelta(minutes=minutes),
        **kw,
    )


def issued(o: PatrolOrderV1 | None = None) -> PatrolOrderEventV1:
    o = o or order()
    return event("issued", by="TiB Linköping", order_id=o.order_id, order=o)


def test_the_whole_life_of_an_order() -> None:
    state = fold([
        issued(),
        event("acknowledged", 1),
        event("checked_in", 10),
        event("outcome", 60, note="Lugnt, pratade med ungdomar", incident_report_id=None),
        event("outcome", 90, note="Krossad ruta", incident_report_id="Vaktbolaget/tib-o-1-1"),
        event("checked_out", 130),
    ])["o-1"]  # fmt: skip
    assert state.status == "checked_out"
    assert state.holder == "Vaktbolaget"
    assert state.checked_in_at == T0 + timedelta(minutes=10)
    assert state.outcomes == ("Lugnt, pratade med ungdomar", "Krossad ruta")
    assert state.incident_reports == ("Vaktbolaget/tib-o-1-1",)
    assert state.as_dict()["status_sv"] == "avslutad"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "finns inte"),
        (["checked_out"], "checka ut"),
        (["acknowledged", "acknowledged"], "kvittera"),
        (["checked_in", "checked_out", "checked_in"], "checka in"),
        (["cancelled", "acknowledged"], "inställd"),
        (["checked_in", "checked_out", "updated"], "ändra"),
    ],
)
def test_events_that_do_not_fit_the_state_are_refused(events: list[str], message: str) -> None:
    state = None if not events and message == "finns inte" else apply(None, issued())
    for kind in events[:-1]:
        state = apply(state, event(kind))
    last = events[-1] if events else "acknowledged"
    with pytest.raises(OrderConflict, match=message):
        apply(state, event(last, order=order() if last == "updated" else None))


def test_an_order_cannot_be_issued_twice() -> None:
    with pytest.raises(OrderConflict, match="finns redan"):
        apply(apply(None, issued()), issued())


def test_only_the_holder_acts_on_an_order_once_it_is_taken() -> None:
    state = apply(apply(None, issued()), event("acknowledged", by="Vaktbolaget"))
    with pytest.raises(OrderConflict, match="tilldelat Vaktbolaget"):
        apply(state, event("checked_in", by="Annat bolag"))
    assigned = apply(None, issued(order(assigned_to="Securitas")))
    with pytest.raises(OrderConflict, match="tilldelat Securitas"):
        apply(assigned, event("acknowledged", by="Vaktbolaget"))


def test_an_update_must_be_acknowledged_again() -> None:
    state = apply(apply(None, issued()), event("acknowledged"))
    changed = apply(
        state, event("updated", by="TiB Linköping", order=order(task="Kontrollera belysning"))
    )
    assert changed.status == "issued" and changed.order.task == "Kontrollera belysning"


def test_fold_skips_events_that_do_not_fit() -> None:
    states = fold([event("checked_in"), issued(), event("checked_out"), event("acknowledged")])
    assert states["o-1"].status == "acknowledged"


def test_presence_adds_checked_in_hours_per_place_clipped_to_the_week() -> None:
    sunday_late = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # W48 ends at 23:00 UTC
    other = order(
        "o-2", place="Ryd centrum", start=sunday_late, end=sunday_late + timedelta(hours=3)
    )
    states = fold([
        issued(), event("checked_in", 0), event("outcome", 30, incident_report_id="V/1"),
        event("checked_out", 150),
        issued(other),
        issued(order("o-3")),  # never checked in: no presence
    ])  # fmt: skip
    # Ryd: in Sunday 21:00 UTC, out Monday 00:00 UTC: two hours in W48, one in W49
    states["o-2"] = replace(states["o-2"], checked_in_at=sunday_late,
                            checked_out_at=sunday_late + timedelta(hours=3))  # fmt: skip
    rows = presence(states.values(), "2026-W48")
    assert [(r["place"], r["hours"], r["visits"], r["incident_reports"]) for r in rows] == [
        ("Skäggetorps centrum", 2.5, 1, 1),
        ("Ryd centrum", 2.0, 1, 0),
    ]
    assert [(r["place"], r["hours"]) for r in presence(states.values(), "2026-W49")] == [
        ("Ryd centrum", 1.0)
    ]
