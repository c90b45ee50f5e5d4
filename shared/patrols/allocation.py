"""Where and when to patrol: a greedy allocation of guard hours to places. Pure, no I/O.

Each place has an expected number of incidents per hour for every local weekday × hour
(see `planning.py` for where those rates come from) and a priority weight (an open
decision of the meeting raises it). Patrols are handed out in blocks of the minimum visit
length, always to the patrol whose clock is earliest:

* for every place the block would start after the travel from where the patrol is
  (straight-line distance at `speed_kmh`; a patrol starts its shift at its first place),
  or, when no place is worth a visit now, up to three hours later in 15-minute steps
  (waiting for a busier hour),
* its value is weight × the expected incidents in the block, divided by the hours it
  costs (travel + waiting + visit): incidents per hour; a block that overlaps a visit
  already planned at the place is worth nothing (one patrol at a place at a time),
* a place may take at most `max_share` of all patrol hours (but always one block), and a
  block must end within the window; the best block wins (ties: the earlier place).

Every visit starts and ends on a quarter hour (:00, :15, :30, :45 Stockholm time): the
window's start and each arrival are rounded up to the next quarter, and the visit length up
to whole quarters, so a guard is told "21:15–22:15", never "21:07–22:07".

A patrol with nothing of value within reach waits where it is; hours nothing of value
can fill stay free. Blocks at the same place that follow each other become one visit.
Greedy is not optimal, but it is predictable, explainable in one line per visit, and fast
enough to run on every request.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from shared.geo import distance_m
from shared.weeks import STOCKHOLM

Rates = tuple[tuple[float, ...], ...]  # 7 × 24 expected incidents per hour, Monday first
HOUR = timedelta(hours=1)
WAIT_STEP = timedelta(minutes=15)
LOOKAHEAD = timedelta(hours=3)  # how long a patrol may wait for a busier hour


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    rates: Rates
    weight: float = 1.0
    area: str | None = None


@dataclass(frozen=True)
class Constraints:
    min_visit_minutes: int = 60
    speed_kmh: float = 25.0  # by car in town, parking included
    max_share: float = 0.5  # of all patrol hours in the window, per place


DEFAULT_CONSTRAINTS = Constraints()


@dataclass(frozen=True)
class Visit:
    patrol: int  # 1-based
    place: str
    lat: float
    lon: float
    start: datetime
    end: datetime
    expected: float  # expected incidents during the visit (weight not applied)
    reason: str = ""
    area: str | None = None


QUARTER = timedelta(minutes=15)


def ceil_quarter(moment: datetime) -> datetime:
    """The first quarter hour at or after `moment`, as a UTC time. Stockholm's offset from
    UTC is whole hours, so a UTC quarter hour is a Stockholm quarter hour."""
    moment = moment.astimezone(UTC)
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + QUARTER


def flat_rates(per_hour: float) -> Rates:
    return tuple(tuple(per_hour for _ in range(24)) for _ in range(7))


def travel_minutes(a: Place, b: Place, speed_kmh: float) -> int:
    if a.name == b.name:
        return 0
    metres = distance_m(a.lat, a.lon, b.lat, b.lon)
    return math.ceil(metres / (speed_kmh * 1000 / 60))


def expected_between(rates: Rates, start: datetime, end: datetime) -> float:
    """Expected incidents in [start, end): each local hour's rate times the part of it
    covered. Stockholm's offset is whole hours, so UTC hour steps are local hour steps."""
    total, t = 0.0, start.astimezone(UTC)
    end = end.astimezone(UTC)
    while t < end:
        step = min(t.replace(minute=0, second=0, microsecond=0) + HOUR, end)
        local = t.astimezone(STOCKHOLM)
        total += rates[local.weekday()][local.hour] * ((step - t) / HOUR)
        t = step
    return total


Interval = tuple[datetime, datetime]


def _overlaps(span: Interval, covered: Sequence[Interval]) -> bool:
    return any(c_start < span[1] and span[0] < c_end for c_start, c_end in covered)


@dataclass
class _Patrol:
    number: int
    clock: datetime
    at: Place | None = None
    visits: list[Visit] = field(default_factory=list)
    done: bool = False


def allocate(
    places: Sequence[Place],
    start: datetime,
    hours: float,
    patrols: int,
    constraints: Constraints = DEFAULT_CONSTRAINTS,
) -> list[Visit]:
    """The proposed visits of every patrol, in patrol and time order (see module doc)."""
    start = start.astimezone(UTC)  # real hours: adding to a Stockholm time adds wall-clock time
    patrol_plan = _PatrolPlan(places, start + timedelta(hours=hours), constraints)
    start = ceil_quarter(start)
    block = patrol_plan.block / HOUR
    # every place may have at least one visit, however short the window
    patrol_plan.cap_hours = max(constraints.max_share * patrols * hours, block)
    crew = [_Patrol(n + 1, start) for n in range(patrols)]
    while active := [p for p in crew if not p.done]:
        patrol = min(active, key=lambda p: (p.clock, p.number))
        best = patrol_plan.best_now(patrol) or patrol_plan.best_later(patrol)
        if best is None:  # nothing of value within reach: wait, stop when none can come
            patrol.clock += WAIT_STEP
            patrol.done = patrol.clock + patrol_plan.block > patrol_plan.end
            continue
        place, arrive, gain = best
        _add_visit(patrol, place, arrive, arrive + patrol_plan.block, gain)
        patrol_plan.used[place.name] += block
        patrol_plan.covered[place.name].append((arrive, arrive + patrol_plan.block))
    return [v for p in crew for v in p.visits]


@dataclass
class _PatrolPlan:
    places: Sequence[Place]
    end: datetime
    constraints: Constraints
    cap_hours: float = 0.0
    used: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    covered: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    expected: dict[tuple[str, datetime], float] = field(default_factory=dict)

    @property
    def block(self) -> timedelta:
        """The minimum visit, in whole quarter hours."""
        return QUARTER * math.ceil(self.constraints.min_visit_minutes / 15)

    def best_now(self, patrol: _Patrol) -> tuple[Place, datetime, float] | None:
        return self._best(patrol, [timedelta(0)])

    def best_later(self, patrol: _Patrol) -> tuple[Place, datetime, float] | None:
        """Only when nothing is worth doing now: wait for a busier hour."""
        return self._best(patrol, [WAIT_STEP * k for k in range(1, LOOKAHEAD // WAIT_STEP + 1)])

    def _best(
        self, patrol: _Patrol, waits: Sequence[timedelta]
    ) -> tuple[Place, datetime, float] | None:
        best: tuple[float, Place, datetime, float] | None = None
        for place in self.places:
            if self.used[place.name] + self.block / HOUR > self.cap_hours + 1e-9:
                continue
            speed = self.constraints.speed_kmh
            travel = timedelta(minutes=travel_minutes(patrol.at, place, speed) if patrol.at else 0)
            for wait in waits:
                arrive = ceil_quarter(patrol.clock + travel) + wait
                if arrive + self.block > self.end:
                    break
                gain = self._gain(place, arrive)
                score = place.weight * gain / ((arrive + self.block - patrol.clock) / HOUR)
                if gain > 1e-9 and (best is None or score > best[0] + 1e-12):
                    best = (score, place, arrive, gain)
        return best[1:] if best else None

    def _gain(self, place: Place, arrive: datetime) -> float:
        """Expected incidents in the block; nothing when a patrol is there already."""
        span = (arrive, arrive + self.block)
        if _overlaps(span, self.covered[place.name]):
            return 0.0
        key = (place.name, arrive)  # a waiting patrol asks for the same blocks again
        if key not in self.expected:
            self.expected[key] = expected_between(place.rates, *span)
        return self.expected[key]


def _add_visit(
    patrol: _Patrol, place: Place, arrive: datetime, leave: datetime, gain: float
) -> None:
    last = patrol.visits[-1] if patrol.visits else None
    if last and last.place == place.name and last.end == arrive:
        patrol.visits[-1] = replace(last, end=leave, expected=last.expected + gain)
    else:
        patrol.visits.append(
            Visit(
                patrol.number,
                place.name,
                place.lat,
                place.lon,
                arrive,
                leave,
                gain,
                area=place.area,
            )
        )
    patrol.clock, patrol.at = leave, place
