"""Patrol order events for tests: one order from issue to check-out, as the TiB and the
guards would send them."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.contracts import PatrolOrderEventV1, PatrolOrderV1


def visit_events(
    order_id: str,
    checked_in: datetime,
    hours: float,
    *,
    place: str = "Skäggetorps centrum",
    lat: float | None = 58.4275,
    lon: float | None = 15.5890,
    area: str | None = None,
    kommun: str = "0580",
    incident_report: bool = False,
) -> list[PatrolOrderEventV1]:
    """issued → checked_in → (outcome) → checked_out, `hours` apart."""
    checked_out = checked_in + timedelta(hours=hours)
    order = PatrolOrderV1(
        order_id=order_id, kommun=kommun, place=place, lat=lat, lon=lon, area=area,
        start=checked_in, end=checked_out, task="Synlig patrullering",
    )  # fmt: skip

    def event(kind: str, at: datetime, **kw: object) -> PatrolOrderEventV1:
        by = "TiB" if kind == "issued" else "Vaktbolaget"
        return PatrolOrderEventV1(
            order_id=order_id,
            kommun=kommun,
            kind=kind,
            at=at,
            by=by,
            **kw,
        )

    events = [
        event("issued", checked_in - timedelta(hours=1), order=order),
        event("checked_in", checked_in),
    ]
    if incident_report:
        events.append(
            event(
                "outcome",
                checked_in + timedelta(minutes=5),
                note="Krossad ruta, Sven 070-1234567",
                incident_report_id=f"Vaktbolaget/{order_id}-1",
            )
        )
    return [*events, event("checked_out", checked_out)]
