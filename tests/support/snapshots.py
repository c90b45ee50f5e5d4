"""Snapshot factories shared by the tests: a small hand-drawn kommun ("Testköping", three
areas in a 4 x 3 km box) and weeks with known answers on it.

- `make_areas`, `incident`, `make_snapshot`: the building blocks;
- `small_snapshot`: known answers for the summary and the map;
- `big_snapshot`: 10,000 incidents (size and speed);
- `rich_snapshot`: every analysis layer (statistics, hotspots, plan links and gaps, a
  decision with its follow-up, patrol presence, time profiles, coverage) for the meeting
  pack and the public version;
- `js_text`: how folium embeds a string in a script.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from shared.areas import OTHER_AREA, KommunAreas, parse_area_collection
from shared.categories import DEFAULT_CATEGORIES, Source
from shared.contracts import (
    AreaCount,
    AreaCoverageV1,
    CellStatsV1,
    DecisionV1,
    FollowUpV1,
    HotspotV1,
    IncidentPoint,
    PatrolPresenceV1,
    PlanGapV1,
    PlanLinkV1,
    TimeProfileV1,
    WeekSnapshotV1,
)

# A 4 x 3 km kommun with three named areas; the east strip is "Övriga kommunen".
WEST, EAST, SOUTH, NORTH = 15.55, 15.70, 58.38, 58.44
AREA_BOXES = {
    "Centrum": (15.55, 58.38, 15.60, 58.41),
    "Norr": (15.55, 58.41, 15.60, 58.44),
    "Ryd & <Lambohov>": (15.60, 58.38, 15.65, 58.44),
}
ISO_WEEK, PREVIOUS_WEEK = "2026-W47", "2026-W46"
WEEK_START = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # Monday 16 Nov 00:00 Stockholm


def _box(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_areas() -> KommunAreas:
    features = [
        {
            "type": "Feature",
            "properties": {"kind": "kommun"},
            "geometry": _box(WEST, SOUTH, EAST, NORTH),
        }
    ]
    for name, box in AREA_BOXES.items():
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "area", "name": name},
                "geometry": _box(*box),
            }
        )
    collection = {
        "type": "FeatureCollection",
        "kommun": "0580",
        "kommun_name": "Testköping",
        "features": features,
    }
    return parse_area_collection(collection)


def incident(
    key: str,
    category: str,
    area: str,
    lat: float,
    lon: float,
    *,
    hours: float = 12.0,
    description: str = "",
    source: Source = Source.VAKTARE,
    precision: str = "exact",
) -> IncidentPoint:
    return IncidentPoint(
        key=key,
        category=category,
        source=source,
        occurred_at=WEEK_START + timedelta(hours=hours),
        area=area,
        lat=lat,
        lon=lon,
        location_precision=precision,
        description=description,
    )


def make_snapshot(
    incidents: list[IncidentPoint], cells: list[AreaCount] | None = None
) -> WeekSnapshotV1:
    if cells is None:  # derive this week's counts from the incidents
        counts: dict[tuple[str, str], int] = {}
        for i in incidents:
            counts[(i.area, i.category)] = counts.get((i.area, i.category), 0) + 1
        cells = [
            AreaCount(area=a, category=c, count=n, previous=0)
            for (a, c), n in sorted(counts.items())
        ]
    return WeekSnapshotV1(
        kommun="0580",
        kommun_name="Testköping",
        iso_week=ISO_WEEK,
        previous_week=PREVIOUS_WEEK,
        revision=2,
        content_hash="abc123",
        built_at=datetime(2026, 11, 23, 5, 0, tzinfo=UTC),
        categories=dict(DEFAULT_CATEGORIES),
        areas=[*AREA_BOXES, OTHER_AREA],
        cells=cells,
        incidents=incidents,
    )


def small_snapshot() -> WeekSnapshotV1:
    """Known answers: Centrum 5 (prev 2), Norr 1 (prev 4), Ryd 0 (prev 1), Övriga 1."""
    cells = [
        AreaCount(area="Centrum", category="klotter", count=3, previous=1),
        AreaCount(area="Centrum", category="skadegorelse", count=2, previous=1),
        AreaCount(area="Norr", category="klotter", count=1, previous=4),
        AreaCount(area="Ryd & <Lambohov>", category="ordningsstorning", count=0, previous=1),
        AreaCount(area=OTHER_AREA, category="ordningsstorning", count=1, previous=0),
    ]
    incidents = [
        incident(
            "a/1",
            "klotter",
            "Centrum",
            58.39,
            15.56,
            hours=4 * 24 + 22.25,
            description="Tagg på <b>busskur</b> & vägg",
        ),
        incident("a/2", "klotter", "Centrum", 58.395, 15.57),
        incident("a/3", "klotter", "Centrum", 58.40, 15.58),
        incident("a/4", "skadegorelse", "Centrum", 58.392, 15.575, description="Krossad ruta"),
        incident("a/5", "skadegorelse", "Centrum", 58.398, 15.565),
        incident("a/6", "klotter", "Norr", 58.43, 15.57),
        incident(
            "p/1",
            "ordningsstorning",
            OTHER_AREA,
            58.4123,
            15.6789,
            source=Source.POLIS,
            precision="centroid",
            description="Polisen: bråk i centrala stan",
        ),
    ]
    return make_snapshot(incidents, cells)


def big_snapshot(n: int = 10_000, seed: int = 7) -> WeekSnapshotV1:
    rng = random.Random(seed)
    codes = list(DEFAULT_CATEGORIES)
    names = list(AREA_BOXES)
    incidents = []
    for k in range(n):
        area = names[k % len(names)]
        west, south, east, north = AREA_BOXES[area]
        incidents.append(
            incident(
                f"org/{k}",
                codes[rng.randrange(len(codes))],
                area,
                rng.uniform(south, north),
                rng.uniform(west, east),
                hours=rng.uniform(0, 167.9),
                source=rng.choice(list(Source)),
                precision="centroid" if k % 50 == 0 else "exact",
                description=f"Rapport {k}: klotter på fasad vid busshållplatsen, anmält till ägare",
            )
        )
    return make_snapshot(incidents)


def js_text(text: str) -> str:
    """How folium embeds a string in a script (JSON, non-ASCII and <>&' as \\uXXXX)."""
    escaped = json.dumps(text)[1:-1]
    for char in "<>&'":
        escaped = escaped.replace(char, f"\\u{ord(char):04x}")
    return escaped


# --- the rich week (meeting pack, public version) -----------------------------------

RYD = "Ryd & <Lambohov>"
HOT_CENTRUM, HOT_NORR = "Centrum, norra delen", "Norr, västra delen"
ORGANISATIONS = (
    "Securitas Östgöta",
    "Tekniska förvaltningen",
    "Nattvandrarna Ö-stad",
    "Fältgruppen Väst",
)
DESCRIPTIONS = (
    "Tagg på busskuren vid Stora torget",
    "Sprayade namn på garagedörren",
    "Krossad glasruta i porten",
)
ACTIVITY = "Klottersanering inom 24 timmar"
PATROL_PLACE = "Stora torget, väktarpass"
MEASURE = "Extra nattvandring fredag och lördag"
STATEMENT = "Efter åtgärden 6 rapporter mot 4 före; ingen säker skillnad mot jämförbara platser."


def _ring(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def cell_stat(
    area: str, category: str, count: int, previous: int, mean_8: float, *, alert: bool = False
) -> CellStatsV1:
    change = count - previous
    return CellStatsV1(
        area=area,
        category=category,
        count=count,
        previous=previous,
        mean_8=mean_8,
        mean_52=mean_8 / 2,
        baseline_weeks=52,
        change_vs_previous=change,
        ratio_vs_mean=count / mean_8,
        p_value=0.001 if alert else 0.5,
        q_value=0.01 if alert else 0.9,
        alert=alert,
        text=f"{count} ({change:+d} mot förra veckan)" + (" – ovanligt hög" if alert else ""),
    )


def time_profile(area: str | None, hits: dict[tuple[int, int], int]) -> TimeProfileV1:
    counts = [[hits.get((d, h), 0) for h in range(24)] for d in range(7)]
    return TimeProfileV1(
        area=area, category=None, total=sum(hits.values()), counts=counts, peak="fre 22–23"
    )


def rich_snapshot() -> WeekSnapshotV1:
    """Centrum klotter 6 (prev 1, unusual), Norr skadegörelse 2 (prev 4), Ryd klotter 1,
    one police event at kommun level; two hotspots, one with a plan activity and a
    decision, the other a gap in the plan."""
    incidents = [
        incident(
            f"c/{k}",
            "klotter",
            "Centrum",
            58.398 + k * 2e-4,
            15.57 + k * 2e-4,
            hours=4 * 24 + 22,
            description=DESCRIPTIONS[0] if k == 0 else "",
            source=Source.VAKTARE,
        )
        for k in range(6)
    ]
    incidents += [
        incident("n/1", "skadegorelse", "Norr", 58.43, 15.56, description=DESCRIPTIONS[2]),
        incident("n/2", "skadegorelse", "Norr", 58.431, 15.561),
        incident("r/1", "klotter", RYD, 58.40, 15.63, description=DESCRIPTIONS[1]),
        incident(
            "p/1",
            "ordningsstorning",
            OTHER_AREA,
            58.41,
            15.675,
            source=Source.POLIS,
            precision="centroid",
            description="Polisen: bråk",
        ),
    ]
    cells = [
        AreaCount(area="Centrum", category="klotter", count=6, previous=1),
        AreaCount(area="Norr", category="skadegorelse", count=2, previous=4),
        AreaCount(area=RYD, category="klotter", count=1, previous=0),
        AreaCount(area=OTHER_AREA, category="ordningsstorning", count=1, previous=0),
    ]
    base = make_snapshot(incidents, cells)
    decided = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    return base.model_copy(
        update={
            "stats": [
                cell_stat("Centrum", "klotter", 6, 1, 2.0, alert=True),
                cell_stat("Norr", "skadegorelse", 2, 4, 3.0),
                cell_stat(RYD, "klotter", 1, 0, 0.5),
                cell_stat(OTHER_AREA, "ordningsstorning", 1, 0, 0.5),
            ],
            "hotspots": [
                HotspotV1(
                    name=HOT_CENTRUM,
                    areas=["Centrum"],
                    polygon=_ring(15.565, 58.395, 15.585, 58.405),
                    centroid=(58.40, 15.575),
                    count=6,
                    previous=1,
                    baseline_mean=1.5,
                    categories={"klotter": 6},
                    cells=4,
                    score=5.0,
                    trend="ökar",
                ),
                HotspotV1(
                    name=HOT_NORR,
                    areas=["Norr"],
                    polygon=_ring(15.555, 58.425, 15.565, 58.435),
                    centroid=(58.43, 15.56),
                    count=2,
                    previous=4,
                    baseline_mean=3.0,
                    categories={"skadegorelse": 2},
                    cells=1,
                    score=1.0,
                    trend="minskar",
                ),
            ],
            "plan_links": [
                PlanLinkV1(
                    target=target,
                    target_name=name,
                    plan_id="plan-2026",
                    activity_id="A1",
                    activity=ACTIVITY,
                    focus_area="Trygg stadsmiljö",
                    responsible=[ORGANISATIONS[1]],
                    reasons=["kategori: klotter", "område: Centrum"],
                )
                for target, name in (("hotspot", HOT_CENTRUM), ("rise", "Centrum / Klotter"))
            ],
            "plan_gaps": [
                PlanGapV1(target="hotspot", target_name=HOT_NORR, categories=["skadegorelse"])
            ],
            "open_decisions": [
                DecisionV1(
                    decision_id="D1",
                    kommun="0580",
                    measure=MEASURE,
                    activity_id="A1",
                    target=HOT_CENTRUM,
                    categories=["klotter"],
                    responsible=[ORGANISATIONS[2]],
                    from_week="2026-W45",
                    until_week="2026-W50",
                    decided_at=decided,
                )
            ],
            "followups": [
                FollowUpV1(
                    decision_id="D1",
                    target=HOT_CENTRUM,
                    weeks_before=4,
                    weeks_after=2,
                    before=4,
                    after=6,
                    comparison_before=10,
                    comparison_after=12,
                    ratio=1.2,
                    ratio_low=0.6,
                    ratio_high=2.4,
                    statement=STATEMENT,
                    guard_hours=12.5,
                )
            ],
            "patrol_presence": [
                PatrolPresenceV1(
                    place=PATROL_PLACE,
                    area="Centrum",
                    lat=58.40,
                    lon=15.575,
                    hotspot=HOT_CENTRUM,
                    hours=7.5,
                    visits=3,
                    incident_reports=1,
                    incidents=4,
                    incidents_during=1,
                )
            ],
            "time_profiles": [
                time_profile(None, {(4, 22): 7, (1, 8): 2, (5, 23): 1}),
                time_profile("Centrum", {(4, 22): 6}),
                time_profile("Norr", {(1, 8): 2}),
                time_profile("Centrum", {(4, 22): 6}).model_copy(update={"category": "klotter"}),
            ],
            "coverage": [
                AreaCoverageV1(
                    area="Centrum",
                    reports={ORGANISATIONS[0]: 6},
                    nollrapporter=[],
                    status="rapporterat",
                ),
                AreaCoverageV1(
                    area="Norr", reports={}, nollrapporter=[ORGANISATIONS[3]], status="nollrapport"
                ),
                AreaCoverageV1(area=RYD, reports={}, nollrapporter=[], status="ej rapporterat"),
            ],
        }
    )
