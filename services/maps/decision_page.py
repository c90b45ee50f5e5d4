"""The meeting's decision page of the archive server (`/{kommun}/beslut`): the form, its
values and errors, and the receipt. Pure functions; the routes, the access check and the
publishing are in `server.py`, the rules and the event in `shared/decisions.py`.

The form's field names are DecisionV1's (`measure`, `activity`, `target`, `categories`,
`responsible` one per line, `from_week`, `until_week`, `note`) plus a hidden `decision_id`
made when the form is shown, so a form sent twice (a double click, a retried POST) is one
decision: the aggregate stores a decision once per id.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.contracts import DecisionV1
from shared.decisions import DecisionDraft, PlanActivity, new_decision_id
from shared.formats import time_sv
from shared.weeks import iso_week_of, shift_week

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2")),
)

FIRST_WEEK_AHEAD = 1  # the default period: next week …
LAST_WEEK_AHEAD = 4  # … up to and including the week four weeks from now
RECEIPT_COOKIE = "lagesbild_kvitto"
FIELD_LABELS = {
    "measure": "Åtgärd",
    "activity": "Åtgärd i handlingsplanen",
    "target": "Plats",
    "categories": "Kategorier",
    "responsible": "Ansvarig",
    "from_week": "Från vecka",
    "until_week": "Till och med vecka",
    "note": "Anteckning",
    "owner": "Ägare",
    "decision_id": "Beslutets id",
}
PROGRESS_LABELS = {
    "planerad": "Planerad",
    "pågår": "Pågår",
    "genomförd": "Genomförd",
    "avbruten": "Avbruten",
}
NOT_YET_BUILT = "ej i lägesbilden än"


@dataclass
class FormValues:
    """The form as the user sees it (strings, kept verbatim when sent back with errors)."""

    measure: str = ""
    activity: str = ""
    target: str = ""
    categories: list[str] = field(default_factory=list)
    responsible: str = ""  # one per line
    from_week: str = ""
    until_week: str = ""
    note: str = ""
    decision_id: str = ""
    owner: str = ""

    def responsible_list(self) -> list[str]:
        return [line.strip() for line in self.responsible.splitlines() if line.strip()]

    def draft(self, kommun: str) -> DecisionDraft:
        return DecisionDraft(
            kommun=kommun,
            measure=self.measure,
            target=self.target,
            until_week=self.until_week.strip(),
            from_week=self.from_week.strip() or None,
            activity_id=self.activity.strip() or None,
            responsible=self.responsible_list(),
            categories=list(self.categories),
            note=self.note,
            decision_id=self.decision_id,
            owner=self.owner,
        )

    def same_as(self, stored: DecisionV1) -> bool:
        """Is `stored` the decision this form describes (the form sent a second time)?"""
        return (stored.measure, stored.target, stored.until_week) == (
            self.measure.strip(),
            self.target.strip(),
            self.until_week.strip(),
        )


def default_weeks(now: datetime) -> tuple[str, str]:
    this_week = iso_week_of(now)
    return shift_week(this_week, FIRST_WEEK_AHEAD), shift_week(this_week, LAST_WEEK_AHEAD)


def prefilled(
    kommun: str, query: Mapping[str, str], activities: Sequence[PlanActivity], now: datetime
) -> FormValues:
    """A fresh form: target and activity from the link (`?target=…&activity=…`), the
    activity's text, responsible and categories, the default weeks, a new id."""
    first, last = default_weeks(now)
    values = FormValues(
        target=query.get("target", "").strip()[:200],
        from_week=first,
        until_week=last,
        decision_id=new_decision_id(kommun),
    )
    wanted = query.get("activity", "").strip()
    activity = next((a for a in activities if a.activity_id == wanted), None)
    if activity is not None:
        values.activity = activity.activity_id
        values.measure = activity.what
        values.responsible = "\n".join(activity.responsible)
        values.categories = list(activity.categories)
    return values


def fresh_id_unless_ours(kommun: str, decision_id: str) -> str:
    """The form's id when it is one this page made for the kommun, else a new one."""
    if re.fullmatch(rf"{re.escape(kommun)}-[0-9a-f]{{8,32}}", decision_id or ""):
        return decision_id
    return new_decision_id(kommun)


def error_messages(problems: Sequence[tuple[str, str]]) -> dict[str, str]:
    """field -> the first message for it, capitalised (shown next to the field)."""
    out: dict[str, str] = {}
    for name, message in problems:
        text = message[:1].upper() + message[1:]
        out.setdefault(name, text if text.endswith((".", "?", "!")) else f"{text}.")
    return out


# --- the receipt (a short-lived cookie, read once after the redirect) -------------------


def encode_receipt(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_receipt(value: str | None) -> str:
    if not value:
        return ""
    try:
        return base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8")[:1500]
    except (ValueError, UnicodeError):
        return ""


def created_receipt(d: DecisionV1) -> str:
    return (
        f"Beslutet är registrerat: {d.measure} vid {d.target}, vecka {d.from_week}–"
        f"{d.until_week}, id {d.decision_id}."
    )


def closed_receipt(d: DecisionV1) -> str:
    return f"Beslutet är stängt: {d.measure} vid {d.target}, id {d.decision_id}."


def report_receipt(d: DecisionV1) -> str:
    return (
        f"Återrapporten är registrerad: {d.measure} vid {d.target} "
        f"(status {PROGRESS_LABELS.get(d.progress, d.progress).lower()}), id {d.decision_id}."
    )


def decisions_in_newest_build(kommun_dir: Path) -> set[str] | None:
    """The ids of the decisions in the kommun's newest built week (its restricted
    sammanfattning.json, the one written last); None before any week is built."""
    summaries = [
        p
        for p in kommun_dir.glob("*/sammanfattning.json")
        if re.fullmatch(r"\d{4}-W\d{2}", p.parent.name)
    ]
    if not summaries:
        return None
    newest = max(summaries, key=lambda p: (p.stat().st_mtime, p.parent.name))
    try:
        data = json.loads(newest.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return {str(d.get("decision_id")) for d in data.get("decisions", []) if isinstance(d, dict)}


# --- the page --------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return time_sv(moment)  # Stockholm time with its offset, as everywhere a person reads it


def decision_rows(
    decisions: Sequence[DecisionV1],
    labels: Mapping[str, str],
    built: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The list's rows; `built`: the ids in the newest built week (a decision not among
    them is marked "ej i lägesbilden än")."""
    return [
        {
            "owner": d.owner,
            "progress": PROGRESS_LABELS.get(d.progress, d.progress),
            "progress_code": d.progress,
            "pending": built is None or d.decision_id not in built,
            "reports": [
                {"when": _when(r.reported_at), "text": r.text, "by": r.by}
                for r in reversed(d.reports)
            ],
            "id": d.decision_id,
            "measure": d.measure,
            "target": d.target,
            "categories": ", ".join(labels.get(c, c) for c in d.categories),
            "responsible": ", ".join(d.responsible),
            "weeks": f"{d.from_week} – {d.until_week}",
            "note": d.note,
        }
        for d in decisions
    ]


def render_decision_page(
    *,
    kommun: str,
    kommun_name: str,
    values: FormValues,
    categories: Mapping[str, str],
    activities: Sequence[PlanActivity],
    area_names: Sequence[str],
    decisions: Sequence[DecisionV1],
    built: set[str] | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str = "",
    receipt: str = "",
) -> str:
    """The whole page: receipt or errors, the form, and the open decisions."""
    errors = dict(errors or {})
    groups: dict[str, list[PlanActivity]] = {}
    for a in activities:
        groups.setdefault(a.focus or "Planen", []).append(a)
    return _templates.get_template("beslut.html.j2").render(
        kommun=kommun,
        kommun_name=kommun_name,
        v=values,
        categories=categories,
        activity_groups=groups,
        unknown_activity=bool(values.activity)
        and all(a.activity_id != values.activity for a in activities),
        area_names=area_names,
        decisions=decision_rows(decisions, categories, built),
        progress_labels=PROGRESS_LABELS,
        not_yet_built=NOT_YET_BUILT,
        errors=errors,
        labels=FIELD_LABELS,
        problem=problem,
        receipt=receipt,
    )
