"""Deterministic demo reports for Linköping (0580), with the patterns a real lägesbild shows.

Pure: only ``random.Random(seed)`` is used and the clock is never read, so the same
arguments always give the same reports. The hotspots below lie well inside the areas
of ``shared/data/areas/0580.geojson``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.areas import KommunAreas
from shared.categories import Source
from shared.contracts import ReportV1
from shared.geo import METRES_PER_DEGREE, metres_per_degree_lon
from shared.weeks import STOCKHOLM, iso_week_of, last_complete_week, shift_week, week_bounds

DEMO_KOMMUN = "0580"
DUPLICATE_SHARE = 0.03
PERSONAL_DATA_SHARE = 0.02
_HOURS_PER_WEEK = 7 * 24

Reporter = tuple[Source, str]
HourSampler = Callable[[random.Random], float]  # hours after Monday 00:00, local time
WeeklyMean = Callable[[int, date], float]  # (weeks before the last, Monday) -> expected count


@dataclass(frozen=True)
class Spot:
    place: str  # Swedish, reads after "vid"
    lat: float
    lon: float


# --- where -----------------------------------------------------------------------
CITY_NIGHTLIFE = (
    Spot("Stora torget", 58.4108, 15.6214),
    Spot("Ågatan", 58.4095, 15.6265),
    Spot("Trädgårdstorget", 58.4122, 15.6172),
)
RESECENTRUM = Spot("Resecentrum", 58.4155, 15.6245)
SKAGGETORP_C = Spot("Skäggetorps centrum", 58.4245, 15.5815)
RYD_C = Spot("Ryds centrum", 58.4070, 15.5610)
BERGA_C = Spot("Berga centrum", 58.3905, 15.6390)
LAMBOHOV_C = Spot("Lambohovs centrum", 58.3800, 15.5700)
# Fixed klotter spots: the same school, underpass and bus stop are hit week after week.
SKAGGETORP_TAG_SPOTS = (
    Spot("Skäggetorpsskolan", 58.4268, 15.5765),
    Spot("gångtunneln vid Skäggetorps centrum", 58.4232, 15.5850),
    Spot("busshållplatsen Skäggetorps centrum", 58.4252, 15.5798),
)
RYD_TAG_SPOTS = (
    Spot("skolan i Ryd", 58.4115, 15.5560),
    Spot("gångtunneln vid Rydsvägen", 58.4095, 15.5700),
    Spot("busshållplatsen Ryds centrum", 58.4075, 15.5628),
)
CENTRES = (
    SKAGGETORP_C,
    RYD_C,
    BERGA_C,
    LAMBOHOV_C,
    Spot("Ekholmens centrum", 58.3890, 15.5990),
    Spot("Johannelund", 58.4255, 15.6170),
    Spot("Gottfridsberg", 58.4115, 15.5870),
    Spot("Vasastaden", 58.4095, 15.6015),
    Spot("Tannefors", 58.4080, 15.6500),
    Spot("Campus Valla", 58.3975, 15.5790),
    Spot("Hjulsbro", 58.3700, 15.6470),
    Spot("Malmslätts centrum", 58.4175, 15.5120),
    Spot("Tornby köpcentrum", 58.4370, 15.5860),
)
# Outside every named area, so "Övriga kommunen" shows up.
COUNTRYSIDE = (
    Spot("Ljungsbro centrum", 58.5080, 15.5000),
    Spot("infarten till Sturefors", 58.3330, 15.7300),
    Spot("Linghems station", 58.4340, 15.7870),
    Spot("Vikingstads station", 58.3850, 15.4300),
)

# --- who -------------------------------------------------------------------------
SECURITAS: Reporter = (Source.VAKTARE, "Securitas Linköping")
AVARN: Reporter = (Source.VAKTARE, "Avarn Security Linköping")
ORDNINGSVAKT: Reporter = (Source.ORDNINGSVAKT, "Securitas Linköping")
FALTGRUPP: Reporter = (Source.FALTSEKRETERARE, "Linköpings kommun fältgrupp")
BROBYGGARE: Reporter = (Source.BROBYGGARE, "Linköpings kommun brobyggare")
NATT_CITY: Reporter = (Source.NATTVANDRARE, "Nattvandrarna Linköping")
NATT_SKAGGETORP: Reporter = (Source.NATTVANDRARE, "Nattvandrarna Skäggetorp")
NATT_RYD: Reporter = (Source.NATTVANDRARE, "Nattvandrarna Ryd")
POLIS: Reporter = (Source.POLIS, "Polisen LPO Linköping")
STANGASTADEN: Reporter = (Source.FASTIGHETSAGARE, "Stångåstaden")
OSTGOTATRAFIKEN: Reporter = (Source.KOLLEKTIVTRAFIK, "Östgötatrafiken")
GATUKONTORET: Reporter = (Source.OVRIG, "Linköpings kommun gatukontoret")
# Who files the second report of something already reported: anyone out and about.
ECHO_REPORTERS = (POLIS, AVARN, NATT_CITY, FALTGRUPP)

# --- what ------------------------------------------------------------------------
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "klotter": (
        "Klotter på busskur vid {place}",
        "Nytt klotter på fasaden vid {place}",
        "Taggar i svart sprayfärg vid {place}",
        "Klotter på elskåp vid {place}",
    ),
    "skadegorelse": (
        "Krossad glasruta i busskur vid {place}",
        "Sönderslagen belysning vid {place}",
        "Skadad entrédörr vid {place}",
        "Trasig bänk och vält papperskorg vid {place}",
    ),
    "nedskrapning": (
        "Mycket skräp och glasflaskor vid {place}",
        "Nedskräpning runt återvinningsstationen vid {place}",
        "Överfulla papperskorgar vid {place}",
    ),
    "brand": (
        "Brand i soptunna vid {place}, släckt av räddningstjänsten",
        "Containerbrand vid {place}",
        "Anlagd brand i papperskorg vid {place}",
    ),
    "ordningsstorning": (
        "Berusade personer bråkar vid {place}",
        "Högljutt sällskap stör boende vid {place}",
        "Bråk i kön utanför krog vid {place}",
        "Person avvisad efter att ha stört ordningen vid {place}",
    ),
    "storande_samling": (
        "Grupp om 10–15 ungdomar samlas och stör vid {place}",
        "Större samling ungdomar vid {place}, hög ljudnivå",
        "Ungdomar samlas och kastar saker vid {place}",
    ),
    "narkotika": (
        "Misstänkt langning vid {place}",
        "Stark lukt av cannabis vid {place}",
        "Ungdomar misstänks sälja narkotika vid {place}",
    ),
    "vald": (
        "Slagsmål mellan två personer vid {place}",
        "Person slagen i ansiktet vid {place}",
        "Misshandel utanför nattklubb vid {place}",
    ),
    "hot": (
        "Person hotar förbipasserande vid {place}",
        "Hotfull stämning mellan två grupper vid {place}",
        "Hot mot person i kö vid {place}",
    ),
    "inbrott": (
        "Inbrott i förråd vid {place}",
        "Uppbruten källardörr vid {place}",
        "Inbrott i bil vid {place}",
        "Försök till inbrott i butik vid {place}",
    ),
    "stold": (
        "Cykelstöld vid {place}",
        "Stöld ur bil vid {place}",
        "Snatteri i butik vid {place}",
        "Stulen moped vid {place}",
    ),
    "buskorning": (
        "Mopeder kör på gång- och cykelvägen vid {place}",
        "Buskörning med crossmotorcyklar vid {place}",
        "EPA-traktorer kör i hög fart vid {place}",
    ),
    "otrygg_plats": (
        "Trasig belysning på gångvägen vid {place}",
        "Skymmande buskage vid {place}, upplevs otryggt",
        "Mörk passage vid {place}, boende oroliga",
    ),
    "hot_vald_personal": (
        "Busschaufför hotad vid {place}",
        "Väktare knuffad vid {place}",
        "Personal hotad av berusad person vid {place}",
    ),
    "ovrigt": (
        "Övergiven cykel vid {place}",
        "Lös hund vid {place}",
        "Upphittat föremål vid {place}, överlämnat",
    ),
}
# Fake personal data, so the ingest scrubbing has something to remove.
# The first is a personnummer so every week has at least one.
PERSONAL_DATA = (
    "Inblandad person uppgav personnummer 19900101-1234.",
    "Anmälaren kan nås på 070-123 45 67.",
    "En bil med registreringsnummer ABC 123 lämnade platsen.",
    "Person med personnummer 19850615-5678 omhändertogs.",
)


# --- when ------------------------------------------------------------------------
def weekend_night(rng: random.Random) -> float:
    """Friday or Saturday 20:00–03:00."""
    return rng.choice((4, 5)) * 24 + 20 + rng.uniform(0, 7)


def any_night(rng: random.Random) -> float:
    """22:00–05:00 any night (Sunday night wraps to the same week's Monday morning)."""
    return rng.randrange(7) * 24 + 22 + rng.uniform(0, 7)


def school_afternoon(rng: random.Random) -> float:
    """Monday–Friday 14:00–18:00."""
    return rng.randrange(5) * 24 + 14 + rng.uniform(0, 4)


def evening(rng: random.Random) -> float:
    return rng.randrange(7) * 24 + 17 + rng.uniform(0, 6)


def daytime(rng: random.Random) -> float:
    return rng.randrange(7) * 24 + 8 + rng.uniform(0, 10)


def any_time(rng: random.Random) -> float:
    return rng.uniform(0, _HOURS_PER_WEEK)


def rising_to(peak: float, step: float, floor: float) -> WeeklyMean:
    """Flat at `floor`, then up by `step` a week to `peak` in the last week generated.

    Counted back from the last week, so the rise shows however many weeks are asked for.
    """
    return lambda weeks_before, monday: max(floor, peak - step * weeks_before)


def only_in(weeks_before: int, mean: float) -> WeeklyMean:
    """A planted rise: `mean` events in one week (counted back from the last), none else."""
    return lambda wb, monday: mean if wb == weeks_before else 0.0


def summer(high: float, low: float) -> WeeklyMean:
    return lambda weeks_before, monday: high if 5 <= monday.month <= 8 else low


@dataclass(frozen=True)
class Pattern:
    category: str
    weekly_mean: float | WeeklyMean
    when: HourSampler
    spots: tuple[Spot, ...]
    reporters: tuple[Reporter, ...]
    jitter_m: float = 100.0

    def mean(self, weeks_before: int, monday: date) -> float:
        m = self.weekly_mean
        return m(weeks_before, monday) if callable(m) else m


# Background spread over the neighbourhood rather than at one spot (metres, one sigma): it
# fills the areas' counts without making every centre a hotspot (the pack shows at most a
# few, where reports really concentrate).
SPREAD = 600.0
CITY_PATROL = (ORDNINGSVAKT, POLIS, NATT_CITY)
NIGHT_PATROL = (POLIS, SECURITAS, AVARN)
PROPERTY_OWNERS = (STANGASTADEN, OSTGOTATRAFIKEN, SECURITAS)
YOUTH_WORKERS = (FALTGRUPP, POLIS, BROBYGGARE)
EVENING_WALKERS = (FALTGRUPP, NATT_SKAGGETORP, NATT_RYD)
CARETAKERS = (STANGASTADEN, GATUKONTORET, SECURITAS)
YOUTH_CENTRES = (SKAGGETORP_C, RYD_C)
CITY_CENTRE = (*CITY_NIGHTLIFE, RESECENTRUM)

PATTERNS = (
    # Nightlife in the city centre peaks on Friday and Saturday nights...
    Pattern("ordningsstorning", 24, weekend_night, CITY_NIGHTLIFE, CITY_PATROL),
    Pattern("storande_samling", 9, weekend_night, CITY_NIGHTLIFE, CITY_PATROL),
    Pattern("vald", 7, weekend_night, CITY_NIGHTLIFE, (ORDNINGSVAKT, POLIS)),
    Pattern("hot", 5, weekend_night, CITY_NIGHTLIFE, (ORDNINGSVAKT, POLIS)),
    # ...over a background the rest of the week, so the peak is a peak.
    Pattern("ordningsstorning", 6, any_time, CITY_CENTRE, (SECURITAS, POLIS)),
    Pattern("ordningsstorning", 10, evening, CENTRES, (AVARN, POLIS, NATT_SKAGGETORP), SPREAD),
    # Klotter keeps returning to the same spots: rising in Skäggetorp, steady in Ryd.
    Pattern("klotter", rising_to(25, 3, 4), any_night, SKAGGETORP_TAG_SPOTS, PROPERTY_OWNERS, 40),
    Pattern("klotter", 6, any_night, RYD_TAG_SPOTS, PROPERTY_OWNERS, 40),
    Pattern(
        "skadegorelse", 8, any_night, SKAGGETORP_TAG_SPOTS + RYD_TAG_SPOTS, PROPERTY_OWNERS, 40
    ),
    Pattern("klotter", 10, daytime, CENTRES[2:], CARETAKERS, SPREAD),
    # School-day afternoons at the two centres where youths gather.
    Pattern("narkotika", 14, school_afternoon, YOUTH_CENTRES, YOUTH_WORKERS),
    Pattern("storande_samling", 11, school_afternoon, YOUTH_CENTRES, YOUTH_WORKERS),
    # Spread over the whole kommun, at night.
    Pattern("inbrott", 15, any_night, CENTRES + COUNTRYSIDE, NIGHT_PATROL, SPREAD),
    Pattern("stold", 20, any_night, CENTRES + CITY_CENTRE + COUNTRYSIDE, NIGHT_PATROL, SPREAD),
    Pattern("buskorning", summer(16, 2), evening, (BERGA_C, LAMBOHOV_C), YOUTH_WORKERS, 150),
    Pattern("otrygg_plats", 10, evening, CENTRES, EVENING_WALKERS, SPREAD),
    Pattern("nedskrapning", 15, daytime, CENTRES + CITY_NIGHTLIFE, CARETAKERS, SPREAD),
    Pattern("skadegorelse", 4, any_time, COUNTRYSIDE, (POLIS, GATUKONTORET), SPREAD),
    Pattern("nedskrapning", 4, daytime, COUNTRYSIDE, (GATUKONTORET,), SPREAD),
    Pattern("brand", 3, any_night, (SKAGGETORP_C, RYD_C, BERGA_C), NIGHT_PATROL),
    Pattern("hot_vald_personal", 3, evening, (RESECENTRUM, SKAGGETORP_C), (OSTGOTATRAFIKEN, AVARN)),
    Pattern("ovrigt", 3, daytime, CENTRES, CARETAKERS, SPREAD),
)

# Honest rises for the meeting pack: in the last two weeks one area × category cell each
# jumps far above its own history, so the week's test (negative binomial + BH,
# services/aggregate/analysis.py) flags it: skadegörelse at Skäggetorps centrum the week
# before last (the plan's medborgarlöfte for Skäggetorp), störande samlingar at Resecentrum
# in the last week (the plan's "Polisnärvaro vid resecentrum"). Drawn from their own random
# stream (`_planted`), so the rest of the demo stays as it was.
PLANTED = (
    Pattern("skadegorelse", only_in(1, 12), evening, (SKAGGETORP_C,), CARETAKERS, 60),
    Pattern("storande_samling", only_in(0, 15), evening, (RESECENTRUM,),
            (OSTGOTATRAFIKEN, AVARN, POLIS), 60),
)  # fmt: skip


# --- generation ------------------------------------------------------------------
def generate_demo_reports(
    kommun_areas: KommunAreas, *, weeks: int, end: datetime, seed: int = 580
) -> list[dict[str, Any]]:
    """ReportV1 payloads for the `weeks` complete ISO weeks ending on or before `end`."""
    if kommun_areas.kommun != DEMO_KOMMUN:
        raise ValueError(f"demo reports exist only for kommun {DEMO_KOMMUN}")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    rng = random.Random(seed)
    last = last_complete_week(end)  # also rejects a naive `end`
    reports: list[dict[str, Any]] = []
    for weeks_before in range(weeks - 1, -1, -1):
        iso_week = shift_week(last, -weeks_before)
        reports += _week_reports(rng, kommun_areas, iso_week, weeks_before)
    return reports


def write_jsonl(reports: list[dict[str, Any]], path: Path) -> int:
    """Write one JSON object per line; returns the number written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for report in reports:
            out.write(json.dumps(report, ensure_ascii=False) + "\n")
    return len(reports)


def _week_reports(
    rng: random.Random, areas: KommunAreas, iso_week: str, weeks_before: int
) -> list[dict[str, Any]]:
    monday = week_bounds(iso_week)[0].astimezone(STOCKHOLM)
    events = [
        _event(rng, areas, pattern, monday)
        for pattern in PATTERNS
        for _ in range(_count(rng, pattern.mean(weeks_before, monday.date())))
    ]
    events += [_echo(rng, areas, e) for e in _sample_share(rng, events, DUPLICATE_SHARE)]
    for i, event in enumerate(_sample_share(rng, events, PERSONAL_DATA_SHARE)):
        event["description"] += ". " + PERSONAL_DATA[i % len(PERSONAL_DATA)]
    events += _planted(areas, iso_week, weeks_before, monday)
    events.sort(key=lambda e: e["occurred_at"])
    return [
        ReportV1(
            report_id=f"demo-{iso_week}-{n:04d}",
            kommun=areas.kommun,
            **{k: v for k, v in event.items() if k != "place"},
        ).model_dump(mode="json")
        for n, event in enumerate(events, start=1)
    ]


def _planted(
    areas: KommunAreas, iso_week: str, weeks_before: int, monday: datetime
) -> list[dict[str, Any]]:
    rng = random.Random(f"planted-{iso_week}")  # a str seed is stable across runs
    return [
        _event(rng, areas, pattern, monday)
        for pattern in PLANTED
        for _ in range(_count(rng, pattern.mean(weeks_before, monday.date())))
    ]


def _count(rng: random.Random, mean: float) -> int:
    # Modest noise: the weekly shape (and the Skäggetorp trend) must stay visible.
    return max(0, round(mean * rng.uniform(0.85, 1.15)))


def _sample_share(rng: random.Random, events: list[dict], share: float) -> list[dict]:
    return rng.sample(events, k=min(len(events), max(1, round(len(events) * share))))


def _event(
    rng: random.Random, areas: KommunAreas, pattern: Pattern, monday: datetime
) -> dict[str, Any]:
    spot = rng.choice(pattern.spots)
    source, organisation = rng.choice(pattern.reporters)
    lat, lon = _jitter(rng, areas, spot.lat, spot.lon, pattern.jitter_m)
    return {
        "source": source,
        "organisation": organisation,
        "category": pattern.category,
        "occurred_at": _local_time(monday, pattern.when(rng)),
        "lat": lat,
        "lon": lon,
        "description": _describe(rng, pattern.category, spot.place),
        "place": spot.place,
    }


def _echo(rng: random.Random, areas: KommunAreas, original: dict[str, Any]) -> dict[str, Any]:
    """The same incident reported again by someone else: ~20 m and a few minutes apart."""
    source, organisation = rng.choice(
        [r for r in ECHO_REPORTERS if r[1] != original["organisation"]]
    )
    occurred = original["occurred_at"]
    later = _shift(occurred, rng.randint(2, 20))
    # Stay in the original's week: that is where a duplicate has to be found.
    if iso_week_of(later) != iso_week_of(occurred):
        later = _shift(occurred, -rng.randint(2, 20))
    bearing, distance = rng.uniform(0, 2 * math.pi), rng.uniform(5, 25)
    lat, lon = _offset(
        original["lat"], original["lon"], distance * math.cos(bearing), distance * math.sin(bearing)
    )
    if not areas.contains(lat, lon):
        lat, lon = original["lat"], original["lon"]
    return {
        **original,
        "source": source,
        "organisation": organisation,
        "occurred_at": later,
        "lat": lat,
        "lon": lon,
        "description": _describe(rng, original["category"], original["place"]),
    }


def _describe(rng: random.Random, category: str, place: str) -> str:
    return rng.choice(DESCRIPTIONS[category]).format(place=place)


def _jitter(
    rng: random.Random, areas: KommunAreas, lat: float, lon: float, sigma_m: float
) -> tuple[float, float]:
    """A gaussian scatter around a spot, re-drawn until it lies inside the kommun."""
    for _ in range(100):
        point = _offset(lat, lon, rng.gauss(0, sigma_m), rng.gauss(0, sigma_m))
        if areas.contains(*point):
            return point
    raise ValueError(f"spot {lat},{lon} is not inside kommun {areas.kommun}")


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = north_m / METRES_PER_DEGREE
    dlon = east_m / metres_per_degree_lon(lat)
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _local_time(monday: datetime, hours: float) -> datetime:
    """Wall-clock time `hours` after Monday 00:00 Stockholm, wrapped into the same week."""
    wall = monday + timedelta(minutes=int(hours % _HOURS_PER_WEEK * 60))
    # The UTC round trip fixes the offset and moves times that DST skips past the gap.
    return wall.astimezone(UTC).astimezone(STOCKHOLM)


def _shift(moment: datetime, minutes: int) -> datetime:
    return (moment.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(STOCKHOLM)
