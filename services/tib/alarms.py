"""The lägesbild's alarms (unusual rises) in a sentence for the TiB page (pure).

"Skadegörelse i Skäggetorp: 9 händelser vecka 47, väntat omkring 3 (snitt för 8 veckor)
– ovanligt högt". The count is händelser, as every number (shared/counting.py); the
expected level is the cell's own mean, named as expected and with the weeks it covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.categories import DEFAULT_CATEGORIES
from shared.contracts import CellStatsV1
from shared.formats import decimal_sv, number_sv
from shared.weeks import parse_week

SHORT_WINDOW = 8  # the weeks of mean_8 (services/aggregate/analysis.py)


def expected_level(stat: CellStatsV1) -> tuple[float, int] | None:
    """The level the cell was expected at and the weeks that says it: the mean of the last 8
    weeks with data, else of the last 52; None without any earlier week."""
    short_weeks = stat.mean_8_weeks
    if short_weeks is None:  # older snapshots: as many of the 8 as there were weeks
        short_weeks = min(SHORT_WINDOW, stat.baseline_weeks)
    if stat.mean_8 is not None and short_weeks:
        return stat.mean_8, short_weeks
    if stat.mean_52 is not None and stat.baseline_weeks:
        return stat.mean_52, stat.baseline_weeks
    return None


def level_sv(x: float) -> str:
    """ "3", "2,5", "12" (whole numbers from 10 up; one decimal below, none when it is 0)."""
    if x >= 10 or round(x, 1) == round(x):
        return number_sv(round(x))
    return decimal_sv(x, 1)


def alarm_sentence(stat: CellStatsV1, category_label: str, iso_week: str) -> str:
    count = f"{number_sv(stat.count)} {'händelse' if stat.count == 1 else 'händelser'}"
    week = f"vecka {parse_week(iso_week)[1]}"
    expected = expected_level(stat)
    if expected is None:
        compared = "ingen tidigare vecka att jämföra med"
    else:
        level, weeks = expected
        span = "1 vecka" if weeks == 1 else f"{weeks} veckor"
        compared = f"väntat omkring {level_sv(level)} (snitt för {span})"
    verdict = " – ovanligt högt" if stat.alert else ""
    return f"{category_label} i {stat.area}: {count} {week}, {compared}{verdict}"


def label_of(code: str, categories: Mapping[str, str]) -> str:
    """The snapshot's label of the category, else the catalogue's, else the code."""
    return categories.get(code) or DEFAULT_CATEGORIES.get(code, code)


def alarms(
    stats: list[CellStatsV1], categories: Mapping[str, str], iso_week: str
) -> list[dict[str, Any]]:
    """The alarmed cells for the page's payload, highest count first: the sentence, and the
    parts it is made of (the page shows only `sentence`, as text)."""
    out = []
    for s in sorted((s for s in stats if s.alert), key=lambda s: (-s.count, s.area, s.category)):
        expected = expected_level(s)
        out.append(
            {
                "area": s.area,
                "category": s.category,
                "count": s.count,
                "expected": None if expected is None else expected[0],
                "expected_weeks": None if expected is None else expected[1],
                "text": s.text,
                "sentence": alarm_sentence(s, label_of(s.category, categories), iso_week),
            }
        )
    return out
