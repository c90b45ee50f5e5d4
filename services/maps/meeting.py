"""The meeting pack (mötesunderlag): one printable page per week for the EST meeting.

Rendered from the week's summary (`services/maps/summary.py`, what `sammanfattning.json`
holds), never from the snapshot's counts: the pack shows the same numbers as the JSON, the
map and the exports. `meeting_context` turns a summary into plain, formatted rows for the
template; given the public summary it gives the public version (counts below 3 as '<3',
withheld ones as '≥3', no free text, organisation names, decisions, plan details or time
patterns). For convenience every function also takes a snapshot and summarises it first.
Pure functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from shapely.geometry import shape

from services.maps.summary import public_summary, week_summary
from services.maps.svg_map import place_map
from shared.areas import KommunAreas
from shared.contracts import PLACE_REACH_M, WeekSnapshotV1
from shared.counting import HANDELSE, RAPPORT
from shared.formats import count_or_text, decimal_sv, signed_sv

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
)

WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
MAX_TIME_STRIPS = 9  # the whole kommun and the eight busiest areas: one printed page
CELL_W, CELL_H, LABEL_W, HEAD_H = 14, 12, 30, 14

Source = WeekSnapshotV1 | dict[str, Any]


def summary_of(source: Source, *, public: bool = False) -> dict[str, Any]:
    """The summary dict the pack is rendered from (a snapshot is summarised first)."""
    if isinstance(source, WeekSnapshotV1):
        return public_summary(source) if public else week_summary(source)
    return source


def _mean(x: float | None) -> str:
    return "–" if x is None else decimal_sv(x)


def _hours(hours: float | None) -> str:
    return "–" if hours is None else f"{decimal_sv(hours)} h"


# --- "vad har hänt" -------------------------------------------------------------------------


def summary_sentences(source: Source, *, public: bool = False) -> list[str]:
    return list(summary_of(source, public=public)["sentences"])


# --- tables ----------------------------------------------------------------------------------


def cell_rows(source: Source, *, public: bool = False) -> list[dict[str, Any]]:
    """Area × category rows, in area and catalogue order (the summary's `cells`)."""
    summary = summary_of(source, public=public)
    rows = []
    for c in summary["cells"]:
        row: dict[str, Any] = {
            "area": c["area"],
            "category": c["label"],
            "alert": c["alert"],
            "count": count_or_text(c["count"]),
            "previous": count_or_text(c["previous"]),
            "change": signed_sv(c["change"]),
        }
        if not summary["public"]:
            row |= {
                "mean_short": _mean(c["mean_short"]),
                "mean_long": _mean(c["mean_long"]),
                "text": c["text"],
                "activities": [a["activity"] for a in c["activities"]],
                "gap": c["gap"],
                # (activity id, activity) for the "Registrera beslut" links
                "activity_links": [(a["activity_id"], a["activity"]) for a in c["activities"]],
            }
        rows.append(row)
    return rows


def hotspot_rows(source: Source, *, public: bool = False) -> list[dict[str, Any]]:
    summary = summary_of(source, public=public)
    rows = []
    for h in summary["hotspots"]:
        row: dict[str, Any] = {
            "name": h["name"],
            "areas": ", ".join(h["areas"]),
            "count": count_or_text(h["count"]),
            "previous": count_or_text(h["previous"]),
            "trend": h["trend"],
            "categories": [(c["label"], count_or_text(c["count"])) for c in h["categories"]],
        }
        if not summary["public"]:
            row |= {
                "links": h["plan_links"],
                "gap": h["gap"],
                "decisions": list(h["open_decisions"]),
            }
        rows.append(row)
    return rows


def decision_rows(source: Source) -> list[dict[str, Any]]:
    return [
        {
            "measure": d["measure"],
            "target": d["target"],
            "categories": ", ".join(d["categories"]),
            "responsible": ", ".join(d["responsible"]),
            "weeks": f"{d['from_week']} – {d['until_week']}",
            "status": "öppet" if d["status"] == "open" else "avslutat",
            "owner": d.get("owner") or ", ".join(d["responsible"]),
            "progress": d.get("progress") or "planerad",
            "latest_report": d.get("latest_report"),
            "note": d["note"],
            "followup": d["followup"],
            "guard_hours": _hours(d["guard_hours"]),
        }
        for d in summary_of(source).get("decisions", [])
    ]


def presence_rows(source: Source) -> list[dict[str, Any]]:
    """Where the guards were (restricted only: the public must not learn the patrol pattern)."""
    return [
        {
            "place": p["place"],
            "where": p["hotspot"] or p["area"] or "–",
            "hours": _hours(p["hours"]),
            "visits": count_or_text(p["visits"]),
            "incidents": count_or_text(p["incidents"]),
            "incidents_during": count_or_text(p["incidents_during"]),
            "incident_reports": count_or_text(p["incident_reports"]),
        }
        for p in summary_of(source).get("presence", [])
    ]


def coverage_rows(source: Source, *, public: bool = False) -> list[dict[str, Any]]:
    summary = summary_of(source, public=public)
    rows = []
    for c in summary["coverage"]:
        row: dict[str, Any] = {"area": c["area"], "status": c["status"]}
        if not summary["public"]:
            row["reporters"] = [f"{org} ({count_or_text(n)})" for org, n in c["reporters"].items()]
            row["nollrapporter"] = list(c["nollrapporter"])
        rows.append(row)
    return rows


# --- time patterns -----------------------------------------------------------------------------


def time_strips(source: Source) -> list[dict[str, Any]]:
    """7 × 24 heat strips (as SVG cell lists) for the kommun and the busiest areas."""
    profiles = [p for p in summary_of(source).get("time_profiles", []) if p["total"] > 0]
    profiles.sort(key=lambda p: (p["area"] is not None, -p["total"], p["area"] or ""))
    return [_strip(p) for p in profiles[:MAX_TIME_STRIPS]]


def _strip(profile: dict[str, Any]) -> dict[str, Any]:
    top = max((n for row in profile["counts"] for n in row), default=0) or 1
    cells = []
    for day, row in enumerate(profile["counts"]):
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
        "title": profile["area"] or "Hela kommunen",
        "total": count_or_text(profile["total"]),
        "peak": profile["peak"],
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


# --- veckans fokus ------------------------------------------------------------------------------

TOP_CATEGORIES = 3  # categories named in a focus place's "Vad"


def _focus_svg(f: dict[str, Any], areas: KommunAreas | None) -> Markup:
    polygon = f["polygon"]
    place = shape({"type": "Polygon", "coordinates": polygon}) if polygon else None
    points = [(lat, lon) for lat, lon in f["points"]]
    what = "hotspotens yta" if polygon else f"området {f['areas'][0]}"
    n = len(points)
    description = (
        f"Karta över {f['name']}: {what} markerad, "
        f"{HANDELSE.of(n)} som punkter, områdena runt omkring och en skalstock i meter."
    )
    return place_map(
        svg_id=f"fokus-{f['rank']}-karta",
        title=f"Karta: {f['name']}",
        description=description,
        place=place,
        points=points,
        areas=areas,
        area_name=None if polygon else f["areas"][0],
    )


def _decide_link(target: str, activity_id: str | None = None) -> str:
    query = {"target": target} | ({"activity": activity_id} if activity_id else {})
    return "../beslut?" + urlencode(query)


def focus_rows(source: Source, areas: KommunAreas | None = None) -> list[dict[str, Any]]:
    """Veckans fokus, restricted: each place with its map picture and what the meeting needs."""
    rows = []
    for f in summary_of(source).get("focus", []):
        cats = f["categories"]
        shown = ", ".join(
            f"{c['label']} {count_or_text(c['count'])}" for c in cats[:TOP_CATEGORIES]
        )
        activity = f["activity"]
        rows.append(
            {
                **f,
                "svg": _focus_svg(f, areas),
                "what": shown + (" m.fl." if len(cats) > TOP_CATEGORIES else ""),
                "count_text": HANDELSE.of(f["count"]),
                "when_text": (
                    f"{f['when']} ({f['when_inside']} av {f['count']})" if f["when"] else "–"
                ),
                "presence_text": [
                    f"{p['place']}: {_hours(p['hours'])}, {count_or_text(p['visits'])} besök, "
                    f"{count_or_text(p['incidents_during'])} händelser under närvaro"
                    for p in f["presence"]
                ],
                "decide": _decide_link(f["target"], activity["activity_id"] if activity else None),
            }
        )
    return rows


def public_focus_rows(source: Source) -> list[dict[str, Any]]:
    return [
        {"area": f["area"], "categories": ", ".join(f["categories"][:TOP_CATEGORIES])}
        for f in summary_of(source, public=True).get("focus", [])
    ]


def upcoming_rows(source: Source) -> list[dict[str, Any]]:
    return [
        {**u, "expected_text": decimal_sv(u["expected"])}
        for u in summary_of(source).get("upcoming", [])
    ]


def promise_rows(source: Source) -> list[dict[str, Any]]:
    return [
        {
            **p,
            "places_text": ", ".join(p["places"]),
            "categories_text": ", ".join(p["categories"]),
            "count_text": count_or_text(p["count"]),
            "previous_text": count_or_text(p["previous"]),
        }
        for p in summary_of(source).get("promises", [])
    ]


def plan_area_rows(source: Source) -> list[dict[str, Any]]:
    return [
        {
            **a,
            "areas_text": ", ".join(a["areas"]),
            "count_text": count_or_text(a["count"]),
            "previous_text": count_or_text(a["previous"]),
            "hotspots_text": ", ".join(a["hotspots"]) or "–",
        }
        for a in summary_of(source).get("plan_areas", [])
    ]


# --- the page ------------------------------------------------------------------------------------


def meeting_context(
    source: Source, *, public: bool = False, areas: KommunAreas | None = None
) -> dict[str, Any]:
    summary = summary_of(source, public=public)
    public = bool(summary["public"])
    comparison = summary["comparison"]
    week = int(summary["iso_week"].split("-W")[1])
    return {
        "public": public,
        "kommun_name": summary["kommun_name"],
        "kommun": summary["kommun"],
        "iso_week": summary["iso_week"],
        "week": week,
        "week_label": summary["week_label"],
        "revision": summary["revision"],
        "built_at": summary["built_at_text"],
        "headline": summary["headline"],
        "words": [
            (word, meaning)
            for word, meaning in summary["words"].items()
            if not public or word == HANDELSE.singular
        ],
        "counted_word": HANDELSE.plural,
        "reports_word": RAPPORT.plural,
        "comparison_reason": comparison["reason"],
        "mean_labels": (
            None
            if public or not comparison["short_weeks"]
            else {
                "short": comparison["short_label"],
                "long": comparison["long_label"],
                "one": comparison["one_mean"],
            }
        ),
        "sentences": list(summary["sentences"]),
        "cells": cell_rows(summary),
        "hotspots": hotspot_rows(summary),
        "decisions": [] if public else decision_rows(summary),
        "presence": [] if public else presence_rows(summary),
        "presence_reach_m": round(PLACE_REACH_M),
        "strips": [] if public else time_strips(summary),
        "coverage": coverage_rows(summary),
        "alerts": sum(1 for c in summary["cells"] if c["alert"]),
        "focus": [] if public else focus_rows(summary, areas),
        "public_focus": public_focus_rows(summary) if public else [],
        "upcoming": [] if public else upcoming_rows(summary),
        "promises": [] if public else promise_rows(summary),
        "plan_areas": [] if public else plan_area_rows(summary),
    }


def render_meeting_pack(
    source: Source, *, public: bool = False, areas: KommunAreas | None = None
) -> str:
    """The pack as one HTML page, from the week's summary (or a snapshot, summarised);
    `areas` draws the kommun's areas around each focus place's map picture."""
    context = meeting_context(source, public=public, areas=areas)
    return _templates.get_template("motesunderlag.html.j2").render(**context)
