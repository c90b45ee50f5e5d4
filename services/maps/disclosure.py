"""Primary and complementary (secondary) cell suppression for the public lägesbild.

The rule (threshold rule with complementary suppression, as in Statistics Sweden's and
Eurostat's practice for frequency tables; Hundepool et al., *Handbook on Statistical
Disclosure Control*, ch. 5):

1. **Primary**: a count below `MIN_PUBLIC_COUNT` (zero included) is shown as "<3".
2. **Complementary**: the public pages also show totals (kommun, area, category, hotspot).
   With a total shown, the hidden parts' sum is ``total − shown parts``. More counts are
   hidden (shown as "≥3": they are not small, only withheld) until, for every table
   relation,

   - the hidden parts' sum, where the total is shown, is not below the threshold (a
     single hidden part is itself such a sum, so a lone "<3" always gets a partner), and
   - no hidden count can be pinned to one value by an attacker who knows every shown
     number, that "<3" means 0–2 (1–2 where a row is listed only because it is not
     zero), that "≥3" means 3 or more, and every relation at once (interval bound
     propagation over all rows, columns and totals together, iterated to a fixpoint).

   Cells are withheld cheapest first: those of lowest `priority`, then ordinary cells
   before totals, then the smallest count, then the caller's order. So the kommun total
   is the last thing hidden.

Everything here is a pure function of its arguments; the same numbers always give the
same pattern, so two publications of the same table hide the same cells.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from services.maps.suppress import HIDDEN, MIN_PUBLIC_COUNT, SUPPRESSED
from shared.contracts import WeekSnapshotV1

INF = math.inf


class Status(Enum):
    SHOWN = "shown"
    SMALL = "small"  # primary: below the threshold, shown as "<3"
    HIDDEN = "hidden"  # complementary: 3 or more, withheld, shown as "≥3"


@dataclass(frozen=True)
class Relation:
    """``sum(plus) − sum(minus) == 0`` (``exact``) or ``>= 0`` (an upper bound).

    A table row is ``Relation(plus=(total,), minus=parts)``."""

    plus: tuple[Hashable, ...]
    minus: tuple[Hashable, ...]
    exact: bool = True

    @classmethod
    def total(cls, total: Hashable, parts: Sequence[Hashable]) -> Relation:
        return cls((total,), tuple(parts))

    @classmethod
    def at_most(cls, bound: Sequence[Hashable], part: Hashable) -> Relation:
        """``part <= sum(bound)``, e.g. a hotspot's count against its areas' totals."""
        return cls(tuple(bound), (part,), exact=False)

    def terms(self) -> list[tuple[Hashable, int]]:
        return [(k, 1) for k in self.plus] + [(k, -1) for k in self.minus]

    def holds(self, values: Mapping[Hashable, int]) -> bool:
        s = sum(values[k] for k in self.plus) - sum(values[k] for k in self.minus)
        return s == 0 if self.exact else s >= 0


Bounds = dict[Hashable, tuple[float, float]]


def _a_priori(
    values: Mapping[Hashable, int],
    status: Mapping[Hashable, Status],
    threshold: int,
    nonzero: Collection[Hashable],
) -> Bounds:
    bounds: Bounds = {}
    for key, value in values.items():
        if status[key] is Status.SHOWN:
            bounds[key] = (value, value)
        elif status[key] is Status.SMALL:
            bounds[key] = (1 if key in nonzero else 0, threshold - 1)
        else:
            bounds[key] = (threshold, INF)
    return bounds


def attacker_bounds(
    bounds: Bounds, relations: Sequence[Relation]
) -> tuple[Bounds, dict[Hashable, set[int]]]:
    """Tighten `bounds` with every relation until nothing changes (a fixpoint).

    Returns the bounds and, per key, the relations that tightened them. Terminates when
    the true values satisfy every relation: every step moves an integer bound towards
    the true value."""
    bounds = dict(bounds)
    sources: dict[Hashable, set[int]] = defaultdict(set)
    member_of: dict[Hashable, list[int]] = defaultdict(list)
    for index, relation in enumerate(relations):
        for key, _ in relation.terms():
            member_of[key].append(index)
    queue = list(range(len(relations)))
    queued = set(queue)
    while queue:
        index = queue.pop()
        queued.discard(index)
        terms = relations[index].terms()
        if all(bounds[k][0] == bounds[k][1] for k, _ in terms):
            continue
        # the sum's range, as (finite part, number of infinite terms)
        low_sum, low_inf, high_sum, high_inf = 0, 0, 0, 0
        for key, sign in terms:
            lo, hi = bounds[key]
            low, high = (lo, hi) if sign > 0 else (-hi, -lo)
            if math.isinf(low):
                low_inf += 1
            else:
                low_sum += int(low)
            if math.isinf(high):
                high_inf += 1
            else:
                high_sum += int(high)
        for key, sign in terms:
            lo, hi = bounds[key]
            low, high = (lo, hi) if sign > 0 else (-hi, -lo)
            # the range of the other terms' sum
            r_low = -INF if low_inf - math.isinf(low) else low_sum - (0 if math.isinf(low) else low)
            r_high = (
                INF if high_inf - math.isinf(high) else high_sum - (0 if math.isinf(high) else high)
            )
            # sign·x + rest == 0 (or >= 0)
            if relations[index].exact:
                term_low, term_high = -r_high, -r_low
            else:
                term_low, term_high = -r_high, INF
            new_lo, new_hi = (term_low, term_high) if sign > 0 else (-term_high, -term_low)
            tight = (max(lo, new_lo), min(hi, new_hi))
            if tight != (lo, hi):
                bounds[key] = tight
                sources[key].add(index)
                for other in member_of[key]:
                    if other != index and other not in queued:
                        queue.append(other)
                        queued.add(other)
    return bounds, sources


def problems(
    values: Mapping[Hashable, int],
    relations: Sequence[Relation],
    status: Mapping[Hashable, Status],
    *,
    threshold: int = MIN_PUBLIC_COUNT,
    nonzero: Collection[Hashable] = (),
) -> list[tuple[Hashable | None, set[int]]]:
    """What an attacker can work out: ``(pinned key, relations)`` for a hidden count
    pinned to one value, ``(None, {relation})`` for a small hidden sum."""
    found: list[tuple[Hashable | None, set[int]]] = []
    for index, relation in enumerate(relations):
        if not relation.exact or len(relation.plus) != 1:
            continue
        (total,) = relation.plus
        hidden = [k for k in relation.minus if status[k] is not Status.SHOWN]
        if status[total] is Status.SHOWN and hidden and sum(values[k] for k in hidden) < threshold:
            found.append((None, {index}))
    bounds, sources = attacker_bounds(_a_priori(values, status, threshold, nonzero), relations)
    for key in values:
        lo, hi = bounds[key]
        if status[key] is not Status.SHOWN and lo == hi:
            found.append((key, sources[key]))
    return found


def suppress(
    values: Mapping[Hashable, int],
    relations: Sequence[Relation],
    *,
    threshold: int = MIN_PUBLIC_COUNT,
    nonzero: Collection[Hashable] = (),
    priority: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, Status]:
    """Each key's status: primary suppression, then complementary until `problems` is
    empty. `nonzero`: keys the public can tell are not zero. `priority`: lower is
    withheld first (default 0). Relations the values do not satisfy are ignored."""
    relations = [r for r in relations if r.holds(values)]
    order = {key: i for i, key in enumerate(values)}
    level: dict[Hashable, int] = defaultdict(int)
    for relation in relations:
        if relation.exact:
            for key in relation.plus:
                level[key] += 1
    priority = priority or {}

    def cost(key: Hashable) -> tuple[int, int, int, int]:
        return (priority.get(key, 0), level[key], values[key], order[key])

    status = {k: Status.SMALL if v < threshold else Status.SHOWN for k, v in values.items()}
    while found := problems(values, relations, status, threshold=threshold, nonzero=nonzero):
        pinned, sources = found[0]
        if pinned is None:  # a small hidden sum: withhold one more part of that row
            relation = relations[next(iter(sources))]
            candidates = [k for k in relation.minus if status[k] is Status.SHOWN]
            candidates = candidates or [k for k in relation.plus if status[k] is Status.SHOWN]
            choice = min(candidates, key=cost) if candidates else None
        else:
            choice = _unpin(values, relations, status, pinned, cost, threshold, nonzero)
        if choice is None:
            shown_keys = [k for k in values if status[k] is Status.SHOWN]
            if not shown_keys:
                break  # everything is withheld: nothing left to derive from
            choice = min(shown_keys, key=cost)
        status[choice] = Status.HIDDEN
    return status


MAX_TRIALS = 40


def _unpin(
    values: Mapping[Hashable, int],
    relations: Sequence[Relation],
    status: dict[Hashable, Status],
    pinned: Hashable,
    cost: Callable[[Hashable], tuple[int, ...]],
    threshold: int,
    nonzero: Collection[Hashable],
) -> Hashable | None:
    """The cheapest shown count whose withholding unpins `pinned`: first among the
    relations that pinned it, then along the chain of relations behind those."""
    _, sources = attacker_bounds(_a_priori(values, status, threshold, nonzero), relations)
    reached, frontier = set(sources[pinned]), list(sources[pinned])
    while frontier:
        for key, _ in relations[frontier.pop()].terms():
            if status[key] is not Status.SHOWN:
                for index in sources[key] - reached:
                    reached.add(index)
                    frontier.append(index)
    near = {k for i in sources[pinned] for k, _ in relations[i].terms()}
    shown_keys = {k for i in reached for k, _ in relations[i].terms() if status[k] is Status.SHOWN}
    if not shown_keys:
        return None
    # the lowest priority only (hotspots before the area table), even if it takes
    # more than one count to unpin
    lowest = min(cost(k)[0] for k in shown_keys)
    ranked = sorted(
        (k for k in shown_keys if cost(k)[0] == lowest), key=lambda k: (k not in near, *cost(k))
    )
    for key in ranked[:MAX_TRIALS]:
        status[key] = Status.HIDDEN
        trial, _ = attacker_bounds(_a_priori(values, status, threshold, nonzero), relations)
        status[key] = Status.SHOWN
        if trial[pinned][0] != trial[pinned][1]:
            return key
    return ranked[0]
    return status


# --- the week's public numbers ------------------------------------------------------------

Shown = int | str


def shown(value: int, status: Status) -> Shown:
    if status is Status.SHOWN:
        return value
    return SUPPRESSED if status is Status.SMALL else HIDDEN


@dataclass(frozen=True)
class PublicCount:
    """One count as the public sees it, this week and last, and the change (only when
    both weeks are shown). `listed`: False when both weeks are below the threshold;
    such a row is left out of the public lists."""

    count: Shown
    previous: Shown
    change: int | None
    listed: bool

    @classmethod
    def of(cls, count: int, previous: int, now: Status, before: Status) -> PublicCount:
        both = now is Status.SHOWN and before is Status.SHOWN
        return cls(
            count=shown(count, now),
            previous=shown(previous, before),
            change=count - previous if both else None,
            listed=not (now is Status.SMALL and before is Status.SMALL),
        )

    def as_dict(self) -> dict[str, Shown | None]:
        return {"count": self.count, "previous": self.previous, "change": self.change}


@dataclass(frozen=True)
class PublicHotspot:
    count: Shown
    previous: Shown
    # in the snapshot's order (largest first); those below 3 are left out, as a listed
    # '<3' would say "not zero"
    categories: dict[str, Shown]


@dataclass(frozen=True)
class PublicCounts:
    """Every number of one week that a public page or JSON may show, suppressed once
    for all of them (`public_counts`)."""

    total: PublicCount
    areas: dict[str, PublicCount]
    categories: dict[str, PublicCount]
    cells: dict[tuple[str, str], PublicCount]
    hotspots: list[PublicHotspot]  # as snapshot.hotspots

    def cell(self, area: str, category: str, count: int, previous: int) -> PublicCount:
        """A cell by name; one the table does not know is shown only as '<3' or '≥3'."""
        known = self.cells.get((area, category))
        if known is not None:
            return known
        now = Status.SMALL if count < MIN_PUBLIC_COUNT else Status.HIDDEN
        before = Status.SMALL if previous < MIN_PUBLIC_COUNT else Status.HIDDEN
        return PublicCount.of(count, previous, now, before)


def _area_order(snapshot: WeekSnapshotV1) -> list[str]:
    extra = {c.area for c in snapshot.cells} - set(snapshot.areas)
    return list(dict.fromkeys(snapshot.areas)) + sorted(extra)


def _category_order(snapshot: WeekSnapshotV1) -> list[str]:
    seen = {c.category for c in snapshot.cells} | {i.category for i in snapshot.incidents}
    return list(snapshot.categories) + sorted(seen - set(snapshot.categories))


def _table(
    areas: list[str], codes: list[str], cells: Mapping[tuple[str, str], int]
) -> tuple[dict[Hashable, int], list[Relation]]:
    """The area × category table with its row, column and grand totals."""
    values: dict[Hashable, int] = {("kommun",): sum(cells.values())}
    values |= {("area", a): sum(cells.get((a, c), 0) for c in codes) for a in areas}
    values |= {("category", c): sum(cells.get((a, c), 0) for a in areas) for c in codes}
    values |= {("cell", a, c): cells.get((a, c), 0) for a in areas for c in codes}
    relations = [
        Relation.total(("kommun",), [("area", a) for a in areas]),
        Relation.total(("kommun",), [("category", c) for c in codes]),
    ]
    relations += [Relation.total(("area", a), [("cell", a, c) for c in codes]) for a in areas]
    relations += [Relation.total(("category", c), [("cell", a, c) for a in areas]) for c in codes]
    return values, relations


_INPUTS = {"areas", "categories", "cells", "stats", "coverage", "hotspots"}
_MEMO: OrderedDict[str, PublicCounts] = OrderedDict()
_MEMO_SIZE = 16
_MEMO_LOCK = threading.Lock()  # the maps service may render from more than one thread


def public_counts(snapshot: WeekSnapshotV1) -> PublicCounts:
    """`suppressed_counts`, computed once per week's content: the public map, meeting pack,
    JSON and index of one publication all ask, and the search is the costly part."""
    key = hashlib.sha256(snapshot.model_dump_json(include=_INPUTS).encode()).hexdigest()
    with _MEMO_LOCK:
        counts = _MEMO.get(key)
    if counts is None:
        counts = suppressed_counts(snapshot)
        with _MEMO_LOCK:
            _MEMO[key] = counts
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
    return counts


def suppressed_counts(snapshot: WeekSnapshotV1) -> PublicCounts:
    """Suppress the week's public numbers once (see the module doc).

    Two tables, each suppressed on its own numbers: this week (with the hotspots, their
    categories, and the bounds a hotspot puts on its areas and the kommun) and last week
    (with the hotspots' previous counts). Last week's table thus gets the same pattern as
    that week's own publication had, as long as its numbers did not change."""
    areas, codes = _area_order(snapshot), _category_order(snapshot)
    now: dict[tuple[str, str], int] = defaultdict(int)
    before: dict[tuple[str, str], int] = defaultdict(int)
    for cell in snapshot.cells:
        now[(cell.area, cell.category)] += cell.count
        before[(cell.area, cell.category)] += cell.previous
    values_now, relations_now = _table(areas, codes, now)
    values_before, relations_before = _table(areas, codes, before)
    nonzero: set[Hashable] = {
        ("cell", s.area, s.category) for s in snapshot.stats if s.alert and s.count > 0
    }
    # coverage "rapporterat": the public can tell the area had a report
    nonzero |= {("area", c.area) for c in snapshot.coverage if c.status == "rapporterat"}
    priority: dict[Hashable, int] = {key: 1 for key in values_now}
    for i, h in enumerate(snapshot.hotspots):
        spot, in_areas = ("hotspot", i), [a for a in h.areas if a in areas]
        values_now[spot] = h.count
        values_before[spot] = h.previous
        # every category, as for an area: a listed '<3' would say "1 or 2", so the
        # public lists a hotspot's categories only when they are not below 3
        parts = []
        for code in dict.fromkeys([*codes, *h.categories]):
            key = ("hotspot_cat", i, code)
            values_now[key] = h.categories.get(code, 0)
            parts.append(key)
            if code not in codes:
                continue
            relations_now.append(Relation.at_most([("category", code)], key))
            if in_areas:
                relations_now.append(Relation.at_most([("cell", a, code) for a in in_areas], key))
        relations_now.append(Relation.total(spot, parts))
        for relations in (relations_now, relations_before):
            relations.append(Relation.at_most([("kommun",)], spot))
            if in_areas:
                relations.append(Relation.at_most([("area", a) for a in in_areas], spot))
    known_now = {k for k in nonzero if k in values_now and values_now[k] > 0}
    status_now = suppress(values_now, relations_now, nonzero=known_now, priority=priority)
    status_before = suppress(values_before, relations_before, priority=priority)

    def pair(key: Hashable) -> PublicCount:
        return PublicCount.of(
            values_now[key], values_before[key], status_now[key], status_before[key]
        )

    return PublicCounts(
        total=pair(("kommun",)),
        areas={a: pair(("area", a)) for a in areas},
        categories={c: pair(("category", c)) for c in codes},
        cells={(a, c): pair(("cell", a, c)) for a in areas for c in codes},
        hotspots=[
            PublicHotspot(
                count=shown(h.count, status_now[("hotspot", i)]),
                previous=shown(h.previous, status_before[("hotspot", i)]),
                categories={
                    code: shown(n, status_now[("hotspot_cat", i, code)])
                    for code, n in h.categories.items()
                    if status_now[("hotspot_cat", i, code)] is not Status.SMALL
                },
            )
            for i, h in enumerate(snapshot.hotspots)
        ],
    )
