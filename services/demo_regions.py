"""The demo as a region: Mjölby (0586) and Eskilstuna (0484) beside Linköping.

Neither has areas of its own in the product, and the project does not draw any for them:
they run as a newly enabled kommun does, on the packaged boundary with every report in
"Övriga kommunen" and hotspots found on the 250 m grid. Their known places are the places
named in their example plans (`plans/mjolby.toml`, `plans/eskilstuna.toml`: approximate
positions written by the project from public sources), imported as the kommun's places
file, so hotspots there are named "Övriga kommunen, vid Gallerian".

Reports are deterministic (``random.Random(seed)``, no clock): evening and weekend-night
disorder at the plans' places, one rising pattern per kommun so the week shows a rise, and
burglaries and thefts spread over the whole kommun (random points inside its boundary).
Volumes are modest and in proportion to the towns' size: about 40 a week in Mjölby and
120 in Eskilstuna.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.demo_data import (
    HourSampler,
    Spot,
    _count,
    _jitter,
    _local_time,
    any_night,
    any_time,
    evening,
    school_afternoon,
    weekend_night,
)
from shared.areas import KommunAreas
from shared.categories import Source
from shared.contracts import ReportV1
from shared.kommun_registry import enable
from shared.places import Place, build_places, write_places
from shared.plan import Plan, parse_plan
from shared.weeks import STOCKHOLM, last_complete_week, shift_week, week_bounds

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parents[1]
ANYWHERE = "*"  # a pattern spot: a random point anywhere in the kommun


@dataclass(frozen=True)
class RegionPattern:
    category: str
    weekly_mean: float | Callable[[int], float]  # (weeks before the last) -> mean
    when: HourSampler
    spots: tuple[str, ...]  # names of the plan's places, or ANYWHERE
    reporters: tuple[tuple[Source, str], ...]
    text: str  # "… vid {place}"
    jitter_m: float = 150.0

    def mean(self, weeks_before: int) -> float:
        m = self.weekly_mean
        return m(weeks_before) if callable(m) else m


def _rising(peak: float, step: float, floor: float) -> Callable[[int], float]:
    return lambda weeks_before: max(floor, peak - step * weeks_before)


@dataclass(frozen=True)
class RegionKommun:
    kommun: str
    plan_file: Path
    seed: int
    patterns: tuple[RegionPattern, ...]


_POLIS_MJ = (Source.POLIS, "Polisen LPO Mjölby")
_NATT_MJ = (Source.NATTVANDRARE, "Nattvandrarna Mjölby")
_FALT_MJ = (Source.FALTSEKRETERARE, "Mjölby kommun fältverksamhet")
_VAKT_MJ = (Source.VAKTARE, "Securitas Mjölby")
_POLIS_ES = (Source.POLIS, "Polisen LPO Eskilstuna")
_NATT_ES = (Source.NATTVANDRARE, "Nattvandrarna Eskilstuna")
_FALT_ES = (Source.FALTSEKRETERARE, "Eskilstuna kommun fältgrupp")
_VAKT_ES = (Source.VAKTARE, "Avarn Security Eskilstuna")
_ORDV_ES = (Source.ORDNINGSVAKT, "Avarn Security Eskilstuna")
_TRAFIK_ES = (Source.KOLLEKTIVTRAFIK, "Länstrafiken Sörmland")

REGION: tuple[RegionKommun, ...] = (
    RegionKommun(
        "0586",
        REPO / "plans" / "mjolby.toml",
        586,
        (
            RegionPattern(
                "ordningsstorning", _rising(12, 2, 3), weekend_night, ("Gästisparken",),
                (_POLIS_MJ, _NATT_MJ), "Ordningsstörning i sällskap vid {place}", 80,
            ),
            RegionPattern(
                "storande_samling", 5, evening, ("Gallerian", "Gästisparken"),
                (_FALT_MJ, _NATT_MJ), "Stökigt ungdomsgäng samlat vid {place}", 80,
            ),
            RegionPattern(
                "buskorning", 5, weekend_night, ("Gallerian",), (_POLIS_MJ,),
                "Mopeder kör i hög fart nära {place}", 500,
            ),
            RegionPattern(
                "klotter", 3, any_night, ("Gallerian",), (_VAKT_MJ,),
                "Nytt klotter på fasaden vid {place}", 150,
            ),
            RegionPattern(
                "otrygg_plats", 2, evening, ("Gästisparken",), (_FALT_MJ,),
                "Mörk gångväg, trasig belysning vid {place}", 200,
            ),
            RegionPattern(
                "inbrott", 4, any_night, (ANYWHERE,), (_POLIS_MJ, _VAKT_MJ),
                "Inbrott i förråd ({place})",
            ),
            RegionPattern(
                "stold", 5, any_time, (ANYWHERE,), (_POLIS_MJ,), "Stöld av cykel ({place})"
            ),
        ),
    ),
    RegionKommun(
        "0484",
        REPO / "plans" / "eskilstuna.toml",
        484,
        (
            RegionPattern(
                "narkotika", _rising(18, 2, 6), school_afternoon,
                ("Fristadstorget", "Eskilstuna central"), (_FALT_ES, _POLIS_ES),
                "Misstänkt langning vid {place}", 60,
            ),
            RegionPattern(
                "vald", 5, weekend_night, ("Fristadstorget",), (_ORDV_ES, _POLIS_ES),
                "Slagsmål mellan två personer vid {place}", 80,
            ),
            RegionPattern(
                "hot", 3, weekend_night, ("Eskilstuna central",), (_TRAFIK_ES, _VAKT_ES),
                "Hot mot personal vid {place}", 80,
            ),
            RegionPattern(
                "ordningsstorning", 20, weekend_night, ("Centrum",), (_ORDV_ES, _POLIS_ES),
                "Berusade personer stör ordningen vid {place}", 350,
            ),
            RegionPattern(
                "storande_samling", 8, evening, ("Centrum", "Eskilstuna central"),
                (_NATT_ES, _FALT_ES), "Störande samling vid {place}", 250,
            ),
            RegionPattern(
                "klotter", 12, any_night, ("Centrum",), (_VAKT_ES,),
                "Taggar i sprayfärg vid {place}", 500,
            ),
            RegionPattern(
                "skadegorelse", 8, any_night, ("Centrum",), (_VAKT_ES, _POLIS_ES),
                "Krossad ruta vid {place}", 500,
            ),
            RegionPattern(
                "otrygg_plats", 5, evening, ("Centrum",), (_NATT_ES,),
                "Otrygg passage utan belysning vid {place}", 400,
            ),
            RegionPattern(
                "inbrott", 12, any_night, (ANYWHERE,), (_POLIS_ES, _VAKT_ES),
                "Inbrott i villa ({place})",
            ),
            RegionPattern(
                "stold", 20, any_time, (ANYWHERE,), (_POLIS_ES,), "Stöld ur bil ({place})"
            ),
        ),
    ),
)  # fmt: skip


def region_plan(region: RegionKommun) -> tuple[Plan, str]:
    text = region.plan_file.read_text(encoding="utf-8")
    return parse_plan(text), text


def plan_places(plan: Plan) -> list[Place]:
    """The places an example plan names, as the kommun's known places (first wins)."""
    from shapely.geometry import Point

    rows: dict[str, dict[str, Any]] = {}
    items = [a for f in plan.focus_areas for a in f.activities] + list(plan.promises)
    for item in items:
        for p in item.places:
            rows.setdefault(
                p.name,
                {
                    "number": len(rows) + 1,
                    "name": p.name,
                    "aliases": "",
                    "geometry": Point(p.lon, p.lat),
                },
            )
    places, problems = build_places(list(rows.values()))
    if problems:  # the plans are ours: a problem is a bug here, not user input
        raise ValueError("; ".join(problems))
    return places


def generate_region_reports(
    region: RegionKommun, areas: KommunAreas, *, weeks: int, end: datetime
) -> list[dict[str, Any]]:
    """ReportV1 payloads for the `weeks` complete ISO weeks ending on or before `end`."""
    if areas.kommun != region.kommun:
        raise ValueError(f"areas of {areas.kommun} given for {region.kommun}")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    spots = {p.name: Spot(p.name, p.lat, p.lon) for p in plan_places(region_plan(region)[0])}
    rng = random.Random(region.seed)
    last = last_complete_week(end)
    reports: list[dict[str, Any]] = []
    for weeks_before in range(weeks - 1, -1, -1):
        iso_week = shift_week(last, -weeks_before)
        monday = week_bounds(iso_week)[0].astimezone(STOCKHOLM)
        events = [
            _event(rng, areas, pattern, spots, monday)
            for pattern in region.patterns
            for _ in range(_count(rng, pattern.mean(weeks_before)))
        ]
        events.sort(key=lambda e: e["occurred_at"])
        reports += [
            ReportV1(
                report_id=f"demo-{region.kommun}-{iso_week}-{n:04d}", kommun=region.kommun, **e
            ).model_dump(mode="json")
            for n, e in enumerate(events, start=1)
        ]
    return reports


def _event(
    rng: random.Random,
    areas: KommunAreas,
    pattern: RegionPattern,
    spots: dict[str, Spot],
    monday: datetime,
) -> dict[str, Any]:
    name = rng.choice(pattern.spots)
    if name == ANYWHERE:
        lat, lon = _anywhere(rng, areas)
        place = "landsbygd och tätorter i kommunen"
    else:
        spot = spots[name]
        lat, lon = _jitter(rng, areas, spot.lat, spot.lon, pattern.jitter_m)
        place = spot.place
    source, organisation = rng.choice(pattern.reporters)
    return {
        "source": source,
        "organisation": organisation,
        "category": pattern.category,
        "occurred_at": _local_time(monday, pattern.when(rng)),
        "lat": lat,
        "lon": lon,
        "description": pattern.text.format(place=place),
    }


def _anywhere(rng: random.Random, areas: KommunAreas) -> tuple[float, float]:
    minx, miny, maxx, maxy = areas.boundary.bounds
    while True:
        lat, lon = round(rng.uniform(miny, maxy), 6), round(rng.uniform(minx, maxx), 6)
        if areas.contains(lat, lon):
            return lat, lon


def enable_region(engine: Engine, areas_dir: Path, now: datetime) -> list[str]:
    """Enable the region's kommuner and give them their plans' places; returns their codes.
    Idempotent: a second demo run changes nothing."""
    for region in REGION:
        enable(engine, region.kommun, by="demo", now=now)
        write_places(areas_dir, region.kommun, plan_places(region_plan(region)[0]), now=now)
    return [r.kommun for r in REGION]
