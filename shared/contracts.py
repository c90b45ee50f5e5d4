"""Message contracts between the services: versioned, frozen pydantic models.

Every stream name is a constant here, next to the message it carries.

The compatibility rule (also in the README and docs/asyncapi.yaml):

- On the wire every entry carries its event as UTF-8 JSON text in a field named `payload`
  (`shared.streams.send` writes it; `message_id` and `content-type` are optional extra
  fields). An entry without `payload` is rejected with a reason saying so.
- A *minor* change adds an optional field (with a default) to a version: it keeps the
  stream's name. Readers accept and ignore fields they do not know (`extra="ignore"`), so an
  older consumer reads a newer producer's messages.
- What we produce is strict: a model is only built with its declared fields (mypy's
  pydantic plugin with `init_forbid_extra` rejects any other keyword), so nothing unknown
  is ever written.
- Renaming, removing or retyping a field, or making an optional field required, is a
  *major* change: a new model on a new stream (``…v2``), written beside the old one until
  every consumer has moved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
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
DECISION_STREAM = "lagesbild.decisions.v1"  # the meeting's decisions, report-backs, closing
TIB_ORDER_STREAM = "lagesbild.tib.orders.v1"  # patrol orders and their life cycle
PLAN_STREAM = "lagesbild.plans.v1"  # a loaded handlingsplan (cli -> aggregate, archive server)

# ALL_STREAMS (every stream, in the table's order) is derived from STREAM_TABLE below.

# The services (each reads with one consumer group named after it) and the other producers.
INGEST = INGEST_GROUP = "ingest"
AGGREGATE = AGGREGATE_GROUP = "aggregate"
MAPS = MAPS_GROUP = "maps"  # renders and publishes the weeks
INTAKE = INTAKE_GROUP = "intake"
TIB = TIB_GROUP = "tib"
ARCHIVE = ARCHIVE_GROUP = "maps-serve"  # the archive server with the decision page
CLI = "cli"  # the operator's `lagesbild` commands
EXTERNAL = "external"  # any system that XADDs (a guard company's, redis-cli)
GUARD_COMPANY = "guard company"

MAX_DESCRIPTION_CHARS = 2000


def new_message_id() -> str:
    return uuid.uuid4().hex


class _Message(BaseModel):
    # Unknown fields from a newer minor version are ignored when read (see the module).
    model_config = ConfigDict(frozen=True, extra="ignore")


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
    field: str | None = Field(default=None, description="the field the reason names, if one")


class DeadLetterV1(_Message):
    """An internal event a consumer could not use, kept for inspection."""

    message_id: str = Field(default_factory=new_message_id)
    stream: str
    group: str | None = Field(default=None, description="the consumer group that gave up on it")
    entry_id: str
    reason: str
    payload: str
    deliveries: int = 1
    dead_lettered_at: AwareDatetime


class WeekBuildRequestedV1(_Message):
    """Build a week now: the aggregate answers with LagesbildReadyV1 (its `request_id` is this
    message's id) or, for a week it cannot build, a dead letter naming this entry."""

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
    mean_8_weeks: int | None = Field(
        default=None, description="weeks with complete data among the last 8 (what mean_8 is)"
    )
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
    categories: list[str] = Field(
        default_factory=list, description="the activity's category codes (empty: any)"
    )


class PlanGapV1(_Message):
    """A hotspot or rise that no plan activity addresses: a gap in the plan."""

    target: str
    target_name: str
    categories: list[str]


DecisionProgress = Literal["planerad", "pågår", "genomförd", "avbruten"]
DECISION_PROGRESS: tuple[str, ...] = ("planerad", "pågår", "genomförd", "avbruten")


class DecisionReportV1(_Message):
    """A report-back (återrapport) on a decision: when, what was done, by whom."""

    report_id: str = Field(default_factory=new_message_id)
    reported_at: AwareDatetime
    text: str = Field(description="what was done or found")
    by: str = Field(default="", description="who reports (an organisation or a role)")
    progress: DecisionProgress | None = Field(
        default=None, description="the decision's status after this report, if it changed"
    )


class DecisionV1(_Message):
    """A decision of the weekly meeting (also the event on DECISION_STREAM).

    A report-back is the same decision sent again with the new item in `reports` (and its
    status in `progress`); readers keep the union of the reports they heard (by report_id),
    so an event that carries only the newest report loses none."""

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
    owner: str = Field(default="", description="who answers for carrying it out")
    progress: DecisionProgress = Field(
        default="planerad", description="planerad, pågår, genomförd or avbruten"
    )
    reports: list[DecisionReportV1] = Field(
        default_factory=list, description="report-backs (återrapporter), oldest first"
    )


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


class UpcomingPatrolV1(_Message):
    """A patrol the TiB's recommendation proposes for the days until the next meeting."""

    start: AwareDatetime = Field(description="on a quarter hour, Europe/Stockholm")
    end: AwareDatetime
    place: str = Field(description="a real place name where known, else the hotspot or area")
    area: str | None = None
    lat: float
    lon: float
    expected: float = Field(
        description="expected incidents in the window (an expectation, labelled so)"
    )
    reason: str = Field(description="why, in one plain Swedish sentence")


class PromiseStateV1(_Message):
    """A medborgarlöfte of the plan, followed up for the week."""

    promise_id: str
    title: str = Field(description="what was promised")
    places: list[str] = Field(description="place names (or area names) it is about")
    categories: list[str]
    count: int = Field(
        description="counted incidents (shared/counting) at its places and categories this week"
    )
    previous: int | None = Field(
        description="the same for the previous week; None when no comparable history"
    )
    trend: str = Field(description='"ökar", "minskar", "oförändrad", "ny" or "–"')
    done: list[str] = Field(
        default_factory=list,
        description="what was done this period (report-backs, guards' presence), one line each",
    )


class PlanAreaStateV1(_Message):
    """A samverkansområde (the plan's focus area) with this week's state."""

    plan_area_id: str
    name: str
    areas: list[str]
    categories: list[str]
    count: int
    previous: int | None
    trend: str
    hotspots: list[str] = Field(
        default_factory=list, description="this week's hotspot names inside it"
    )
    open_decisions: int = 0


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
    data_from: date | None = Field(
        default=None, description="the kommun's first day with a stored report (Stockholm)"
    )
    reporters_from: dict[str, date] = Field(
        default_factory=dict,
        description=(
            "organisations reporting this week that started (were registered) after data_from,"
            " with that day: comparisons with earlier weeks would be incomplete"
        ),
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
    upcoming_patrols: list[UpcomingPatrolV1] = Field(
        default_factory=list, description="the TiB's recommended patrols until the next meeting"
    )
    promises: list[PromiseStateV1] = Field(
        default_factory=list, description="the plan's medborgarlöften, followed up"
    )
    plan_areas: list[PlanAreaStateV1] = Field(
        default_factory=list, description="the plan's samverkansområden with this week's state"
    )


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
    request_id: str | None = Field(
        default=None, description="the WeekBuildRequestedV1 this answers, if one asked for it"
    )
    new_revision: bool = Field(
        default=True, description="false: the week was unchanged and is announced again"
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


# --- plans (the events on PLAN_STREAM) ----------------------------------------------------


class PlanActivityV1(_Message):
    """One linkable item of a plan (an åtgärd or a medborgarlöfte), as a decision links to it."""

    activity_id: str
    what: str
    focus: str = Field(description="samverkansområde; 'Medborgarlöften' for a promise")
    responsible: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class PlanV1(_Message):
    """A handlingsplan that `lagesbild plan load` checked (docs/plan.md): the TOML text, which
    the aggregate keeps as the plan's next version, and its linkable items parsed (scrubbed
    of personal data) for consumers that do not read TOML (the decision page)."""

    message_id: str = Field(default_factory=new_message_id)
    kommun: str = Field(pattern=r"^\d{4}$")
    plan_id: str = Field(min_length=1, max_length=200)
    title: str
    toml_text: str
    content_hash: str = Field(description="sha256 of toml_text: the same text is one version")
    loaded_at: AwareDatetime
    activities: list[PlanActivityV1] = Field(default_factory=list)


# --- the stream table ----------------------------------------------------------------------
#
# One row per stream: its contract, who writes it, and who reads it with which consumer
# group, handler, batch size and polling interval. Everything else is derived from it:
# `CONSUMER_GROUPS`, each service's subscribers and reclaimers (`shared.streams.register`,
# `shared.streams.reclaimers`), trimming, `lagesbild status`, the AsyncAPI document and the
# generated section of docs/architecture.md (`python -m shared.stream_docs`). To add a
# stream or a consumer, add it here and give the service a settle function of that name.


@dataclass(frozen=True)
class Consumer:
    """A service reading a stream: one consumer group per service (named after it)."""

    service: str
    group: str
    handler: str  # the subscriber's name, and the key of the service's settle function
    batch: int | None = None  # entries per read; None: LAGESBILD_BATCH_SIZE
    polling_ms: int = 100  # XREADGROUP BLOCK


@dataclass(frozen=True)
class StreamSpec:
    name: str
    contract: type[BaseModel]
    producers: tuple[str, ...]
    consumers: tuple[Consumer, ...] = ()
    purpose: str = ""
    raw_accepted: bool = False  # producers may write any payload; the consumer validates it
    runtime_groups: str = ""  # groups added at run time, besides the table's


STREAM_TABLE: tuple[StreamSpec, ...] = (
    StreamSpec(
        REPORTS_STREAM, ReportV1, (INTAKE, CLI, TIB, EXTERNAL),
        (Consumer(INGEST, INGEST_GROUP, "when_reports_arrive_store_and_announce"),),
        "raw submissions from every way in", raw_accepted=True,
    ),
    StreamSpec(
        ACCEPTED_STREAM, AcceptedReportV1, (INGEST,),
        (
            Consumer(AGGREGATE, AGGREGATE_GROUP, "when_reports_are_accepted_count_them"),
            Consumer(TIB, TIB_GROUP, "when_reports_are_accepted_show_them_live"),
            Consumer(INTAKE, INTAKE_GROUP, "when_reports_are_accepted_mark_them_stored",
                     polling_ms=200),
        ),
        "stored, placed and scrubbed reports",
    ),
    StreamSpec(
        REJECTED_STREAM, RejectedReportV1, (INGEST,),
        (Consumer(INTAKE, INTAKE_GROUP, "when_reports_are_rejected_note_why", polling_ms=200),),
        "rejected submissions with a reason (the reports' dead letters)",
    ),
    StreamSpec(
        WEEK_BUILD_STREAM, WeekBuildRequestedV1, (CLI,),
        (Consumer(AGGREGATE, AGGREGATE_GROUP, "when_a_week_is_requested_build_it", 10, 200),),
        "build a week now (`lagesbild week build`)",
    ),
    StreamSpec(
        LAGESBILD_READY_STREAM, LagesbildReadyV1, (AGGREGATE,),
        (
            Consumer(MAPS, MAPS_GROUP, "when_a_lagesbild_is_ready_render_it", 10, 200),
            Consumer(TIB, TIB_GROUP, "when_a_lagesbild_is_ready_keep_the_newest", 10, 200),
        ),
        "a week's frozen snapshot",
    ),
    StreamSpec(
        PUBLISHED_STREAM, LagesbildPublishedV1, (MAPS,), (),
        "a week's pages are published (read without a group by `lagesbild demo`)",
    ),
    StreamSpec(
        DEAD_LETTER_STREAM, DeadLetterV1, (AGGREGATE, MAPS, TIB, INTAKE, ARCHIVE), (),
        "internal events no consumer could use, kept for inspection",
    ),
    StreamSpec(
        NOLLRAPPORT_STREAM, NollrapportV1, (INTAKE,),
        (Consumer(AGGREGATE, AGGREGATE_GROUP, "when_nothing_was_seen_note_the_coverage",
                  polling_ms=500),),
        "nothing to report this week, per organisation and area",
    ),
    StreamSpec(
        DECISION_STREAM, DecisionV1, (CLI, ARCHIVE),
        (
            Consumer(AGGREGATE, AGGREGATE_GROUP, "when_the_meeting_decides_keep_the_decision",
                     polling_ms=500),
            Consumer(TIB, TIB_GROUP, "when_the_meeting_decides_show_the_decision",
                     polling_ms=500),
            Consumer(ARCHIVE, ARCHIVE_GROUP, "when_the_meeting_decides_list_the_decision",
                     polling_ms=200),
        ),
        "the meeting's decisions, their report-backs (återrapporter) and their closing",
    ),
    StreamSpec(
        TIB_ORDER_STREAM, PatrolOrderEventV1, (TIB,),
        (Consumer(AGGREGATE, AGGREGATE_GROUP, "when_guards_check_out_note_where_they_were",
                  polling_ms=500),),
        "patrol orders and their life cycle (the guards' steps come back through the TiB)",
        runtime_groups="one group per guard company, created at its registration",
    ),
    StreamSpec(
        PLAN_STREAM, PlanV1, (CLI,),
        (
            Consumer(AGGREGATE, AGGREGATE_GROUP, "when_a_plan_is_loaded_keep_it", 10, 500),
            Consumer(ARCHIVE, ARCHIVE_GROUP, "when_a_plan_is_loaded_offer_its_activities", 10,
                     500),
        ),
        "a loaded handlingsplan (`lagesbild plan load`)",
    ),
)  # fmt: skip

STREAMS: dict[str, StreamSpec] = {s.name: s for s in STREAM_TABLE}
ALL_STREAMS: tuple[str, ...] = tuple(STREAMS)
# The pipeline from a report to a published week. Their groups are created by every service
# and producer, at the start of the stream ("0"), so what was written before one of them
# first ran is still read. The other services' groups are created when each first starts;
# until then the streams' time retention (LAGESBILD_STREAM_RETENTION_HOURS) keeps entries.
PIPELINE_SERVICES = (INGEST, AGGREGATE, MAPS)
SERVICES = (*PIPELINE_SERVICES, INTAKE, TIB, ARCHIVE)

# Which groups read which stream (guard companies' groups come on top, at run time).
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    s.name: tuple(c.group for c in s.consumers) for s in STREAM_TABLE if s.consumers
}
PIPELINE_GROUPS: dict[str, tuple[str, ...]] = {
    stream: tuple(g for g in groups if g in PIPELINE_SERVICES)
    for stream, groups in CONSUMER_GROUPS.items()
    if any(g in PIPELINE_SERVICES for g in groups)
}


def consumers_of(service: str) -> list[tuple[StreamSpec, Consumer]]:
    """The streams `service` reads, each with its row of the table."""
    return [(s, c) for s in STREAM_TABLE for c in s.consumers if c.service == service]


def groups_of(service: str) -> dict[str, tuple[str, ...]]:
    """stream -> the service's group on it."""
    return {s.name: (c.group,) for s, c in consumers_of(service)}


def groups_to_create(service: str) -> dict[str, tuple[str, ...]]:
    """What a starting service makes sure exists: the pipeline's groups and its own."""
    merged = {stream: list(groups) for stream, groups in PIPELINE_GROUPS.items()}
    for stream, (group,) in groups_of(service).items():
        if group not in merged.setdefault(stream, []):
            merged[stream].append(group)
    return {stream: tuple(groups) for stream, groups in merged.items()}


def guard_company_group(organisation: str) -> str:
    """The consumer group on TIB_ORDER_STREAM through which a guard company receives orders.
    Created when the organisation is marked a guard company (`lagesbild org add …
    --guard-company`, `org guard-company NAME`), destroyed when the mark is removed or the
    organisation revoked; trimming never removes an order that group has not acknowledged."""
    return f"guard:{organisation}"
