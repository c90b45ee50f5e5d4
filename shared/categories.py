"""EST incident categories and reporter roles: stable ASCII codes, Swedish labels."""

from __future__ import annotations

from enum import StrEnum

# code -> Swedish label. Codes are part of the v1 contract: never rename one, add new ones.
DEFAULT_CATEGORIES: dict[str, str] = {
    "klotter": "Klotter",
    "skadegorelse": "Skadegörelse",
    "nedskrapning": "Nedskräpning",
    "brand": "Brand",
    "ordningsstorning": "Ordningsstörning",
    "storande_samling": "Störande samling",
    "narkotika": "Narkotika",
    "vald": "Våld",
    "hot": "Hot",
    "inbrott": "Inbrott",
    "stold": "Stöld",
    "buskorning": "Buskörning",
    "otrygg_plats": "Otrygg plats (belysning, buskage)",
    "hot_vald_personal": "Hot/våld mot personal",
    "ovrigt": "Övrigt",
}


class Source(StrEnum):
    """The reporter's role (who saw it), not the organisation that employs them."""

    VAKTARE = "vaktare"
    ORDNINGSVAKT = "ordningsvakt"
    FALTSEKRETERARE = "faltsekreterare"
    BROBYGGARE = "brobyggare"
    NATTVANDRARE = "nattvandrare"
    POLIS = "polis"
    FASTIGHETSAGARE = "fastighetsagare"
    KOLLEKTIVTRAFIK = "kollektivtrafik"
    OVRIG = "ovrig"


SOURCE_LABELS: dict[Source, str] = {
    Source.VAKTARE: "Väktare",
    Source.ORDNINGSVAKT: "Ordningsvakt",
    Source.FALTSEKRETERARE: "Fältsekreterare",
    Source.BROBYGGARE: "Brobyggare",
    Source.NATTVANDRARE: "Nattvandrare",
    Source.POLIS: "Polis",
    Source.FASTIGHETSAGARE: "Fastighetsägare",
    Source.KOLLEKTIVTRAFIK: "Kollektivtrafik",
    Source.OVRIG: "Övrig",
}


def category_catalog(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The default categories plus an installation's own additions (code -> label)."""
    return {**DEFAULT_CATEGORIES, **(extra or {})}


# How much a category weighs when the meeting's focus is chosen (services/maps/focus.py,
# docs/analysis.md "Veckans fokus"): 3 harm to people, 2 crime against property and
# disorder that makes a place unsafe, 1 the visible signs of neglect. A code not listed
# (an installation's own category) weighs DEFAULT_SEVERITY.
CATEGORY_SEVERITY: dict[str, int] = {
    "vald": 3,
    "hot": 3,
    "hot_vald_personal": 3,
    "brand": 3,
    "narkotika": 3,
    "inbrott": 2,
    "stold": 2,
    "skadegorelse": 2,
    "ordningsstorning": 2,
    "storande_samling": 2,
    "buskorning": 2,
    "otrygg_plats": 2,
    "klotter": 1,
    "nedskrapning": 1,
    "ovrigt": 1,
}
DEFAULT_SEVERITY = 1


def severity(code: str) -> int:
    """The focus weight of a category (1–3)."""
    return CATEGORY_SEVERITY.get(code, DEFAULT_SEVERITY)
