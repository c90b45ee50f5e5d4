"""The meeting's decisions (DecisionV1): check, build, publish on DECISION_STREAM, read back.

One place for what `lagesbild decision add/close` (services/aggregate/plan_cli.py) and the
decision page of the archive server (services/maps/decision_page.py) both do, so a decision
entered either way is the same event with the same rules:

- `decision_problems` checks a draft and returns every problem as (field, Swedish message);
  `build_decision` applies the defaults (from week, the plan activity's responsible and
  categories) and raises `DecisionError` with the first problem;
- `closing_event` is the `closed` event for a stored decision;
- `scrub_decision` takes personal data out of the free text (measure, responsible, note;
  `shared.scrub`): every DecisionV1 built, published or read back here goes through it, so
  the published decision, the decision page and the meeting pack never carry a phone
  number or a personnummer someone typed into a decision. The target is left alone: it
  must name an area or a hotspot;

Pure (no Redis, no database): sending is `shared/decision_events.py`; the stored
decisions and plans are read by their owner, the aggregate (`services/aggregate/plan_store.py`),
and, for the archive server's decision page, by `services/maps/decision_store.py`.
`decision_from_record` turns a stored row back into the event it was.
"""

from __future__ import annotations

import difflib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from shared.areas import OTHER_AREA
from shared.contracts import DECISION_PROGRESS, DecisionReportV1, DecisionV1
from shared.places import fold
from shared.plan import Activity, Promise, parse_plan
from shared.scrub import scrub_within
from shared.weeks import iso_week_of, parse_week, read_week

MAX_MEASURE_CHARS = 500
MAX_TARGET_CHARS = 200
MAX_NOTE_CHARS = 2000
MAX_RESPONSIBLE_CHARS = 200
MAX_REPORT_CHARS = 2000
MAX_SUGGESTIONS = 5
DECISION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class DecisionError(ValueError):
    """A decision that cannot be recorded; `field` names the input, the text is Swedish."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class PlanActivity:
    """An åtgärd or medborgarlöfte of a current plan, as a decision links to it."""

    activity_id: str
    what: str
    focus: str
    plan_id: str
    responsible: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass
class DecisionDraft:
    """What the meeting entered, before defaults and checks."""

    kommun: str
    measure: str
    target: str
    until_week: str
    from_week: str | None = None
    activity_id: str | None = None
    responsible: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    note: str = ""
    decision_id: str | None = None
    owner: str = ""


# --- the plan's activities ------------------------------------------------------------


def activities_in_plan(toml_text: str) -> list[PlanActivity]:
    """Every linkable item of a stored plan: åtgärder, then medborgarlöften."""
    plan = parse_plan(toml_text)
    return [
        PlanActivity(
            activity_id=item_id,
            what=item.what if isinstance(item, Activity) else cast(Promise, item).promise,
            focus=focus,
            plan_id=plan.plan_id,
            responsible=tuple(item.responsible),
            categories=tuple(item.categories),
        )
        for focus, item_id, item in plan.linked()
    ]


def find_activity(activities: Iterable[PlanActivity], activity_id: str) -> PlanActivity:
    for activity in activities:
        if activity.activity_id == activity_id:
            return activity
    raise DecisionError(f"ingen åtgärd {activity_id!r} i kommunens gällande planer", "activity")


# --- checks -------------------------------------------------------------------------------


def target_known(target: str, area_names: Sequence[str]) -> bool:
    """An area of the kommun, or a hotspot named after one ("Skäggetorp, norra delen",
    "Ryd/Skäggetorp m.fl.", "Ryd, södra delen (2)"). Without an area file (no names)
    any target is taken."""
    if not area_names:
        return True
    names = [*area_names, OTHER_AREA]
    return any(target == n or target.startswith((f"{n},", f"{n}/")) for n in names)


def _key(text: str) -> str:
    """A target as compared: folded, punctuation out, a genitive -s dropped from each word
    ("Skäggetorps centrum" and "skäggetorp centrum" are the same key)."""
    words = re.sub(r"[^\wåäö]+", " ", fold(text)).split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


def match_target(text: str, area_names: Sequence[str]) -> tuple[str | None, list[str]]:
    """A target typed as people type it, against the kommun's areas and known places:
    (the name it means, []) when one fits; (None, suggestions) when none or several do.
    A hotspot's name ("Skäggetorp, norra delen") resolves by its area part."""
    text = " ".join(text.split())
    if not area_names or target_known(text, area_names):
        return text, []
    names = list(dict.fromkeys([*area_names, OTHER_AREA]))
    head, sep, tail = text.partition(",")
    if sep and tail.strip():  # a hotspot: "skäggetorps, norra delen"
        area, suggestions = match_target(head, area_names)
        return (f"{area},{tail}" if area else None), suggestions
    keys: dict[str, list[str]] = {}
    for name in names:
        keys.setdefault(_key(name), []).append(name)
    wanted = _key(text)
    if not wanted:
        return None, []
    if wanted in keys:
        return keys[wanted][0], []
    words = set(wanted.split())
    containing = [k for k in keys if words <= set(k.split())]
    if len(containing) == 1:
        return keys[containing[0]][0], []
    close = difflib.get_close_matches(wanted, list(keys), n=MAX_SUGGESTIONS, cutoff=0.8)
    if len(close) == 1 and not containing:
        return keys[close[0]][0], []
    candidates = containing or close
    if not candidates:
        candidates = difflib.get_close_matches(wanted, list(keys), n=MAX_SUGGESTIONS, cutoff=0.5)
    return None, [keys[k][0] for k in candidates[:MAX_SUGGESTIONS]]


def _target_problem(target: str, area_names: Sequence[str]) -> str | None:
    resolved, suggestions = match_target(target, area_names)
    if resolved is not None:
        return None
    if len(suggestions) > 1:
        return f"{target!r} kan vara flera platser: {', '.join(suggestions)}. Välj en av dem"
    if suggestions:
        return f"okänt område {target!r}; menade du {suggestions[0]}?"
    shown = ", ".join(list(area_names)[:12]) + (" …" if len(area_names) > 12 else "")
    return (
        f"okänt område {target!r}; välj ett av kommunens områden eller platser ({shown}) "
        "eller en hotspot"
    )


def _week_problem(text: str | None, label: str) -> str | None:
    try:
        parse_week(text or "")
    except ValueError:
        return f"{label} {text!r} är ingen vecka: skriv t.ex. 2026-W47"
    return None


def decision_problems(
    decision: DecisionV1 | DecisionDraft,
    categories: Mapping[str, str],
    area_names: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """Every problem of a decision (or a draft after defaults) as (field, Swedish message)."""
    problems: list[tuple[str, str]] = []
    measure, target = decision.measure.strip(), decision.target.strip()
    if not measure:
        problems.append(("measure", "ange åtgärden: vad ska göras?"))
    elif len(measure) > MAX_MEASURE_CHARS:
        problems.append(
            ("measure", f"åtgärden är {len(measure)} tecken; högst {MAX_MEASURE_CHARS}")
        )
    if not target:
        problems.append(("target", "ange var: en hotspot eller ett område"))
    elif len(target) > MAX_TARGET_CHARS:
        problems.append(("target", f"platsen får vara högst {MAX_TARGET_CHARS} tecken"))
    elif (target_problem := _target_problem(target, area_names)) is not None:
        problems.append(("target", target_problem))
    responsible = [r.strip() for r in decision.responsible if r.strip()]
    if not responsible:
        problems.append(("responsible", "ange vem som ansvarar (eller välj en åtgärd i planen)"))
    elif any(len(r) > MAX_RESPONSIBLE_CHARS for r in responsible):
        problems.append(
            ("responsible", f"en ansvarig får vara högst {MAX_RESPONSIBLE_CHARS} tecken")
        )
    unknown = [c for c in decision.categories if c not in categories]
    if unknown:
        problems.append(
            (
                "categories",
                f"okänd kategori {', '.join(unknown)}; giltiga: {', '.join(categories)}",
            )
        )
    bad_from = _week_problem(decision.from_week, "första veckan")
    bad_until = _week_problem(decision.until_week, "sista veckan")
    problems += [(f, p) for f, p in (("from_week", bad_from), ("until_week", bad_until)) if p]
    if not (bad_from or bad_until) and (decision.until_week or "") < (decision.from_week or ""):
        problems.append(
            (
                "until_week",
                f"sista veckan {decision.until_week} ligger före första veckan "
                f"{decision.from_week}",
            )
        )
    if len(decision.note) > MAX_NOTE_CHARS:
        problems.append(("note", f"anteckningen får vara högst {MAX_NOTE_CHARS} tecken"))
    if len(decision.owner) > MAX_RESPONSIBLE_CHARS:
        problems.append(("owner", f"ägaren får vara högst {MAX_RESPONSIBLE_CHARS} tecken"))
    if decision.decision_id is not None and not DECISION_ID_RE.match(decision.decision_id):
        problems.append(("decision_id", "beslutets id får bara ha bokstäver a–z, siffror, - _ ."))
    return problems


def _loose_week(text: str, now: datetime) -> str:
    """A week as typed ("v50", "vecka 50", "50") as an ISO week; unchanged when it is none
    (the check then names it)."""
    try:
        return read_week(text, now)
    except ValueError:
        return text.strip()


def apply_defaults(
    draft: DecisionDraft,
    activity: PlanActivity | None,
    now: datetime,
    area_names: Sequence[str] = (),
) -> DecisionDraft:
    """From week: this week; responsible and categories: the plan activity's when empty;
    weeks as typed made ISO weeks; the target, when it means exactly one of the kommun's
    areas or places, spelt as that name."""
    responsible = [r.strip() for r in draft.responsible if r.strip()]
    target = draft.target.strip()
    resolved = match_target(target, area_names)[0] if target else None
    typed_from = (draft.from_week or "").strip()
    return DecisionDraft(
        kommun=draft.kommun,
        measure=draft.measure.strip(),
        target=resolved or target,
        until_week=_loose_week(draft.until_week, now),
        from_week=_loose_week(typed_from, now) if typed_from else iso_week_of(now),
        activity_id=draft.activity_id or None,
        responsible=responsible or (list(activity.responsible) if activity else []),
        categories=list(dict.fromkeys(draft.categories))
        or (list(activity.categories) if activity else []),
        note=draft.note.strip(),
        decision_id=draft.decision_id or None,
        owner=draft.owner.strip(),
    )


def build_decision(
    draft: DecisionDraft,
    *,
    categories: Mapping[str, str],
    activities: Iterable[PlanActivity] = (),
    area_names: Sequence[str] = (),
    now: datetime,
) -> DecisionV1:
    """The DecisionV1 event for a draft; `DecisionError` with the first problem."""
    activity = find_activity(activities, draft.activity_id) if draft.activity_id else None
    full = apply_defaults(draft, activity, now, area_names)
    problems = decision_problems(full, categories, area_names)
    if problems:
        raise DecisionError(problems[0][1], problems[0][0])
    return scrub_decision(
        DecisionV1(
            decision_id=full.decision_id or new_decision_id(full.kommun),
            kommun=full.kommun,
            measure=full.measure,
            activity_id=full.activity_id,
            target=full.target,
            categories=full.categories,
            responsible=full.responsible,
            from_week=full.from_week or "",
            until_week=full.until_week,
            decided_at=now,
            note=full.note,
            owner=full.owner,
        )
    )


def scrub_decision(decision: DecisionV1) -> DecisionV1:
    """The decision with personal data out of its free text, each field within its limit."""
    return decision.model_copy(
        update={
            "measure": scrub_within(decision.measure, MAX_MEASURE_CHARS),
            "responsible": [scrub_within(r, MAX_RESPONSIBLE_CHARS) for r in decision.responsible],
            "note": scrub_within(decision.note, MAX_NOTE_CHARS),
            "owner": scrub_within(decision.owner, MAX_RESPONSIBLE_CHARS),
            "reports": [
                r.model_copy(
                    update={
                        "text": scrub_within(r.text, MAX_REPORT_CHARS),
                        "by": scrub_within(r.by, MAX_RESPONSIBLE_CHARS),
                    }
                )
                for r in decision.reports
            ],
        }
    )


def new_decision_id(kommun: str) -> str:
    return f"{kommun}-{uuid.uuid4().hex[:8]}"


def closing_event(current: DecisionV1, note: str, now: datetime) -> DecisionV1:
    """The same decision with status 'closed' (a new message; closing is final)."""
    if len(note) > MAX_NOTE_CHARS:
        raise DecisionError(f"anteckningen får vara högst {MAX_NOTE_CHARS} tecken", "note")
    closing = current.model_copy(
        update={
            "message_id": uuid.uuid4().hex,
            "status": "closed",
            "decided_at": now,
            "note": note.strip() or current.note,
        }
    )
    return scrub_decision(DecisionV1.model_validate(closing.model_dump()))


def report_event(
    current: DecisionV1, text: str, by: str, progress: str | None, now: datetime
) -> DecisionV1:
    """The decision with a new report-back (återrapport) and, if given, its new status:
    the event a report sends on the decision stream (readers keep every report heard)."""
    text, by, progress = text.strip(), by.strip(), (progress or "").strip() or None
    if not text:
        raise DecisionError("skriv vad som har gjorts (återrapportens text)", "text")
    if len(text) > MAX_REPORT_CHARS:
        raise DecisionError(f"återrapporten får vara högst {MAX_REPORT_CHARS} tecken", "text")
    if len(by) > MAX_RESPONSIBLE_CHARS:
        raise DecisionError(f"'av vem' får vara högst {MAX_RESPONSIBLE_CHARS} tecken", "by")
    if progress is not None and progress not in DECISION_PROGRESS:
        raise DecisionError(
            f"okänd status {progress!r}; välj {', '.join(DECISION_PROGRESS)}", "progress"
        )
    if current.status == "closed":
        raise DecisionError("beslutet är stängt; en återrapport kan inte läggas till", "text")
    report = DecisionReportV1(reported_at=now, text=text, by=by, progress=progress)
    updated = current.model_copy(
        update={
            "message_id": uuid.uuid4().hex,
            "progress": progress or current.progress,
            "reports": [*current.reports, report],
        }
    )
    return scrub_decision(DecisionV1.model_validate(updated.model_dump()))


def merged_decision(old: DecisionV1, new: DecisionV1) -> DecisionV1:
    """What a reader keeps when it hears `new` about a decision it holds as `old`: closed is
    final, the reports are the union (by id, oldest first), the status the newest report's."""
    reports = {r.report_id: r for r in [*old.reports, *new.reports]}
    ordered = sorted(reports.values(), key=lambda r: (r.reported_at, r.report_id))
    stated = [r.progress for r in ordered if r.progress]
    base = old if old.status == "closed" else new
    return base.model_copy(
        update={
            "reports": ordered,
            "progress": stated[-1] if stated else base.progress,
            "owner": new.owner or old.owner,
        }
    )


# --- reading back ------------------------------------------------------------------------


def decision_from_record(row: Mapping[str, Any]) -> DecisionV1:
    """A stored decision (the `decision` table's columns) as the event it was, scrubbed: a
    decision written on the stream by hand did not pass `build_decision`."""
    return scrub_decision(
        DecisionV1(
            message_id=row["message_id"],
            decision_id=row["decision_id"],
            kommun=row["kommun"],
            measure=row["measure"],
            activity_id=row["activity_id"],
            target=row["target"],
            categories=json.loads(row["categories_json"]),
            responsible=json.loads(row["responsible_json"]),
            from_week=row["from_week"],
            until_week=row["until_week"],
            status=row["status"],
            decided_at=row["decided_at"],
            note=row["note"],
            owner=row.get("owner") or "",
            progress=row.get("progress") or "planerad",
            reports=json.loads(row.get("reports_json") or "[]"),
        )
    )
