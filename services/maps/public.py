"""The public lägesbild's summary: aggregated counts only, small counts suppressed.

Generated from the same snapshot as the restricted one. It holds no free text, no
points, no organisation names and no count below 3; counts that would let a small one
be worked out from a shown total are withheld as "≥3" (`disclosure.public_counts`, the
same numbers as the public map and meeting pack).
"""

from __future__ import annotations

from typing import Any

from services.maps.disclosure import PublicCount, public_counts
from services.maps.render import week_summary
from services.maps.suppress import HIDDEN, MIN_PUBLIC_COUNT, SUPPRESSED
from shared.contracts import WeekSnapshotV1

SUPPRESSION_NOTE = (
    f"antal under {MIN_PUBLIC_COUNT} visas som {SUPPRESSED!r}; antal som annars skulle "
    f"låta ett litet antal räknas fram ur summorna visas som {HIDDEN!r}"
)


def _totals(counts: PublicCount) -> dict[str, Any]:
    return {"total": counts.count, "previous": counts.previous, "change": counts.change}


def public_summary(snapshot: WeekSnapshotV1) -> dict[str, Any]:
    full = week_summary(snapshot)
    shown = public_counts(snapshot)
    areas = []
    for a in full["areas"]:
        cells = {code: shown.cells[(a["area"], code)] for code in a["categories"]}
        areas.append(
            {
                "area": a["area"],
                **_totals(shown.areas[a["area"]]),
                "categories": {code: c.as_dict() for code, c in cells.items() if c.listed},
            }
        )
    category_rows = [
        {
            "category": c["category"],
            "label": c["label"],
            **shown.categories[c["category"]].as_dict(),
        }
        for c in full["categories"]
    ]
    return {
        "kommun": snapshot.kommun,
        "kommun_name": snapshot.kommun_name,
        "iso_week": snapshot.iso_week,
        "previous_week": snapshot.previous_week,
        "revision": snapshot.revision,
        "built_at": full["built_at"],
        "suppression": SUPPRESSION_NOTE,
        "total": shown.total.count,
        "previous_total": shown.total.previous,
        "change": shown.total.change,
        "areas": areas,
        "categories": category_rows,
        "hotspots": [
            {"name": h.name, "areas": h.areas, "count": p.count, "trend": h.trend}
            for h, p in zip(snapshot.hotspots, shown.hotspots, strict=True)
        ],
        "alerts": [{"area": s.area, "category": s.category} for s in snapshot.stats if s.alert],
    }
