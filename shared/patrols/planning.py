"""From the lägesbild, the last weeks' reports and the meeting's decisions to candidate
places with hourly rates, and from visits to one-line reasons in Swedish. Pure, no I/O.

A hotspot's rate for a local weekday × hour is the mean of two estimates:

* the level: the hotspot's expected count (the mean of its count and its baseline, when it
  has one) spread over the week by the weekday × hour profile of its areas (else of the kommun),
* the history: the reports of the last `history_weeks` weeks within `radius_m` of its
  centre at that weekday and hour, divided by the number of weeks.

Without stored history (a fresh TiB) the level alone is used. A place with an open
decision of the meeting (its name or one of its areas is the decision's target) gets
`decision_weight`; an area with an open decision but no hotspot becomes a place too.
(The level is not the aggregate's next-week forecast, `services/aggregate/forecast.py`.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from shared.contracts import DecisionV1, HotspotV1, TimeProfileV1, WeekSnapshotV1
from shared.counting import HANDELSE
from shared.formats import number_sv
from shared.geo import distance_m
from shared.patrols.allocation import (
    HOUR,
    Constraints,
    Place,
    Rates,
    Visit,
    allocate,
    flat_rates,
)
from shared.weeks import STOCKHOLM, parse_week

DAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
DAYS_PLURAL = (
    "måndagarna", "tisdagarna", "onsdagarna", "torsdagarna", "fredagarna", "lördagarna",
    "söndagarna",
)  # fmt: skip
DAYS_DEFINITE = (
    "måndagen", "tisdagen", "onsdagen", "torsdagen", "fredagen", "lördagen", "söndagen",
)  # fmt: skip
PLURALS = {
    "klotter": "klotter",
    "skadegorelse": "skadegörelser",
    "nedskrapning": "nedskräpningar",
    "brand": "bränder",
    "ordningsstorning": "ordningsstörningar",
    "storande_samling": "störande samlingar",
    "narkotika": "narkotikahändelser",
    "vald": "våldshändelser",
    "hot": "hot",
    "inbrott": "inbrott",
    "stold": "stölder",
    "buskorning": "buskörningar",
    "otrygg_plats": "otrygga platser",
    "hot_vald_personal": "hot/våld mot personal",
}


@dataclass(frozen=True)
class Seen:
    """A stored accepted report, as the patrol plan needs it."""

    occurred_at: datetime
    category: str
    lat: float
    lon: float
    area: str


@dataclass(frozen=True)
class Candidate:
    place: Place
    history: tuple[Seen, ...]  # reports near the place, for the reason
    level: int  # the expected händelser per week (a modelled value, never shown as a count)
    top_category: str | None
    decision: str = ""  # the open decision's measure
    observed: int | None = None  # the händelser the lägesbild counted there (the count)


def _area_profile(profiles: Sequence[TimeProfileV1], areas: Sequence[str]) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    chosen = [p for p in profiles if p.category is None and p.area in areas]
    chosen = chosen or [p for p in profiles if p.category is None and p.area is None]
    for p in chosen:
        for d in range(7):
            for h in range(24):
                grid[d][h] += p.counts[d][h]
    return grid


def level_rates(level: float, profile: list[list[int]]) -> Rates:
    total = sum(map(sum, profile))
    if total == 0:
        return flat_rates(level / (7 * 24))
    return tuple(tuple(level * c / total for c in row) for row in profile)


def history_rates(seen: Sequence[Seen], weeks: int) -> Rates:
    grid = [[0.0] * 24 for _ in range(7)]
    for s in seen:
        local = s.occurred_at.astimezone(STOCKHOLM)
        grid[local.weekday()][local.hour] += 1 / weeks
    return tuple(tuple(row) for row in grid)


def _mean(a: Rates, b: Rates) -> Rates:
    return tuple(
        tuple((x + y) / 2 for x, y in zip(ra, rb, strict=True)) for ra, rb in zip(a, b, strict=True)
    )


@dataclass(frozen=True)
class _Inputs:
    snapshot: WeekSnapshotV1
    history: Sequence[Seen]
    history_weeks: int
    radius_m: float

    def candidate(
        self, name: str, centre: tuple[float, float], areas: list[str], level: float,
        categories: Mapping[str, int], observed: int | None = None,
    ) -> Candidate:  # fmt: skip
        near = tuple(s for s in self.history if distance_m(*centre, s.lat, s.lon) <= self.radius_m)
        rates = level_rates(level, _area_profile(self.snapshot.time_profiles, areas))
        if self.history_weeks > 0:
            rates = _mean(rates, history_rates(near, self.history_weeks))
        top = max(categories.items(), key=lambda kv: (kv[1], kv[0]))[0] if categories else None
        place = Place(name, centre[0], centre[1], rates, area=areas[0] if areas else None)
        return Candidate(place, near, round(level), top, observed=observed)


def _level(h: HotspotV1) -> float:
    return (h.count + h.baseline_mean) / 2 if h.baseline_mean is not None else float(h.count)


def candidates(
    snapshot: WeekSnapshotV1,
    history: Sequence[Seen],
    history_weeks: int,
    decisions: Sequence[DecisionV1],
    area_centres: Mapping[str, tuple[float, float]] | None = None,
    decision_weight: float = 1.5,
    radius_m: float = 400.0,
) -> list[Candidate]:
    """The snapshot's hotspots (and areas with an open decision) as weighted places."""
    inputs = _Inputs(snapshot, history, history_weeks, radius_m)
    out = [
        inputs.candidate(h.name, h.centroid, h.areas, _level(h), h.categories, h.count)
        for h in snapshot.hotspots
    ]
    open_decisions = [d for d in decisions if d.status == "open" and d.kommun == snapshot.kommun]
    centres = area_centres or {}
    for d in open_decisions:
        if d.target in centres and d.target not in {c.place.name for c in out}:
            cells = {c.category: c.count for c in snapshot.cells if c.area == d.target}
            level = sum(cells.values())
            out.append(
                inputs.candidate(d.target, centres[d.target], [d.target], level, cells, level)
            )
    return [_weighted(c, open_decisions, decision_weight) for c in out]


def _weighted(c: Candidate, decisions: Sequence[DecisionV1], weight: float) -> Candidate:
    targets = {c.place.name, c.place.area}
    hit = next((d for d in decisions if d.target in targets), None)
    if hit is None:
        return c
    return replace(c, place=replace(c.place, weight=weight), decision=hit.measure)


# --- reasons -------------------------------------------------------------------------


def _clock(moment: datetime) -> str:
    local = moment.astimezone(STOCKHOLM)
    return f"{local:%H}" if local.minute == 0 else f"{local:%H:%M}"


def explain(
    visit: Visit, c: Candidate, history_weeks: int, labels: Mapping[str, str], iso_week: str
) -> str:
    """E.g. "Skäggetorps centrum fre 21–01: 9 ordningsstörningar senaste 4 fredagarna"."""
    local = visit.start.astimezone(STOCKHOLM)
    head = f"{visit.place} {DAYS[local.weekday()]} {_clock(visit.start)}–{_clock(visit.end)}"
    slots = _slots(visit)
    seen = Counter(s.category for s in c.history if _slot(s.occurred_at) in slots)
    if seen and history_weeks > 0:
        category, n = max(seen.items(), key=lambda kv: (kv[1], kv[0]))
        what = _plural(category, n, labels)
        day = local.weekday()
        when = DAYS_DEFINITE[day] if history_weeks == 1 else f"{history_weeks} {DAYS_PLURAL[day]}"
        text = f"{head}: {n} {what} senaste {when}"
    else:
        # the level is modelled (the mean of the count and its baseline): named as expected,
        # with the lägesbild's count beside it, never as a count itself
        text = f"{head}: {expected_text(c.level)} i veckan"
        if c.observed is not None:
            text += f" ({number_sv(c.observed)} i lägesbilden {_week_name(iso_week)})"
        if c.top_category:
            text += f", mest {labels.get(c.top_category, c.top_category).lower()}"
    if c.decision:
        text += f"; mötets beslut: {c.decision}"
    return text


def _week_name(iso_week: str) -> str:
    try:
        return f"vecka {parse_week(iso_week)[1]}"
    except ValueError:
        return iso_week


def expected_text(level: float) -> str:
    """A modelled value in words: "väntat ca 35 händelser"."""
    return f"väntat ca {number_sv(round(level))} {HANDELSE.plural}"


def _plural(category: str, n: int, labels: Mapping[str, str]) -> str:
    label = labels.get(category, category).lower()
    return label if n == 1 else PLURALS.get(category, label)


def _slot(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(STOCKHOLM)
    return local.weekday(), local.hour


def _slots(visit: Visit) -> set[tuple[int, int]]:
    """The local (weekday, hour) slots the visit touches."""
    slots, t = set(), visit.start.astimezone(UTC)
    while t < visit.end:
        slots.add(_slot(t))
        t = t.replace(minute=0, second=0, microsecond=0) + HOUR
    return slots


def recommend(
    cands: Sequence[Candidate],
    start: datetime,
    hours: float,
    patrols: int,
    constraints: Constraints,
    history_weeks: int,
    labels: Mapping[str, str],
    iso_week: str,
) -> list[Visit]:
    """The allocation of `allocation.allocate`, each visit with its reason."""
    by_name = {c.place.name: c for c in cands}
    visits = allocate([c.place for c in cands], start, hours, patrols, constraints)
    return [
        replace(v, reason=explain(v, by_name[v.place], history_weeks, labels, iso_week))
        for v in visits
    ]
