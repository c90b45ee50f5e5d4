"""A patrol order's life, derived from its events (pure), and the guards' presence.

    issued ─► acknowledged ─► checked_in ─► checked_out
      │  ▲          │              │  (outcome: any number, once checked in)
      ▼  └ updated ◄┘              ▼
    cancelled ◄────────────────────┘

An update sends an acknowledged order back to `issued`: the guards must acknowledge what
changed. The first guard organisation to act on an order without `assigned_to` holds it;
only the holder may act on it afterwards.

`scrubbed` takes personal data (`shared.scrub`) out of an event's free text (the order's
place, task and reason, the note of every step, the outcome) before the TiB stores and
publishes it, so the guards' stream, the presence and the meeting pack never carry it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel

from shared.contracts import PatrolOrderEventV1, PatrolOrderV1
from shared.scrub import scrub_within
from shared.weeks import week_bounds

STATUS_LABELS = {
    "issued": "utfärdad",
    "acknowledged": "kvitterad",
    "checked_in": "på plats",
    "checked_out": "avslutad",
    "cancelled": "inställd",
}
# which statuses each event may follow, and the status it leads to (None: unchanged)
_RULES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "updated": (("issued", "acknowledged"), "issued"),
    "cancelled": (("issued", "acknowledged", "checked_in"), "cancelled"),
    "acknowledged": (("issued",), "acknowledged"),
    "checked_in": (("issued", "acknowledged"), "checked_in"),
    "checked_out": (("checked_in",), "checked_out"),
    "outcome": (("checked_in", "checked_out"), None),
}


def _max_length(model: type[BaseModel], name: str) -> int:
    """A string field's max_length in the contract (the scrubbed text must still fit)."""
    return next(m.max_length for m in model.model_fields[name].metadata if isinstance(m, MaxLen))


def scrubbed(event: PatrolOrderEventV1) -> PatrolOrderEventV1:
    """The event with personal data out of its free text, each field within its limit."""
    order = event.order
    if order is not None:
        order = order.model_copy(
            update={
                field: scrub_within(getattr(order, field), _max_length(PatrolOrderV1, field))
                for field in ("place", "task", "reason")
            }
        )
    return event.model_copy(
        update={
            "order": order,
            "note": scrub_within(event.note, _max_length(PatrolOrderEventV1, "note")),
        }
    )


class OrderConflict(ValueError):
    """An event that does not fit the order's state; the message is Swedish."""


@dataclass(frozen=True)
class OrderState:
    order: PatrolOrderV1
    status: str
    holder: str | None = None  # the guard organisation that acts on it
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    outcomes: tuple[str, ...] = ()
    incident_reports: tuple[str, ...] = ()
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "order": self.order.model_dump(mode="json"),
            "status": self.status,
            "status_sv": STATUS_LABELS[self.status],
            "holder": self.holder,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
            "checked_out_at": self.checked_out_at.isoformat() if self.checked_out_at else None,
            "outcomes": list(self.outcomes),
            "incident_reports": list(self.incident_reports),
        }


def apply(state: OrderState | None, event: PatrolOrderEventV1) -> OrderState:
    """The state after `event`, or OrderConflict when the event does not fit."""
    if event.kind == "issued":
        if state is not None:
            raise OrderConflict(f"Uppdraget {event.order_id} finns redan.")
        if event.order is None:
            raise OrderConflict("Ett nytt uppdrag behöver plats, tid och uppgift.")
        return OrderState(event.order, "issued", event.order.assigned_to, updated_at=event.at)
    if state is None:
        raise OrderConflict(f"Uppdraget {event.order_id} finns inte.")
    allowed_from, to = _RULES[event.kind]
    if state.status not in allowed_from:
        raise OrderConflict(
            f"Uppdraget är {STATUS_LABELS[state.status]}; det går inte att {_VERBS[event.kind]} nu."
        )
    if event.kind in ("updated", "cancelled"):
        order = event.order or state.order
        holder = state.holder
        if order.assigned_to != state.order.assigned_to:  # reassigned: the new company's
            holder = order.assigned_to
        return replace(
            state, order=order, holder=holder, status=to or state.status, updated_at=event.at
        )
    if state.holder not in (None, event.by):
        raise OrderConflict(f"Uppdraget är tilldelat {state.holder}.")
    state = replace(state, holder=event.by, status=to or state.status, updated_at=event.at)
    if event.kind == "checked_in":
        return replace(state, checked_in_at=event.at)
    if event.kind == "checked_out":
        return replace(state, checked_out_at=event.at)
    if event.kind == "outcome":
        reports = state.incident_reports + (
            (event.incident_report_id,) if event.incident_report_id else ()
        )
        return replace(state, outcomes=(*state.outcomes, event.note), incident_reports=reports)
    return state


_VERBS = {
    "updated": "ändra det",
    "cancelled": "ställa in det",
    "acknowledged": "kvittera det",
    "checked_in": "checka in",
    "checked_out": "checka ut",
    "outcome": "rapportera utfall",
}


def fold(events: Iterable[PatrolOrderEventV1]) -> dict[str, OrderState]:
    """Every order's state from its events in order; events that do not fit are skipped
    (the API refuses them, so only a hand-written stream entry could hold one)."""
    states: dict[str, OrderState] = {}
    for event in events:
        try:
            states[event.order_id] = apply(states.get(event.order_id), event)
        except OrderConflict:
            continue
    return states


@dataclass(frozen=True)
class Visit:
    """A guard's time at a place: one order from check-in to check-out."""

    order_id: str
    place: str
    area: str | None
    lat: float | None
    lon: float | None
    start: datetime
    end: datetime
    outcomes: tuple[str, ...] = ()
    incident_reports: int = 0

    def hours_within(self, start: datetime, end: datetime) -> float:
        a, b = max(self.start, start), min(self.end, end)
        return max(0.0, (b - a).total_seconds() / 3600)


def visits(states: Iterable[OrderState]) -> list[Visit]:
    """The completed visits (checked in and out), in order of check-in. An order still
    checked in has no end yet, so it is not presence until the guard checks out."""
    done = [
        Visit(
            order_id=s.order.order_id,
            place=s.order.place,
            area=s.order.area,
            lat=s.order.lat,
            lon=s.order.lon,
            start=s.checked_in_at,
            end=s.checked_out_at,
            outcomes=tuple(o for o in s.outcomes if o),
            incident_reports=len(s.incident_reports),
        )
        for s in states
        if s.checked_in_at is not None and s.checked_out_at is not None
    ]
    return sorted(done, key=lambda v: (v.start, v.order_id))


def presence(states: Iterable[OrderState], iso_week: str) -> list[dict[str, Any]]:
    """Guard hours per place in the week (check-in to check-out, clipped to the week)."""
    start, end = week_bounds(iso_week)
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"hours": 0.0, "visits": 0, "outcomes": [], "incident_reports": 0}
    )
    for v in visits(states):
        hours = v.hours_within(start, end)
        if hours <= 0:
            continue
        row = rows[v.place]
        row.update(place=v.place, area=v.area, lat=v.lat, lon=v.lon)
        row["hours"] += hours
        row["visits"] += 1
        row["outcomes"] += list(v.outcomes)
        row["incident_reports"] += v.incident_reports
    out = [r | {"hours": round(r["hours"], 2)} for r in rows.values()]
    return sorted(out, key=lambda r: (-r["hours"], r["place"]))
