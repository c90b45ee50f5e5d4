"""The week's summary (`sammanfattning.json`): every number and row the pages show.

One model per tree: `WeekSummary` (restricted: the meeting and the TiB) and
`PublicWeekSummary` (the public version: counts below 3 as "<3", withheld ones as "≥3",
no names, free text, points or decisions). Both are built from the frozen snapshot through
the counting rule (`shared.counting`), and they are what the pages are rendered from: the
meeting pack and the map's numbers read the summary, never the snapshot's counts directly,
so a page cannot tell another story than its JSON.

Their JSON Schema is published as ``docs/schemas/sammanfattning.schema.json``
(``python -m services.maps.summary`` writes it; a test keeps it current and validates every
demo week against it). Pure: no I/O.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from services.maps.disclosure import PublicCounts, public_counts
from services.maps.focus import FocusPlace as FocusCandidate
from services.maps.focus import best_activity, focus_places
from services.maps.suppress import HIDDEN, MIN_PUBLIC_COUNT, SUPPRESSED
from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import (
    CellStatsV1,
    DecisionV1,
    HotspotV1,
    PlanLinkV1,
    WeekSnapshotV1,
)
from shared.counting import (
    HANDELSE,
    Comparison,
    WeekNumbers,
    area_order,
    comparison,
    glossary,
    mean_label,
    mean_total,
    week_numbers,
)
from shared.formats import (
    WEEKDAYS_SV,
    date_sv,
    decimal_sv,
    iso_local,
    local,
    number_sv,
    signed_sv,
    time_sv,
    week_label_sv,
)
from shared.weeks import parse_week

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "docs" / "schemas" / "sammanfattning.schema.json"
)
SCHEMA_ID = "https://lagesbild.se/schemas/sammanfattning.schema.json"
SUMMARY_VERSION = 3
TOP_RISES = 3
TOP_HOTSPOTS = 3

SUPPRESSION_NOTE = (
    f"antal under {MIN_PUBLIC_COUNT} visas som {SUPPRESSED!r}; antal som annars skulle "
    f"låta ett litet antal räknas fram ur summorna visas som {HIDDEN!r}"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- restricted ---------------------------------------------------------------------------


class CountRow(_Model):
    count: int = Field(description="händelser this week")
    previous: int | None = Field(description="händelser the week before; null: not comparable")
    change: int | None


class AreaRow(_Model):
    area: str
    total: int = Field(description="händelser in the area this week")
    previous: int | None
    change: int | None
    alert: bool = Field(description="an unusual rise in one of its categories")
    categories: dict[str, CountRow]


class CategoryRow(_Model):
    category: str
    label: str
    count: int = Field(description="händelser of the category")
    previous: int | None
    change: int | None
    duplicates: int = Field(description="likely duplicates of the category (not counted)")
    with_point: int = Field(description="of the händelser, those drawn as points on the map")


class ComparisonInfo(_Model):
    previous_week_compared: bool = Field(description="false: the week before is not shown")
    reason: str | None = Field(description='why not, e.g. "jämförelse saknas: data från 19 okt"')
    data_from: date | None = Field(description="the kommun's first day with data")
    complete_from: date | None = Field(description="from when this week's reporting is complete")
    short_weeks: int = Field(description="weeks the short mean covers (at most 8)")
    long_weeks: int = Field(description="weeks the long mean covers (at most 52)")
    short_label: str
    long_label: str
    one_mean: bool = Field(description="both means cover the same weeks: show one")
    mean_total: float | None = Field(description="the whole week's short mean (händelser)")


class PlanActivity(_Model):
    activity_id: str
    activity: str
    focus_area: str
    responsible: list[str]


class CellRow(_Model):
    area: str
    category: str
    label: str
    count: int
    previous: int | None
    change: int | None
    mean_short: float | None = Field(description="mean over comparison.short_weeks weeks")
    mean_long: float | None = Field(description="mean over comparison.long_weeks weeks")
    alert: bool
    text: str = Field(description="the change in words")
    activities: list[PlanActivity]
    gap: bool = Field(description="an unusual rise no plan activity addresses")


class Rise(_Model):
    area: str
    category: str
    label: str
    count: int
    text: str


class HotspotCategory(_Model):
    category: str
    label: str
    count: int


class Hotspot(_Model):
    index: int = Field(description="position in the snapshot (the map's hotspot layer)")
    name: str
    areas: list[str]
    centroid: tuple[float, float]
    count: int = Field(description="händelser in the hotspot")
    previous: int | None
    baseline_mean: float | None
    trend: str
    score: float
    categories: list[HotspotCategory]
    plan_links: list[PlanActivity]
    gap: bool
    open_decisions: list[str] = Field(description="measures of the meeting's open decisions")


class Decision(_Model):
    decision_id: str
    measure: str
    activity_id: str | None
    target: str
    categories: list[str] = Field(description="category labels")
    responsible: list[str]
    from_week: str
    until_week: str
    status: str
    note: str
    followup: str
    guard_hours: float | None
    owner: str = Field(default="", description="who answers for it (else the responsible)")
    progress: str = Field(default="planerad", description="planerad, pågår, genomförd, avbruten")
    latest_report: str | None = Field(
        default=None, description='the latest report-back, "3 dec, Securitas: text"'
    )


class Presence(_Model):
    place: str
    area: str | None
    hotspot: str | None
    hours: float
    visits: int
    incidents: int = Field(description="händelser within reach of the place this week")
    incidents_during: int
    incident_reports: int


class CoverageRow(_Model):
    area: str
    status: str
    reporters: dict[str, int] = Field(description="organisation -> rapporter (duplicates too)")
    nollrapporter: list[str]


class PlanGap(_Model):
    target: str = Field(description='"hotspot" or "rise"')
    target_name: str
    categories: list[str]


class FollowUp(_Model):
    decision_id: str
    target: str
    weeks_before: int
    weeks_after: int
    before: int = Field(description="händelser at the target in the weeks before")
    after: int = Field(description="händelser at the target in the weeks after")
    comparison_before: int
    comparison_after: int
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    statement: str
    guard_hours: float


class TimeProfile(_Model):
    area: str | None
    total: int
    counts: list[list[int]]
    peak: str


class FocusActivity(_Model):
    activity_id: str
    activity: str
    focus_area: str
    responsible: list[str]
    categories: list[str] = Field(description="category labels of the activity")
    reason: str = Field(description="why it matches, in one line")


class FocusDecision(_Model):
    decision_id: str
    measure: str
    target: str
    owner: str
    progress: str = Field(description="planerad, pågår, genomförd or avbruten")
    until_week: str
    latest_report: str | None = Field(description='"3 dec, Securitas: text"; null: none yet')


class FocusPlace(_Model):
    """One of "Veckans fokus" (services/maps/focus.py; docs/analysis.md)."""

    rank: int
    kind: Literal["hotspot", "rise"]
    name: str
    target: str = Field(description="what the decision page is prefilled with")
    areas: list[str]
    categories: list[HotspotCategory]
    dominant: str = Field(description="the category code with most händelser")
    dominant_label: str
    count: int
    previous: int | None = Field(description="null: the week before is not comparable")
    mean: float | None = Field(description="the place's mean per week, when history covers it")
    mean_label: str | None
    trend: str
    comparison: str = Field(description="the honest comparison in words")
    when: str = Field(description='weekday × hour span in words, "fre–lör 22–02"')
    when_inside: int = Field(description="händelser inside that span")
    significance: float = Field(description="-log10 p against the place's own expectation")
    severity: float
    trend_factor: float
    priority: float
    why: str = Field(description="why it is in focus, in one line")
    polygon: list[list[list[float]]] | None = Field(
        description="GeoJSON Polygon (hotspot); null: the area of a rise"
    )
    points: list[tuple[float, float]] = Field(description="(lat, lon) of its händelser")
    activity: FocusActivity | None = Field(
        description="the one plan activity whose categories include the dominant category"
    )
    other_activities: list[FocusActivity]
    decisions: list[FocusDecision]
    presence: list[Presence]


class UpcomingPatrol(_Model):
    day: str = Field(description='"tis 24 nov"')
    window: str = Field(description='"22:00–02:00", Stockholm time')
    start: str
    end: str
    place: str
    area: str | None
    expected: float = Field(description="expected händelser in the window (an expectation)")
    reason: str


class PromiseRow(_Model):
    promise_id: str
    title: str
    places: list[str]
    categories: list[str] = Field(description="category labels")
    count: int
    previous: int | None
    trend: str
    done: list[str]


class PlanAreaRow(_Model):
    plan_area_id: str
    name: str
    areas: list[str]
    categories: list[str] = Field(description="category labels")
    count: int
    previous: int | None
    trend: str
    hotspots: list[str]
    open_decisions: int


class WeekSummary(_Model):
    """The restricted summary of a week (`sammanfattning.json` of the meeting's tree)."""

    public: Literal[False] = False
    summary_version: int = SUMMARY_VERSION
    kommun: str
    kommun_name: str
    iso_week: str
    week_label: str = Field(description='"vecka 47 (16–22 nov 2026)"')
    previous_week: str
    revision: int
    content_hash: str
    built_at: str = Field(description="ISO 8601, Stockholm time with offset")
    built_at_text: str
    words: dict[str, str] = Field(description="what händelse, rapport and trolig dubblett mean")
    headline: str = Field(description='"208 händelser (216 rapporter, varav 8 troliga dubbletter)"')
    total: int = Field(description="händelser this week: every report that is not a duplicate")
    previous_total: int | None
    change: int | None
    reports: int | None = Field(description="rapporter received (null once purged)")
    duplicates_linked: int = Field(description="troliga dubbletter (not counted)")
    incidents_mapped: int = Field(description="händelser drawn as points")
    centroid_only: int = Field(description="händelser without a point (kommun level)")
    incidents_purged: bool
    comparison: ComparisonInfo
    areas: list[AreaRow]
    categories: list[CategoryRow]
    cells: list[CellRow]
    rises: list[Rise]
    hotspots: list[Hotspot]
    plan_gaps: list[PlanGap]
    decisions: list[Decision]
    followups: list[FollowUp]
    presence: list[Presence]
    coverage: list[CoverageRow]
    time_profiles: list[TimeProfile]
    sentences: list[str] = Field(description="the pack's 'Vad har hänt'")
    focus: list[FocusPlace] = Field(default_factory=list, description="Veckans fokus")
    upcoming: list[UpcomingPatrol] = Field(
        default_factory=list, description="Kommande dagar: the TiB's recommended patrols"
    )
    promises: list[PromiseRow] = Field(default_factory=list, description="medborgarlöften")
    plan_areas: list[PlanAreaRow] = Field(default_factory=list, description="samverkansområden")


# --- public --------------------------------------------------------------------------------

Shown = Annotated[
    int | Literal["<3", "≥3"], Field(description="a count, '<3' (below 3) or '≥3' (withheld)")
]


class PublicCountRow(_Model):
    count: Shown
    previous: Shown | None
    change: int | None


class PublicAreaRow(_Model):
    area: str
    total: Shown
    previous: Shown | None
    change: int | None
    categories: dict[str, PublicCountRow]


class PublicCategoryRow(_Model):
    category: str
    label: str
    count: Shown
    previous: Shown | None
    change: int | None


class PublicCellRow(_Model):
    area: str
    category: str
    label: str
    count: Shown
    previous: Shown | None
    change: int | None
    alert: bool


class PublicHotspotCategory(_Model):
    category: str
    label: str
    count: Shown


class PublicHotspot(_Model):
    name: str
    areas: list[str]
    count: Shown
    previous: Shown | None
    trend: str
    categories: list[PublicHotspotCategory]


class PublicComparison(_Model):
    previous_week_compared: bool
    reason: str | None
    short_weeks: int
    short_label: str


class Alert(_Model):
    area: str
    category: str


class PublicCoverageRow(_Model):
    area: str
    status: str


class PublicFocus(_Model):
    """A focus place in area-level words only: the area and, where the public table shows
    it with 3 or more, the category."""

    area: str
    categories: list[str] = Field(description="category labels")


class PublicWeekSummary(_Model):
    """The public summary of a week (`offentlig/…/sammanfattning.json`)."""

    public: Literal[True] = True
    summary_version: int = SUMMARY_VERSION
    kommun: str
    kommun_name: str
    iso_week: str
    week_label: str
    previous_week: str
    revision: int
    built_at: str
    built_at_text: str
    words: dict[str, str]
    suppression: str
    headline: str
    total: Shown
    previous_total: Shown | None
    change: int | None
    comparison: PublicComparison
    areas: list[PublicAreaRow]
    categories: list[PublicCategoryRow]
    cells: list[PublicCellRow]
    hotspots: list[PublicHotspot]
    alerts: list[Alert]
    coverage: list[PublicCoverageRow]
    sentences: list[str]
    focus: list[PublicFocus] = Field(default_factory=list, description="Veckans fokus, per område")


AnySummary = Annotated[WeekSummary | PublicWeekSummary, Field(discriminator="public")]
_ADAPTER: TypeAdapter[WeekSummary | PublicWeekSummary] = TypeAdapter(AnySummary)


def json_schema() -> dict[str, Any]:
    """The published schema: either tree's summary (told apart by `public`)."""
    schema = _ADAPTER.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "sammanfattning.json",
        "description": (
            "A week's lägesbild summary, restricted (public: false) or public (public: true). "
            "Every count is of händelser (reports that are not likely duplicates)."
        ),
        **schema,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# --- building the restricted summary ----------------------------------------------------------


def label_of(snapshot: WeekSnapshotV1, code: str) -> str:
    return snapshot.categories.get(code) or DEFAULT_CATEGORIES.get(code) or code


def _activities(links: list[PlanLinkV1]) -> list[PlanActivity]:
    return [
        PlanActivity(
            activity_id=link.activity_id,
            activity=link.activity,
            focus_area=link.focus_area,
            responsible=list(link.responsible),
        )
        for link in links
    ]


def _sorted_stats(snapshot: WeekSnapshotV1) -> list[CellStatsV1]:
    area_rank = {a: i for i, a in enumerate(area_order(snapshot))}
    cat_rank = {c: i for i, c in enumerate(snapshot.categories)}
    return sorted(
        snapshot.stats,
        key=lambda s: (area_rank.get(s.area, 10**9), s.area, cat_rank.get(s.category, 10**9)),
    )


def _cell_keys(snapshot: WeekSnapshotV1, numbers: WeekNumbers) -> list[tuple[str, str]]:
    """The area × category rows to list: every cell with händelser this week or the week
    before, and every unusual rise; in area and catalogue order."""
    keys = {k for k, p in numbers.cells.items() if p.count or p.previous}
    keys |= {(s.area, s.category) for s in snapshot.stats if s.count or s.previous or s.alert}
    area_rank = {a: i for i, a in enumerate(area_order(snapshot))}
    cat_rank = {c: i for i, c in enumerate(snapshot.categories)}
    return sorted(
        keys, key=lambda k: (area_rank.get(k[0], 10**9), k[0], cat_rank.get(k[1], 10**9), k[1])
    )


def _cell_rows(snapshot: WeekSnapshotV1, numbers: WeekNumbers) -> list[CellRow]:
    """The table's rows: the counts from the counting rule, the means and the assessment
    from the week's statistics (where the cell has them)."""
    stats = {(s.area, s.category): s for s in snapshot.stats}
    rows = []
    for area, code in _cell_keys(snapshot, numbers):
        s = stats.get((area, code))
        pair = numbers.cells.get((area, code))
        count = pair.count if pair is not None else (s.count if s else 0)
        previous = pair.previous if pair is not None else None
        if s is not None and s.previous is None:
            previous = None  # the week before had no data at all
        name = f"{area} / {label_of(snapshot, code)}"
        links = [
            link
            for link in snapshot.plan_links
            if link.target == "rise" and link.target_name == name
        ]
        rows.append(
            CellRow(
                area=area,
                category=code,
                label=label_of(snapshot, code),
                count=count,
                previous=previous,
                change=None if previous is None else count - previous,
                mean_short=s.mean_8 if s else None,
                mean_long=s.mean_52 if s else None,
                alert=bool(s and s.alert),
                text=s.text if s else number_sv(count),
                activities=_activities(links),
                gap=any(g.target == "rise" and g.target_name == name for g in snapshot.plan_gaps),
            )
        )
    return rows


def ranked_hotspots(snapshot: WeekSnapshotV1) -> list[tuple[int, HotspotV1]]:
    """The hotspots, surest first (the meeting's order)."""
    return sorted(enumerate(snapshot.hotspots), key=lambda ih: (-ih[1].score, ih[1].name))


def _hotspot_categories(h: HotspotV1) -> list[tuple[str, int]]:
    return sorted(h.categories.items(), key=lambda kv: (-kv[1], kv[0]))


NOT_COMPARED = "ingen jämförelse"  # a hotspot's trend when the week before is not covered


def _hotspots(snapshot: WeekSnapshotV1, compared: bool) -> list[Hotspot]:
    rows = []
    for i, h in ranked_hotspots(snapshot):
        links = [
            link
            for link in snapshot.plan_links
            if link.target == "hotspot" and link.target_name == h.name
        ]
        rows.append(
            Hotspot(
                index=i,
                name=h.name,
                areas=list(h.areas),
                centroid=h.centroid,
                count=h.count,
                previous=h.previous if compared else None,
                baseline_mean=h.baseline_mean,
                trend=h.trend if compared else NOT_COMPARED,
                score=h.score,
                categories=[
                    HotspotCategory(category=c, label=label_of(snapshot, c), count=n)
                    for c, n in _hotspot_categories(h)
                ],
                plan_links=_activities(links),
                gap=any(
                    g.target == "hotspot" and g.target_name == h.name for g in snapshot.plan_gaps
                ),
                open_decisions=[d.measure for d in snapshot.open_decisions if d.target == h.name],
            )
        )
    return rows


def _decisions(snapshot: WeekSnapshotV1) -> list[Decision]:
    followups = {f.decision_id: f for f in snapshot.followups}
    rows = []
    for d in sorted(snapshot.open_decisions, key=lambda d: (d.from_week, d.decision_id)):
        followup = followups.get(d.decision_id)
        rows.append(
            Decision(
                decision_id=d.decision_id,
                measure=d.measure,
                activity_id=d.activity_id,
                target=d.target,
                categories=[label_of(snapshot, c) for c in d.categories],
                responsible=list(d.responsible),
                from_week=d.from_week,
                until_week=d.until_week,
                status=d.status,
                note=d.note,
                followup=followup.statement if followup else "Ingen uppföljning än.",
                guard_hours=followup.guard_hours if followup else None,
                owner=d.owner or ", ".join(d.responsible),
                progress=d.progress,
                latest_report=_latest_report(d),
            )
        )
    return rows


# --- veckans fokus, kommande dagar, medborgarlöften, samverkansområden ----------------------


def _focus_activity(snapshot: WeekSnapshotV1, link: PlanLinkV1) -> FocusActivity:
    return FocusActivity(
        activity_id=link.activity_id,
        activity=link.activity,
        focus_area=link.focus_area,
        responsible=list(link.responsible),
        categories=[label_of(snapshot, c) for c in link.categories],
        reason="; ".join(link.reasons),
    )


def _latest_report(d: DecisionV1) -> str | None:
    if not d.reports:
        return None
    r = max(d.reports, key=lambda r: r.reported_at)
    by = f", {r.by}" if r.by else ""
    return f"{date_sv(local(r.reported_at).date())}{by}: {r.text}"


def _focus_decision(d: DecisionV1) -> FocusDecision:
    return FocusDecision(
        decision_id=d.decision_id,
        measure=d.measure,
        target=d.target,
        owner=d.owner or ", ".join(d.responsible),
        progress=d.progress,
        until_week=d.until_week,
        latest_report=_latest_report(d),
    )


def _focus_mean(place: FocusCandidate, cmp: Comparison) -> tuple[float | None, str | None]:
    """The place's mean, only where history covers the weeks it is taken over: a rise's
    short mean over `cmp.short_weeks`; a hotspot's over 8 weeks, so only with 8 weeks."""
    if place.baseline_mean is None or not cmp.short_weeks:
        return None, None
    if place.kind == "hotspot" and cmp.short_weeks < 8:
        return None, None
    return place.baseline_mean, mean_label(cmp.short_weeks)


def _focus_comparison(
    place: FocusCandidate, mean: float | None, label: str | None, cmp: Comparison
) -> str:
    parts = []
    if place.previous is not None:
        parts.append(f"förra veckan {number_sv(place.previous)}")
    if mean is not None and label is not None:
        parts.append(f"{label}: {decimal_sv(mean)}")
    if not parts:
        return cmp.reason or "jämförelse saknas"
    return ", ".join(parts)


def _focus_why(place: FocusCandidate, dominant_label: str) -> str:
    p = 10**-place.significance
    sure = "p < 0,001" if p < 0.001 else f"p = {decimal_sv(p, 3)}"
    what = "ovanlig ökning" if place.kind == "rise" else "tätare än platsens förväntan"
    rise = " och en ovanlig ökning" if place.kind == "hotspot" and place.rise else ""
    trend = "" if place.trend == "–" else f", {place.trend}"
    return f"{what.capitalize()}{rise} ({sure}); mest {dominant_label.lower()}{trend}."


def _focus(snapshot: WeekSnapshotV1, cmp: Comparison) -> list[FocusPlace]:
    rows = []
    for rank, place in enumerate(focus_places(snapshot), start=1):
        best, others = best_activity(place.links, place.dominant)
        dominant_label = label_of(snapshot, place.dominant)
        mean, mean_text = _focus_mean(place, cmp)
        rows.append(
            FocusPlace(
                rank=rank,
                kind="hotspot" if place.kind == "hotspot" else "rise",
                name=place.name,
                target=place.target,
                areas=list(place.areas),
                categories=[
                    HotspotCategory(category=c, label=label_of(snapshot, c), count=n)
                    for c, n in place.categories
                ],
                dominant=place.dominant,
                dominant_label=dominant_label,
                count=place.count,
                previous=place.previous,
                mean=mean,
                mean_label=mean_text,
                trend=place.trend,
                comparison=_focus_comparison(place, mean, mean_text, cmp),
                when=place.when.text,
                when_inside=place.when.inside,
                significance=place.significance,
                severity=place.severity,
                trend_factor=place.trend_factor,
                priority=place.priority,
                why=_focus_why(place, dominant_label),
                polygon=place.polygon,
                points=[(round(lat, 6), round(lon, 6)) for lat, lon in place.points],
                activity=None if best is None else _focus_activity(snapshot, best),
                other_activities=[_focus_activity(snapshot, link) for link in others],
                decisions=[_focus_decision(d) for d in place.decisions],
                presence=[_presence(p) for p in place.presence],
            )
        )
    return rows


def _upcoming(snapshot: WeekSnapshotV1) -> list[UpcomingPatrol]:
    rows = []
    for u in sorted(snapshot.upcoming_patrols, key=lambda u: (u.start, u.place)):
        start, end = local(u.start), local(u.end)
        rows.append(
            UpcomingPatrol(
                day=f"{WEEKDAYS_SV[start.weekday()]} {date_sv(start.date())}",
                window=f"{start:%H:%M}–{end:%H:%M}",
                start=iso_local(u.start),
                end=iso_local(u.end),
                place=u.place,
                area=u.area,
                expected=round(u.expected, 2),
                reason=u.reason,
            )
        )
    return rows


def _promises(snapshot: WeekSnapshotV1, compared: bool) -> list[PromiseRow]:
    return [
        PromiseRow(
            promise_id=p.promise_id,
            title=p.title,
            places=list(p.places),
            categories=[label_of(snapshot, c) for c in p.categories],
            count=p.count,
            previous=p.previous if compared else None,
            trend=p.trend if compared else "–",
            done=list(p.done),
        )
        for p in snapshot.promises
    ]


def _plan_areas(snapshot: WeekSnapshotV1, compared: bool) -> list[PlanAreaRow]:
    return [
        PlanAreaRow(
            plan_area_id=a.plan_area_id,
            name=a.name,
            areas=list(a.areas),
            categories=[label_of(snapshot, c) for c in a.categories],
            count=a.count,
            previous=a.previous if compared else None,
            trend=a.trend if compared else "–",
            hotspots=list(a.hotspots),
            open_decisions=a.open_decisions,
        )
        for a in snapshot.plan_areas
    ]


def _presence(p: Any) -> Presence:
    return Presence(
        place=p.place,
        area=p.area,
        hotspot=p.hotspot,
        hours=p.hours,
        visits=p.visits,
        incidents=p.incidents,
        incidents_during=p.incidents_during,
        incident_reports=p.incident_reports,
    )


def _comparison_info(snapshot: WeekSnapshotV1, cmp: Comparison) -> ComparisonInfo:
    short_label, long_label = cmp.labels()
    return ComparisonInfo(
        previous_week_compared=cmp.previous,
        reason=cmp.reason,
        data_from=snapshot.data_from,
        complete_from=cmp.complete_from,
        short_weeks=cmp.short_weeks,
        long_weeks=cmp.long_weeks,
        short_label=short_label,
        long_label=long_label,
        one_mean=cmp.one_mean,
        mean_total=mean_total(snapshot) if cmp.short_weeks else None,
    )


def week_summary_model(snapshot: WeekSnapshotV1) -> WeekSummary:
    numbers, cmp = week_numbers(snapshot), comparison(snapshot)
    alerts_by_area = {s.area for s in snapshot.stats if s.alert}
    areas = [
        AreaRow(
            area=area,
            total=pair.count,
            previous=pair.previous,
            change=pair.change,
            alert=area in alerts_by_area,
            categories={
                code: CountRow(count=c.count, previous=c.previous, change=c.change)
                for (a, code), c in sorted(numbers.cells.items())
                if a == area
            },
        )
        for area, pair in numbers.areas.items()
    ]
    duplicates_by_category: dict[str, int] = {}
    for (_, code), n in numbers.duplicates_by_cell.items():
        duplicates_by_category[code] = duplicates_by_category.get(code, 0) + n
    categories = [
        CategoryRow(
            category=code,
            label=label_of(snapshot, code),
            count=pair.count,
            previous=pair.previous,
            change=pair.change,
            duplicates=duplicates_by_category.get(code, 0),
            with_point=numbers.with_point.get(code, 0),
        )
        for code, pair in numbers.categories.items()
    ]
    cells = _cell_rows(snapshot, numbers)
    hotspots = _hotspots(snapshot, cmp.previous)
    rises = [
        Rise(
            area=s.area,
            category=s.category,
            label=label_of(snapshot, s.category),
            count=s.count,
            text=s.text,
        )
        for s in _sorted_stats(snapshot)
        if s.alert
    ]
    mapped = sum(numbers.with_point.values())
    summary = WeekSummary(
        kommun=snapshot.kommun,
        kommun_name=snapshot.kommun_name,
        iso_week=snapshot.iso_week,
        week_label=week_label_sv(snapshot.iso_week),
        previous_week=snapshot.previous_week,
        revision=snapshot.revision,
        content_hash=snapshot.content_hash,
        built_at=iso_local(snapshot.built_at),
        built_at_text=time_sv(snapshot.built_at),
        words=glossary(),
        headline=numbers.phrase(),
        total=numbers.total.count,
        previous_total=numbers.total.previous,
        change=numbers.total.change,
        reports=numbers.reports,
        duplicates_linked=numbers.duplicates,
        incidents_mapped=mapped,
        centroid_only=numbers.without_point,
        incidents_purged=snapshot.incidents_purged,
        comparison=_comparison_info(snapshot, cmp),
        areas=areas,
        categories=categories,
        cells=cells,
        rises=rises,
        hotspots=hotspots,
        plan_gaps=[
            PlanGap(target=g.target, target_name=g.target_name, categories=list(g.categories))
            for g in snapshot.plan_gaps
        ],
        decisions=_decisions(snapshot),
        followups=[FollowUp.model_validate(f.model_dump()) for f in snapshot.followups],
        presence=[_presence(p) for p in snapshot.patrol_presence],
        coverage=[
            CoverageRow(
                area=c.area,
                status=c.status,
                reporters=dict(sorted(c.reports.items())),
                nollrapporter=sorted(c.nollrapporter),
            )
            for c in snapshot.coverage
        ],
        time_profiles=[
            TimeProfile(area=p.area, total=p.total, counts=p.counts, peak=p.peak)
            for p in snapshot.time_profiles
            if p.category is None
        ],
        sentences=[],
        focus=_focus(snapshot, cmp),
        upcoming=_upcoming(snapshot),
        promises=_promises(snapshot, cmp.previous),
        plan_areas=_plan_areas(snapshot, cmp.previous),
    )
    return summary.model_copy(update={"sentences": sentences(summary)})


def week_summary(snapshot: WeekSnapshotV1) -> dict[str, Any]:
    """The restricted summary as JSON-ready data (what `sammanfattning.json` holds)."""
    return week_summary_model(snapshot).model_dump(mode="json")


# --- building the public summary ------------------------------------------------------------


def _shown_previous(value: int | str, compared: bool) -> int | str | None:
    return value if compared else None


def public_summary_model(snapshot: WeekSnapshotV1) -> PublicWeekSummary:
    numbers, cmp = week_numbers(snapshot), comparison(snapshot)
    shown = public_counts(snapshot)
    compared = cmp.previous

    def row(count: Any) -> dict[str, Any]:
        previous = _shown_previous(count.previous, compared)
        return {
            "count": count.count,
            "previous": previous,
            "change": count.change if compared else None,
        }

    areas = []
    for area in numbers.areas:
        listed = {
            code: PublicCountRow(**row(shown.cells[(area, code)]))
            for (a, code) in sorted(numbers.cells)
            if a == area and (area, code) in shown.cells and shown.cells[(area, code)].listed
        }
        area_row = row(shown.areas[area])
        areas.append(
            PublicAreaRow(
                area=area,
                total=area_row["count"],
                previous=area_row["previous"],
                change=area_row["change"],
                categories=listed,
            )
        )
    categories = [
        PublicCategoryRow(
            category=code, label=label_of(snapshot, code), **row(shown.categories[code])
        )
        for code in numbers.categories
    ]
    cells = []
    alerts = {(s.area, s.category) for s in snapshot.stats if s.alert}
    for area, code in _cell_keys(snapshot, numbers):
        full = numbers.cells.get((area, code))
        count = full.count if full else 0
        before = sum(c.previous for c in snapshot.cells if (c.area, c.category) == (area, code))
        cell = shown.cell(area, code, count, before)
        alert = (area, code) in alerts
        if not cell.listed and not alert:
            continue  # a row of two '<3' would still say "not zero"
        cells.append(
            PublicCellRow(
                area=area, category=code, label=label_of(snapshot, code), alert=alert, **row(cell)
            )
        )
    hotspots = []
    for i, h in ranked_hotspots(snapshot):
        spot = shown.hotspots[i]
        hotspots.append(
            PublicHotspot(
                name=h.name,
                areas=list(h.areas),
                count=spot.count,
                previous=_shown_previous(spot.previous, compared),
                trend=h.trend if compared else NOT_COMPARED,
                categories=[
                    PublicHotspotCategory(
                        category=c, label=label_of(snapshot, c), count=spot.categories[c]
                    )
                    for c, _ in _hotspot_categories(h)
                    if c in spot.categories
                ],
            )
        )
    total = row(shown.total)
    summary = PublicWeekSummary(
        kommun=snapshot.kommun,
        kommun_name=snapshot.kommun_name,
        iso_week=snapshot.iso_week,
        week_label=week_label_sv(snapshot.iso_week),
        previous_week=snapshot.previous_week,
        revision=snapshot.revision,
        built_at=iso_local(snapshot.built_at),
        built_at_text=time_sv(snapshot.built_at),
        words={HANDELSE.singular: HANDELSE.meaning},
        suppression=SUPPRESSION_NOTE,
        headline=HANDELSE.of(total["count"]),
        total=total["count"],
        previous_total=total["previous"],
        change=total["change"],
        comparison=PublicComparison(
            previous_week_compared=compared,
            reason=cmp.public_reason,
            short_weeks=cmp.short_weeks,
            short_label=cmp.labels()[0],
        ),
        areas=areas,
        categories=categories,
        cells=cells,
        hotspots=hotspots,
        alerts=[Alert(area=s.area, category=s.category) for s in snapshot.stats if s.alert],
        coverage=[PublicCoverageRow(area=c.area, status=c.status) for c in snapshot.coverage],
        sentences=[],
        focus=_public_focus(snapshot, cells),
    )
    return summary.model_copy(
        update={"sentences": sentences(summary, mean=_public_mean(snapshot, shown, cmp))}
    )


def _public_focus(snapshot: WeekSnapshotV1, cells: list[PublicCellRow]) -> list[PublicFocus]:
    """The focus places in area-level words: each area once, with the place's categories
    only where the public table shows that cell with 3 or more (or "≥3")."""
    shown = {(c.area, c.category) for c in cells if c.count != SUPPRESSED}
    out: dict[str, list[str]] = {}
    for place in focus_places(snapshot):
        for area in place.areas:
            labels = out.setdefault(area, [])
            for code, _ in place.categories:
                label = label_of(snapshot, code)
                if (area, code) in shown and label not in labels:
                    labels.append(label)
    return [PublicFocus(area=a, categories=labels) for a, labels in out.items()]


def _public_mean(snapshot: WeekSnapshotV1, shown: PublicCounts, cmp: Comparison) -> float | None:
    """The mean sentence's mean, only when it gives nothing away: the total is shown and the
    mean is not small."""
    mean = mean_total(snapshot) if cmp.short_weeks else None
    if mean is None or not isinstance(shown.total.count, int) or mean < MIN_PUBLIC_COUNT:
        return None
    return mean


def public_summary(snapshot: WeekSnapshotV1) -> dict[str, Any]:
    return public_summary_model(snapshot).model_dump(mode="json")


def _shown_text(value: int | str | None) -> str:
    if value is None:
        return "–"
    return number_sv(value) if isinstance(value, int) else str(value)


# --- "vad har hänt" ----------------------------------------------------------------------------


def _week_number(iso_week: str) -> int:
    return parse_week(iso_week)[1]


def sentences(summary: WeekSummary | PublicWeekSummary, *, mean: float | None = None) -> list[str]:
    """A few Swedish sentences from the summary's own numbers: the week against the week
    before (or why not), against its mean (with the weeks it covers), the biggest rises,
    unusual rises and the top hotspots; restricted also the guards' presence."""
    week, prev_week = _week_number(summary.iso_week), _week_number(summary.previous_week)
    public = isinstance(summary, PublicWeekSummary)
    head = f"Vecka {week} kom {summary.headline}"
    out: list[str] = []
    if summary.change is not None and summary.previous_total is not None:
        if summary.change == 0:
            compared = f"lika många som vecka {prev_week}"
        else:
            more = "fler" if summary.change > 0 else "färre"
            compared = (
                f"{number_sv(abs(summary.change))} {more} än vecka {prev_week} "
                f"({_shown_text(summary.previous_total)})"
            )
        out.append(f"{head}, {compared}.")
    elif summary.previous_total is not None:
        out.append(f"{head}; vecka {prev_week}: {_shown_text(summary.previous_total)}.")
    else:
        reason = summary.comparison.reason or "jämförelse saknas"
        out.append(f"{head}; {reason}.")
    out += _mean_sentence(summary, mean)
    out += _rise_sentences(summary)
    out += _hotspot_sentence(summary)
    if not public:
        assert isinstance(summary, WeekSummary)
        out += _presence_sentence(summary)
    return out


def _mean_sentence(summary: WeekSummary | PublicWeekSummary, mean: float | None) -> list[str]:
    if isinstance(summary, WeekSummary):
        mean = summary.comparison.mean_total
    weeks = summary.comparison.short_weeks
    if mean is None or not weeks or not isinstance(summary.total, int):
        return []
    span = "veckan före" if weeks == 1 else f"de {weeks} veckorna före"
    if mean <= 0:
        return [f"Snittet för {span} är {decimal_sv(mean)} {HANDELSE.plural}."]
    pct = round(100 * (summary.total - mean) / mean)
    where = "över" if pct > 0 else "under" if pct < 0 else "i nivå med"
    amount = f"{number_sv(abs(pct))} % " if pct else ""
    return [f"Det är {amount}{where} snittet för {span} ({decimal_sv(mean)})."]


def _rise_sentences(summary: WeekSummary | PublicWeekSummary) -> list[str]:
    rising = [c for c in summary.cells if c.change is not None and c.change > 0]
    rising.sort(key=lambda c: (-(c.change or 0), c.area, c.category))
    out = []
    if rising:
        parts = [f"{c.label} i {c.area} ({signed_sv(c.change)})" for c in rising[:TOP_RISES]]
        out.append("Störst ökning: " + ", ".join(parts) + ".")
    elif (
        summary.cells
        and isinstance(summary, WeekSummary)
        and summary.comparison.previous_week_compared
    ):
        out.append("Ingen kategori ökade mot förra veckan.")
    alerts = [c for c in summary.cells if c.alert]
    if alerts:
        names = ", ".join(f"{c.label} i {c.area}" for c in alerts)
        out.append(f"Ovanligt hög nivå ({len(alerts)}): {names}.")
    return out


def _hotspot_sentence(summary: WeekSummary | PublicWeekSummary) -> list[str]:
    top = summary.hotspots[:TOP_HOTSPOTS]
    if not top:
        return []
    parts = [f"{h.name} ({HANDELSE.of(h.count)}, {h.trend})" for h in top]
    return ["Tydligaste hotspots (säkrast först): " + ", ".join(parts) + "."]


def _presence_sentence(summary: WeekSummary) -> list[str]:
    rows = summary.presence
    if not rows:
        return []
    hours = sum(p.hours for p in rows)
    places = "1 plats" if len(rows) == 1 else f"{number_sv(len(rows))} platser"
    there, during = sum(p.incidents for p in rows), sum(p.incidents_during for p in rows)
    return [
        f"Väktarna var på plats {decimal_sv(hours)} timmar på {places}; där kom "
        f"{HANDELSE.of(there)}, {number_sv(during)} av dem medan en väktare var där."
    ]


def main(argv: list[str]) -> int:
    """Write (or with --check, compare) the published schema."""
    text = schema_text()
    if "--check" in argv:
        current = SCHEMA_PATH.read_text("utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} är inte aktuell: kör python -m services.maps.summary")
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text, "utf-8")
    print(f"Skrev {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
