"""The public lägesbild's summary: aggregated counts only, small counts suppressed.

Generated from the same snapshot as the restricted one. It holds no free text, no
points, no organisation names and no count below 3 (see `suppress`).
"""

from __future__ import annotations

from typing import Any

from services.maps.render import week_summary
from services.maps.suppress import MIN_PUBLIC_COUNT, SUPPRESSED, shown_change, shown_count
from shared.contracts import WeekSnapshotV1


def _public_counts(count: int, previous: int) -> dict[str, Any]:
    return {
        "count": shown_count(count),
        "previous": shown_count(previous),
        "change": shown_change(count, previous),
    }


def public_summary(snapshot: WeekSnapshotV1) -> dict[str, Any]:
    full = week_summary(snapshot)
    areas = []
    for a in full["areas"]:
        categories = {
            code: _public_counts(c["count"], c["previous"])
            for code, c in a["categories"].items()
            if c["count"] >= MIN_PUBLIC_COUNT or c["previous"] >= MIN_PUBLIC_COUNT
        }
        totals = _public_counts(a["total"], a["previous"])
        areas.append(
            {
                "area": a["area"],
                "total": totals["count"],
                "previous": totals["previous"],
                "change": totals["change"],
                "categories": categories,
            }
        )
    category_rows = [
        {
            "category": c["category"],
            "label": c["label"],
            **_public_counts(c["count"], c["previous"]),
        }
        for c in full["categories"]
    ]
    totals = _public_counts(full["total"], full["previous_total"])
    return {
        "kommun": snapshot.kommun,
        "kommun_name": snapshot.kommun_name,
        "iso_week": snapshot.iso_week,
        "previous_week": snapshot.previous_week,
        "revision": snapshot.revision,
        "built_at": full["built_at"],
        "suppression": f"antal under {MIN_PUBLIC_COUNT} visas som {SUPPRESSED!r}",
        "total": totals["count"],
        "previous_total": totals["previous"],
        "change": totals["change"],
        "areas": areas,
        "categories": category_rows,
        "hotspots": [
            {"name": h.name, "areas": h.areas, "count": shown_count(h.count), "trend": h.trend}
            for h in snapshot.hotspots
        ],
        "alerts": [{"area": s.area, "category": s.category} for s in snapshot.stats if s.alert],
    }
