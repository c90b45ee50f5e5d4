"""The meeting pack (mötesunderlag): one printable page per week for the EST meeting.

`meeting_context` turns a snapshot into plain rows for the template; `public=True`
gives the public version of the same snapshot: counts below 3 as '<3', no free text,
no organisation names, no decisions or plan details, no time patterns. Its numbers are
`disclosure.public_counts`: the same withheld counts as the public map and JSON. Pure
functions.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.maps.disclosure import PublicCounts, public_counts
from services.maps.layers import hotspot_decisions, hotspot_has_gap, hotspot_links, label_of
from shared.contracts import PLACE_REACH_M, CellStatsV1, TimeProfileV1, WeekSnapshotV1
from shared.weeks import parse_week

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
)

WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
TOP_RISES = 3
TOP_HOTSPOTS = 3
MAX_TIME_STRIPS = 9  # the whole kommun and the eight busiest areas: one printed page
CELL_W, CELL_H, LABEL_W, HEAD_H = 14, 12, 30, 14


def _decimal(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else f"−{-n}" if n < 0 else "±0"


def _cell_name(snapshot: WeekSnapshotV1, s: CellStatsV1) -> str:
    return f"{label_of(snapshot, s.category)} i {s.area}"


# --- "vad har hänt" -----------------------------------------------------------------


def summary_sentences(snapshot: WeekSnapshotV1, *, public: bool = False) -> list[str]:
    """A few Swedish sentences: the week against last week and the 8-week mean, the
    biggest rises, unusual rises and the top hotspots."""
    _, week = parse_week(snapshot.iso_week)
    _, prev_week = parse_week(snapshot.previous_week)
    total = sum(c.count for c in snapshot.cells)
    previous = sum(c.previous for c in snapshot.cells)
    shown = public_counts(snapshot) if public else None
    count: int | str = shown.total.count if shown else total
    prev: int | str = shown.total.previous if shown else previous
    change = shown.total.change if shown else total - previous
    if change is None:
        compared = f"mot {prev} vecka {prev_week}"
    elif change == 0:
        compared = f"lika många som vecka {prev_week}"
    else:
        more = "fler" if change > 0 else "färre"
        compared = f"{abs(change)} {more} än vecka {prev_week} ({prev})"
    sentences = [f"Vecka {week} kom {count} rapporter, {compared}."]
    sentences += _mean_sentence(snapshot, total, shown)
    sentences += _rise_sentences(snapshot, shown)
    sentences += _hotspot_sentence(snapshot, shown)
    if not public:
        sentences += _presence_sentence(snapshot)
    return sentences


def _mean_sentence(snapshot: WeekSnapshotV1, total: int, shown: PublicCounts | None) -> list[str]:
    means = [s.mean_8 for s in snapshot.stats if s.mean_8 is not None]
    if not means:
        return []
    mean = sum(means)  # the mean of a sum is the sum of the cells' means
    # public: the percentage would give the total away unless it is shown
    if shown and (not isinstance(shown.total.count, int) or mean < 3):
        return []
    if mean <= 0:
        return [f"Snittet för de senaste 8 veckorna är {_decimal(mean)} rapporter."]
    pct = round(100 * (total - mean) / mean)
    where = "över" if pct > 0 else "under" if pct < 0 else "i nivå med"
    amount = f"{abs(pct)} % " if pct else ""
    return [f"Det är {amount}{where} snittet för de senaste 8 veckorna ({_decimal(mean)})."]


def _rise_sentences(snapshot: WeekSnapshotV1, shown: PublicCounts | None) -> list[str]:
    public = shown is not None
    rising = [
        s
        for s in snapshot.stats
        if s.change_vs_previous is not None
        and s.change_vs_previous > 0
        and (
            not shown or shown.cell(s.area, s.category, s.count, s.previous or 0).change is not None
        )
    ]
    rising.sort(key=lambda s: (-(s.change_vs_previous or 0), s.area, s.category))
    out = []
    if rising:
        parts = [
            f"{_cell_name(snapshot, s)} ({_signed(s.change_vs_previous or 0)})"
            for s in rising[:TOP_RISES]
        ]
        out.append("Störst ökning: " + ", ".join(parts) + ".")
    elif snapshot.stats and not public:
        out.append("Ingen kategori ökade mot förra veckan.")
    alerts = [s for s in snapshot.stats if s.alert]
    if alerts:
        names = ", ".join(_cell_name(snapshot, s) for s in alerts)
        out.append(f"Ovanligt hög nivå ({len(alerts)}): {names}.")
    return out


def _hotspot_sentence(snapshot: WeekSnapshotV1, shown: PublicCounts | None) -> list[str]:
    ranked = sorted(enumerate(snapshot.hotspots), key=lambda ih: (-ih[1].score, ih[1].name))
    top = ranked[:TOP_HOTSPOTS]
    if not top:
        return []
    parts = [
        f"{h.name} ({shown.hotspots[i].count if shown else h.count} rapporter, {h.trend})"
        for i, h in top
    ]
    return ["Största hotspots: " + ", ".join(parts) + "."]


# --- tables --------------------------------------------------------------------------


def cell_rows(snapshot: WeekSnapshotV1, *, public: bool = False) -> list[dict[str, Any]]:
    """Area × category rows from the stats, in area and catalogue order."""
    area_rank = {a: i for i, a in enumerate(snapshot.areas)}
    cat_rank = {c: i for i, c in enumerate(snapshot.categories)}
    stats = sorted(
        snapshot.stats,
        key=lambda s: (area_rank.get(s.area, 1e9), s.area, cat_rank.get(s.category, 1e9)),
    )
    shown = public_counts(snapshot) if public else None
    rows = []
    for s in stats:
        previous = s.previous or 0
        if not (s.count or previous or s.alert):
            continue
        cell = shown.cell(s.area, s.category, s.count, previous) if shown else None
        if cell and not cell.listed and not s.alert:
            continue  # a row of two '<3' would still say "not zero"
        label = label_of(snapshot, s.category)
        row: dict[str, Any] = {"area": s.area, "category": label, "alert": s.alert}
        if cell:
            row |= {
                "count": cell.count,
                "previous": cell.previous,
                "change": _opt_signed(cell.change),
            }
        else:
            rise = f"{s.area} / {label}"
            row |= {
                "count": s.count,
                "previous": "–" if s.previous is None else s.previous,
                "change": _opt_signed(s.change_vs_previous),
                "mean_8": "–" if s.mean_8 is None else _decimal(s.mean_8),
                "mean_52": "–" if s.mean_52 is None else _decimal(s.mean_52),
                "text": s.text,
                "activities": [
                    link.activity
                    for link in snapshot.plan_links
                    if link.target == "rise" and link.target_name == rise
                ],
                "gap": any(
                    g.target == "rise" and g.target_name == rise for g in snapshot.plan_gaps
                ),
                # (activity id, activity) for the "Registrera beslut" links
                "activity_links": [
                    (link.activity_id, link.activity)
                    for link in snapshot.plan_links
                    if link.target == "rise" and link.target_name == rise
                ],
            }
        rows.append(row)
    return rows


def _opt_signed(n: int | None) -> str:
    return "–" if n is None else _signed(n)


def hotspot_rows(snapshot: WeekSnapshotV1, *, public: bool = False) -> list[dict[str, Any]]:
    shown = public_counts(snapshot) if public else None
    rows = []
    for i, h in sorted(enumerate(snapshot.hotspots), key=lambda ih: (-ih[1].score, ih[1].name)):
        cats = sorted(h.categories.items(), key=lambda kv: (-kv[1], kv[0]))
        spot = shown.hotspots[i] if shown else None
        row: dict[str, Any] = {
            "name": h.name,
            "areas": ", ".join(h.areas),
            "count": spot.count if spot else h.count,
            "previous": spot.previous if spot else h.previous,
            "trend": h.trend,
            "categories": [
                (label_of(snapshot, c), spot.categories[c] if spot else n)
                for c, n in cats
                if not spot or c in spot.categories
            ],
        }
        if not public:
            row |= {
                "links": hotspot_links(snapshot, h),
                "gap": hotspot_has_gap(snapshot, h),
                "decisions": [d.measure for d in hotspot_decisions(snapshot, h)],
            }
        rows.append(row)
    return rows


def decision_rows(snapshot: WeekSnapshotV1) -> list[dict[str, Any]]:
    followups = {f.decision_id: f for f in snapshot.followups}
    rows = []
    for d in sorted(snapshot.open_decisions, key=lambda d: (d.from_week, d.decision_id)):
        followup = followups.get(d.decision_id)
        rows.append(
            {
                "measure": d.measure,
                "target": d.target,
                "categories": ", ".join(label_of(snapshot, c) for c in d.categories),
                "responsible": ", ".join(d.responsible),
                "weeks": f"{d.from_week} – {d.until_week}",
                "status": "öppet" if d.status == "open" else "avslutat",
                "note": d.note,
                "followup": followup.statement if followup else "Ingen uppföljning än.",
                "guard_hours": _hours(followup.guard_hours) if followup else "–",
            }
        )
    return rows


def _hours(hours: float) -> str:
    return f"{_decimal(hours)} h"


def presence_rows(snapshot: WeekSnapshotV1) -> list[dict[str, Any]]:
    """Where the guards were (restricted only: the public must not learn the patrol pattern)."""
    return [
        {
            "place": p.place,
            "where": p.hotspot or p.area or "–",
            "hours": _hours(p.hours),
            "visits": p.visits,
            "incidents": p.incidents,
            "incidents_during": p.incidents_during,
            "incident_reports": p.incident_reports,
        }
        for p in snapshot.patrol_presence
    ]


def _presence_sentence(snapshot: WeekSnapshotV1) -> list[str]:
    rows = snapshot.patrol_presence
    if not rows:
        return []
    hours = sum(p.hours for p in rows)
    places = "1 plats" if len(rows) == 1 else f"{len(rows)} platser"
    there, during = sum(p.incidents for p in rows), sum(p.incidents_during for p in rows)
    return [
        f"Väktarna var på plats {_decimal(hours)} timmar på {places}; där kom {there} "
        f"händelser, {during} av dem medan en väktare var där."
    ]


def coverage_rows(snapshot: WeekSnapshotV1, *, public: bool = False) -> list[dict[str, Any]]:
    rows = []
    for c in snapshot.coverage:
        row: dict[str, Any] = {"area": c.area, "status": c.status}
        if not public:
            row["reporters"] = [f"{org} ({n})" for org, n in sorted(c.reports.items())]
            row["nollrapporter"] = sorted(c.nollrapporter)
        rows.append(row)
    return rows


# --- time patterns ---------------------------------------------------------------------


def time_strips(snapshot: WeekSnapshotV1) -> list[dict[str, Any]]:
    """7 × 24 heat strips (as SVG cell lists) for the kommun and the busiest areas."""
    profiles = [p for p in snapshot.time_profiles if p.category is None and p.total > 0]
    profiles.sort(key=lambda p: (p.area is not None, -p.total, p.area or ""))
    return [_strip(p) for p in profiles[:MAX_TIME_STRIPS]]


def _strip(profile: TimeProfileV1) -> dict[str, Any]:
    top = max((n for row in profile.counts for n in row), default=0) or 1
    cells = []
    for day, row in enumerate(profile.counts):
        for hour, n in enumerate(row):
            cells.append(
                {
                    "x": LABEL_W + hour * CELL_W,
                    "y": HEAD_H + day * CELL_H,
                    "fill": _heat(n / top) if n else "#f4f4f4",
                    "title": f"{WEEKDAYS_SV[day]} {hour:02d}–{(hour + 1) % 24:02d}: {n}",
                }
            )
    return {
        "title": profile.area or "Hela kommunen",
        "total": profile.total,
        "peak": profile.peak,
        "cells": cells,
        "days": [(WEEKDAYS_SV[d], HEAD_H + d * CELL_H + CELL_H - 2) for d in range(7)],
        "hours": [(h, LABEL_W + h * CELL_W) for h in range(0, 24, 6)],
        "width": LABEL_W + 24 * CELL_W,
        "height": HEAD_H + 7 * CELL_H,
        "cw": CELL_W - 1,
        "ch": CELL_H - 1,
    }


def _heat(share: float) -> str:
    """Light yellow to dark red; readable on a projector and in greyscale print."""
    low, high = (255, 237, 160), (189, 0, 38)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# --- the page ----------------------------------------------------------------------------


def meeting_context(snapshot: WeekSnapshotV1, *, public: bool = False) -> dict[str, Any]:
    _, week = parse_week(snapshot.iso_week)
    areas_with_alerts: dict[str, int] = defaultdict(int)
    for s in snapshot.stats:
        areas_with_alerts[s.area] += s.alert
    return {
        "public": public,
        "kommun_name": snapshot.kommun_name,
        "kommun": snapshot.kommun,
        "iso_week": snapshot.iso_week,
        "week": week,
        "revision": snapshot.revision,
        "sentences": summary_sentences(snapshot, public=public),
        "cells": cell_rows(snapshot, public=public),
        "hotspots": hotspot_rows(snapshot, public=public),
        "decisions": [] if public else decision_rows(snapshot),
        "presence": [] if public else presence_rows(snapshot),
        "presence_reach_m": round(PLACE_REACH_M),
        "strips": [] if public else time_strips(snapshot),
        "coverage": coverage_rows(snapshot, public=public),
        "alerts": sum(areas_with_alerts.values()),
    }


def render_meeting_pack(snapshot: WeekSnapshotV1, *, public: bool = False) -> str:
    context = meeting_context(snapshot, public=public)
    return _templates.get_template("motesunderlag.html.j2").render(**context)
