"""The handlingsplan as data: a TOML file, validated with pydantic (format in docs/plan.md).

Pure: `parse_plan` checks the structure, `check_plan` the things only the installation knows
(category codes, the kommun's area names and boundary). Both raise PlanError with every
problem as (TOML path, what to fix, in Swedish).

The plan's free text (title, parties, focus areas' texts, what/how, responsible, promises,
place names) is scrubbed of personal data as it is parsed (`shared.scrub`), so whatever is
built from a plan (`plan show`, decisions' defaults, the meeting pack) carries none; ids,
categories, area names and time windows are checked values and left alone. The loaded TOML
text itself is kept as it came, in the aggregate's table only.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.areas import KommunAreas
from shared.scrub import scrub

_DAYS = {"mån": 0, "man": 0, "tis": 1, "ons": 2, "tor": 3, "fre": 4, "lör": 5, "lor": 5}
_DAYS |= {"sön": 6, "son": 6}
_CLOCK = r"(\d{1,2})(?::(\d{2}))?"
_WINDOW_RE = re.compile(rf"^(?:(\w{{3}})(?:-(\w{{3}}))?\s+)?{_CLOCK}-{_CLOCK}$")
PLACE_TOLERANCE_M = 1000.0  # a place may lie this far outside the kommun boundary


class PlanError(ValueError):
    """A plan that cannot be used; `problems` lists (TOML path, what to fix)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path or '(filen)'}: {text}" for path, text in problems))


@dataclass(frozen=True)
class TimeWindow:
    """ "fre-lör 20-03": Friday and Saturday from 20:00 until 03:00 the next morning."""

    days: frozenset[int]  # 0 = Monday; the day the window starts on
    start: int  # minutes after midnight
    end: int

    def covers(self, weekday: int, hour: int) -> bool:
        minute = hour * 60
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        if minute >= self.start:  # before midnight, on a start day
            return weekday in self.days
        return minute < self.end and (weekday - 1) % 7 in self.days  # after midnight


def parse_window(text: str) -> TimeWindow:
    match = _WINDOW_RE.match(text.strip().lower())
    if not match:
        raise ValueError(f"ogiltigt tidsfönster {text!r}: skriv t.ex. 'fre-lör 20:00-03:00'")
    first, last, h1, m1, h2, m2 = match.groups()
    if any(d is not None and d not in _DAYS for d in (first, last)):
        raise ValueError(f"okänd veckodag i {text!r}: använd mån tis ons tor fre lör sön")
    start, end = int(h1) * 60 + int(m1 or 0), int(h2) * 60 + int(m2 or 0)
    if not (0 <= start < 1440 and 0 <= end <= 1440) or start == end or int(m1 or 0) > 59:
        raise ValueError(f"ogiltig tid i {text!r}: klockslag 00:00–24:00, start ≠ slut")
    if int(m2 or 0) > 59:
        raise ValueError(f"ogiltig tid i {text!r}: minuter 00–59")
    if first is None:
        days = frozenset(range(7))
    else:
        a, b = _DAYS[first], _DAYS[last or first]
        days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
    return TimeWindow(days, start, end % 1440)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _scrubbed(value: Any) -> Any:
    """A free-text field (a string or a list of them) without personal data."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub(v) if isinstance(v, str) else v for v in value]
    return value


class Period(_Model):
    start: date = Field(alias="fran")
    end: date = Field(alias="till")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError("perioden slutar före den börjar: 'till' ska vara efter 'fran'")
        return self

    def overlaps(self, start: date, end: date) -> bool:
        return self.start <= end and start <= self.end

    def state(self, today: date) -> str:
        """ "gällande" while it runs, "avslutad" once its last day is past, "kommande"
        before it starts."""
        if today > self.end:
            return "avslutad"
        return "kommande" if today < self.start else "gällande"


class Place(_Model):
    name: str = Field(alias="namn", min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(300.0, alias="radie_m", gt=0, le=10_000)

    _free_text = field_validator("name")(_scrubbed)


Id = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)


class _Linked(_Model):
    """What links an activity or promise to the lägesbild: categories, areas, places, times."""

    responsible: list[str] = Field(alias="ansvar", min_length=1)
    period: Period | None = None
    categories: list[str] = Field(default_factory=list, alias="kategorier")
    areas: list[str] = Field(default_factory=list, alias="omraden")
    places: list[Place] = Field(default_factory=list, alias="platser")
    times: list[str] = Field(default_factory=list, alias="tider")

    _free_text = field_validator("responsible")(_scrubbed)

    @field_validator("times")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_window(text)
        return value

    def windows(self) -> list[TimeWindow]:
        return [parse_window(t) for t in self.times]


class Activity(_Linked):
    """An åtgärd: what is done, how, by whom, where and when."""

    id: str = Id
    what: str = Field(alias="vad", min_length=1)
    how: str = Field("", alias="hur")

    _own_free_text = field_validator("what", "how")(_scrubbed)


class FocusArea(_Model):
    """A samverkansområde / fokusområde of the plan."""

    id: str = Id
    name: str = Field(alias="namn", min_length=1)
    problem: str = Field("", alias="problembild")
    causes: str = Field("", alias="orsaksanalys")
    goals: list[str] = Field(default_factory=list, alias="effektmal")
    milestones: list[str] = Field(default_factory=list, alias="delmal")
    activities: list[Activity] = Field(default_factory=list, alias="atgarder")

    _free_text = field_validator("name", "problem", "causes", "goals", "milestones")(_scrubbed)


class Promise(_Linked):
    """A medborgarlöfte: a promise to the residents of a place, followed up regularly."""

    id: str = Id
    promise: str = Field(alias="lofte", min_length=1)
    measures: list[str] = Field(default_factory=list, alias="atgarder")
    rhythm: Literal["manad", "kvartal"] = Field("manad", alias="uppfoljning")

    _own_free_text = field_validator("promise", "measures")(_scrubbed)


class Plan(_Model):
    plan_id: str = Field(alias="id", pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    kommun: str = Field(pattern=r"^\d{4}$")
    title: str = Field(alias="titel", min_length=1)
    parties: list[str] = Field(default_factory=list, alias="parter")
    period: Period
    focus_areas: list[FocusArea] = Field(default_factory=list, alias="samverkansomraden")
    promises: list[Promise] = Field(default_factory=list, alias="medborgarloften")

    _free_text = field_validator("title", "parties")(_scrubbed)

    @model_validator(mode="after")
    def _unique_ids(self) -> Plan:
        ids = [a.id for f in self.focus_areas for a in f.activities] + [p.id for p in self.promises]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"id används mer än en gång: {', '.join(twice)}; gör dem unika")
        return self

    def state(self, today: date) -> str:
        """The plan's state on `today`: gällande, avslutad or kommande (`Period.state`)."""
        return self.period.state(today)

    def linked(self) -> Iterator[tuple[str, str, _Linked]]:
        """(focus area name, activity id, activity or promise) for every linkable item."""
        for focus in self.focus_areas:
            for activity in focus.activities:
                yield focus.name, activity.id, activity
        for promise in self.promises:
            yield "Medborgarlöfte", promise.id, promise


_MESSAGES = {
    "missing": "saknas: lägg till fältet",
    "extra_forbidden": "okänt fält: ta bort det eller rätta stavningen (se docs/plan.md)",
    "string_type": "ska vara text inom citattecken",
    "list_type": 'ska vara en lista, t.ex. ["a", "b"]',
    "float_parsing": "ska vara ett tal",
    "float_type": "ska vara ett tal",
    "date_type": "ska vara ett datum, t.ex. 2026-01-01 (utan citattecken)",
    "date_from_datetime_parsing": "ska vara ett datum, t.ex. 2026-01-01",
    "string_pattern_mismatch": (
        "ogiltigt format: små bokstäver, siffror, - och _ (kommun: 4 siffror)"
    ),
    "too_short": "får inte vara tom",
    "string_too_short": "får inte vara tom",
    "literal_error": "ogiltigt värde: tillåtna är {expected}",
}


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _swedish(error: Mapping[str, Any]) -> str:
    template = _MESSAGES.get(error["type"])
    if template:
        return template.format(**(error.get("ctx") or {}))
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"ogiltigt värde ({error['msg']})"


def parse_plan(text: str) -> Plan:
    """The plan in `text`, or PlanError listing every problem with its TOML path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError([("", f"inte giltig TOML: {exc}")]) from exc
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = [(_path(e["loc"]), _swedish(e)) for e in exc.errors()]
        raise PlanError(problems) from exc


def check_plan(plan: Plan, categories: Mapping[str, str], areas: Mapping[str, KommunAreas]) -> None:
    """Category codes must exist; area names and places are checked when the kommun's area
    file is configured (other kommuner locate by coordinates only)."""
    kommun = areas.get(plan.kommun)
    problems: list[tuple[str, str]] = []
    items: list[tuple[str, _Linked]] = [
        (f"samverkansomraden[{i}].atgarder[{j}]", a)
        for i, f in enumerate(plan.focus_areas)
        for j, a in enumerate(f.activities)
    ]
    items += [(f"medborgarloften[{i}]", p) for i, p in enumerate(plan.promises)]
    for path, item in items:
        for k, code in enumerate(item.categories):
            if code not in categories:
                problems.append(
                    (
                        f"{path}.kategorier[{k}]",
                        f"okänd kategori {code!r}; giltiga: {', '.join(sorted(categories))}",
                    )
                )
        if kommun is None:
            continue
        for k, name in enumerate(item.areas):
            if name not in kommun.area_names:
                problems.append(
                    (
                        f"{path}.omraden[{k}]",
                        f"okänt område {name!r} i "
                        f"{kommun.kommun_name}; giltiga: {', '.join(kommun.area_names)}",
                    )
                )
        for k, place in enumerate(item.places):
            if not kommun.contains(place.lat, place.lon, PLACE_TOLERANCE_M):
                problems.append(
                    (
                        f"{path}.platser[{k}]",
                        f"{place.name!r} ligger utanför "
                        f"{kommun.kommun_name}: kontrollera lat och lon",
                    )
                )
    if problems:
        raise PlanError(problems)


def match_line(reasons: Sequence[str]) -> str:
    """Why a plan activity matches a place, in one line: "Samma kategori (klotter), i
    området Centrum, vid Resecentrum; tid: 3 av 4 händelser inom fre 22–02." """
    parts: list[str] = []
    for reason in reasons:
        kind, _, value = reason.partition(": ")
        if kind == "kategori":
            parts.append(f"samma kategori ({value})")
        elif kind == "område":
            parts.append(f"i området {value}")
        elif kind == "plats":
            parts.append(f"vid {value}")
        elif kind == "tid":
            parts.append(f"tid: {value}")
        else:
            parts.append(reason)
    if not parts:
        return ""
    text = ", ".join(parts)
    return text[:1].upper() + text[1:] + "."
