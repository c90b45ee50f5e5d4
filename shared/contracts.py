"""Message contracts between the services: versioned, frozen pydantic models.

Every stream name is a constant here, next to the message it carries. Adding an
optional field keeps a version compatible; renaming, removing or retyping a field
means a new model on a new stream (``…v2``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.categories import Source

# --- stream names --------------------------------------------------------------
REPORTS_STREAM = "lagesbild.reports.v1"  # raw submissions, any producer
ACCEPTED_STREAM = "lagesbild.reports.accepted.v1"  # ingest -> aggregate
REJECTED_STREAM = "lagesbild.reports.rejected.v1"  # dead letters, for inspection
WEEK_BUILD_STREAM = "lagesbild.weeks.build-requested.v1"  # on-demand builds
LAGESBILD_READY_STREAM = "lagesbild.lagesbild.ready.v1"  # aggregate -> maps
PUBLISHED_STREAM = "lagesbild.lagesbild.published.v1"  # maps -> whoever listens
DEAD_LETTER_STREAM = "lagesbild.dead-letter.v1"  # internal events no consumer could use
NOLLRAPPORT_STREAM = "lagesbild.nollrapporter.v1"  # "nothing to report this week", per org/area
DECISION_STREAM = "lagesbild.decisions.v1"  # the meeting's decisions (and their closing)
TIB_ORDER_STREAM = "lagesbild.tib.orders.v1"  # patrol orders and their life cycle

ALL_STREAMS = (
    REPORTS_STREAM,
    ACCEPTED_STREAM,
    REJECTED_STREAM,
    WEEK_BUILD_STREAM,
    LAGESBILD_READY_STREAM,
    PUBLISHED_STREAM,
    DEAD_LETTER_STREAM,
    NOLLRAPPORT_STREAM,
    DECISION_STREAM,
    TIB_ORDER_STREAM,
)

# consumer groups, one per service
INGEST_GROUP = "ingest"
AGGREGATE_GROUP = "aggregate"
MAPS_GROUP = "maps"

# Which group reads which stream. Groups are created from the start of the stream ("0"),
# so what was submitted before a service first ran is still read.
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    REPORTS_STREAM: (INGEST_GROUP,),
    ACCEPTED_STREAM: (AGGREGATE_GROUP,),
    WEEK_BUILD_STREAM: (AGGREGATE_GROUP,),
    LAGESBILD_READY_STREAM: (MAPS_GROUP,),
    NOLLRAPPORT_STREAM: (AGGREGATE_GROUP,),
    DECISION_STREAM: (AGGREGATE_GROUP,),
    TIB_ORDER_STREAM: (AGGREGATE_GROUP,),  # patrol presence; the guard company adds its own
}

MAX_DESCRIPTION_CHARS = 2000


def new_message_id() -> str:
    return uuid.uuid4().hex


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


LocationPrecision = Literal["exact", "centroid"]


class ReportV1(_Message):
    """One observation, as a reporter's system submits it (the v1 report contract)."""

    version: Literal[1] = 1
    report_id: str = Field(min_length=1, max_length=128, description="sender's id; idempotency key")
    kommun: str = Field(pattern=r"^\d{4}$", description="kommunkod, e.g. 0580")
    source: Source
    organisation: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64, description="category code, see README")
    occurred_at: AwareDatetime
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    location_precision: LocationPrecision = "exact"
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)


class NollrapportV1(_Message):
    """An organisation's statement that it saw nothing to report in an area this week,
    so the lägesbild can tell "0" from "not reported"."""

    version: Literal[1] = 1
    message_id: str = Field(default_factory=new_message_id)
    kommun: str = Field(pattern=r"^\d{4}$")
    organisation: str = Field(min_length=1, max_length=200)
    source: Source
    iso_week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    area: str | None = Field(default=None, description="None: the whole kommun")
    submitted_at: AwareDatetime


class AcceptedReportV1(_Message):
    """A stored report, placed in its area and week. Free text is already scrubbed."""

    message_id: str = Field(default_factory=new_message_id)
    report_id: str
    organisation: str
    kommun: str
    source: Source
    category: str
    occurred_at: AwareDatetime
    iso_week: str
    area: str
    lat: float
    lon: float
    location_precision: LocationPrecision = "exact"
    description: str = ""
    duplicate_of: str | None = Field(
        default=None, description="report key ('organisation/report_id') this likely repeats"
    )
    accepted_at: AwareDatetime


class RejectedReportV1(_Message):
    """A submission that could not be accepted, with a reason the sender can act on."""

    message_id: str = Field(default_factory=new_message_id)
    entry_id: str = Field(description="the stream entry id of the submission")
    code: str
    message_sv: str
    message_en: str
    payload: str = Field(description="the original payload, as received")
    deliveries: int = 1
    rejected_at: AwareDatetime


class DeadLetterV1(_Message):
    """An internal event a consumer could not use, kept for inspection."""

    message_id: str = Field(default_factory=new_message_id)
    stream: str
    entry_id: str
    reason: str
    payload: str
    deliveries: int = 1
    dead_lettered_at: AwareDatetime


class WeekBuildRequestedV1(_Message):
    message_id: str = Field(default_factory=new_message_id)
    kommun: str
    iso_week: str
    requested_by: str = "operator"


class AreaCount(_Message):
    area: str
    category: str
    count: int
    previous: int


class IncidentPoint(_Message):
    """What the map may show of one report: no reporter identity, scrubbed text."""

    key: str
    category: str
    source: Source
    occurred_at: datetime
    area: str
    lat: float
    lon: float
    location_precision: LocationPrecision
    description: str
    duplicate_of: str | None = None


class CellStatsV1(_Message):
    """An area × category cell against its own history (see docs/analysis.md)."""

    area: str
    category: str
    count: int
    previous: int | None
    mean_8: float | None
    mean_52: float | None
    baseline_weeks: int
    change_vs_previous: int | None
    ratio_vs_mean: float | None
    p_value: float | None
    q_value: float | None
    alert: bool
    text: str = Field(description="the change in words, for the meeting")


class HotspotV1(_Message):
    name: str
    areas: list[str]
    polygon: list[list[list[float]]] = Field(description="GeoJSON Polygon coordinates, WGS84")
    centroid: tuple[float, float] = Field(description="(lat, lon)")
    count: int
    previous: int
    baseline_mean: float | None
    categories: dict[str, int]
    cells: int
    score: float
    trend: str


class TimeProfileV1(_Message):
    area: str | None = Field(description="None: the whole kommun")
    category: str | None = Field(description="None: all categories")
    total: int
    counts: list[list[int]] = Field(description="7 × 24, Monday first, Stockholm local hours")
    peak: str


class AreaCoverageV1(_Message):
    area: str
    reports: dict[str, int] = Field(description="organisation -> reports this week")
    nollrapporter: list[str]
    status: str = Field(description="rapporterat | nollrapport | ej rapporterat")


class PlanLinkV1(_Message):
    """A plan activity (åtgärd) that matches a hotspot or an unusual rise, and why."""

    target: str = Field(description='"hotspot" or "rise"')
    target_name: str = Field(description="the hotspot's name, or 'area / category label'")
    plan_id: str
    activity_id: str
    activity: str = Field(description="what is to be done (åtgärd)")
    focus_area: str = Field(description="samverkansområde / fokusområde")
    responsible: list[str]
    reasons: list[str] = Field(description="why it matches: category, area, place, time")


class PlanGapV1(_Message):
    """A hotspot or rise that no plan activity addresses: a gap in the plan."""

    target: str
    target_name: str
    categories: list[str]


class DecisionV1(_Message):
    """A decision of the weekly meeting (also the event on DECISION_STREAM)."""

    message_id: str = Field(default_factory=new_message_id)
    decision_id: str
    kommun: str = Field(pattern=r"^\d{4}$")
    measure: str = Field(description="what is to be done")
    activity_id: str | None = Field(default=None, description="the plan activity, if any")
    target: str = Field(description="a hotspot's name or an area")
    categories: list[str] = Field(default_factory=list)
    responsible: list[str]
    from_week: str
    until_week: str
    status: Literal["open", "closed"] = "open"
    decided_at: AwareDatetime
    note: str = ""


class FollowUpV1(_Message):
    """Did it help? Counts at the target before and after, against comparable places."""

    decision_id: str
    target: str
    weeks_before: int
    weeks_after: int
    before: int
    after: int
    comparison_before: int
    comparison_after: int
    ratio: float | None = Field(description="relative change vs the comparison places")
    ratio_low: float | None
    ratio_high: float | None
    statement: str = Field(description="the result and its uncertainty, in Swedish")
    guard_hours: float = Field(
        default=0.0, description="guards' checked-in hours at the target in the weeks after"
    )


PLACE_REACH_M = 250.0  # a guard at a point watches about a block around it


class PatrolPresenceV1(_Message):
    """Where the guards were this week (from the TiB orders' check-in/check-out) and what
    happened there: incidents within reach of the place, and those while a guard was there."""

    place: str
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    hotspot: str | None = Field(default=None, description="the week's hotspot at the place")
    hours: float
    visits: int
    incident_reports: int = Field(description="reports the guards filed from their visits")
    incidents: int = Field(description="the week's incidents within PLACE_REACH_M of the place")
    incidents_during: int = Field(description="of those, while a guard was checked in")


class WeekSnapshotV1(_Message):
    """The frozen content of one week's lägesbild for one kommun."""

    kommun: str
    kommun_name: str
    iso_week: str
    previous_week: str
    revision: int
    content_hash: str
    built_at: AwareDatetime
    categories: dict[str, str]
    areas: list[str]
    cells: list[AreaCount]
    incidents: list[IncidentPoint]
    duplicates_linked: int = 0
    incidents_purged: bool = Field(
        default=False, description="points and free text removed by the retention purge"
    )
    stats: list[CellStatsV1] = Field(default_factory=list)
    hotspots: list[HotspotV1] = Field(default_factory=list)
    time_profiles: list[TimeProfileV1] = Field(default_factory=list)
    coverage: list[AreaCoverageV1] = Field(default_factory=list)
    plan_links: list[PlanLinkV1] = Field(default_factory=list)
    plan_gaps: list[PlanGapV1] = Field(default_factory=list)
    open_decisions: list[DecisionV1] = Field(default_factory=list)
    followups: list[FollowUpV1] = Field(default_factory=list)
    patrol_presence: list[PatrolPresenceV1] = Field(default_factory=list)


class LagesbildReadyV1(_Message):
    message_id: str = Field(default_factory=new_message_id)
    snapshot: WeekSnapshotV1
    public: bool = Field(
        True,
        description=(
            "whether the public version may change with this snapshot: false for a revision "
            "made by late reports, whose public version waits for the scheduled weekly build"
        ),
    )


class LagesbildPublishedV1(_Message):
    message_id: str = Field(default_factory=new_message_id)
    kommun: str
    iso_week: str
    revision: int
    map_path: str
    summary_path: str
    published_at: AwareDatetime


# --- TiB patrol orders (the events on TIB_ORDER_STREAM) ------------------------------
OrderEventKind = Literal[
    "issued", "updated", "cancelled", "acknowledged", "checked_in", "checked_out", "outcome"
]
TIB_EVENTS = ("issued", "updated", "cancelled")  # the TiB's ("tasking")
GUARD_EVENTS = ("acknowledged", "checked_in", "checked_out", "outcome")  # the guards'


class PatrolOrderV1(_Message):
    """What the TiB asks a guard company to do: where, when, what, how urgent."""

    order_id: str = Field(default_factory=new_message_id)
    kommun: str = Field(pattern=r"^\d{4}$")
    place: str = Field(min_length=1, max_length=200, description="a hotspot's name or an area")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    area: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    task: str = Field(min_length=1, max_length=1000, description="what to do there")
    priority: Literal["hög", "normal", "låg"] = "normal"
    assigned_to: str | None = Field(
        default=None, description="the guard organisation; None = any of the kommun's"
    )
    reason: str = Field(default="", max_length=500, description="why, e.g. the recommendation")

    @model_validator(mode="after")
    def _window(self) -> PatrolOrderV1:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PatrolOrderEventV1(_Message):
    """One step of an order's life. `order` is set on issued/updated; `incident_report_id`
    names the report (organisation/report_id) an outcome was filed with, if any."""

    message_id: str = Field(default_factory=new_message_id)
    order_id: str
    kommun: str = Field(pattern=r"^\d{4}$")
    kind: OrderEventKind
    at: AwareDatetime
    by: str = Field(description="the organisation (from its token)")
    order: PatrolOrderV1 | None = None
    note: str = Field(default="", max_length=2000)
    incident_report_id: str | None = None
