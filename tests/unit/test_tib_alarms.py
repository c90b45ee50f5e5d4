"""The TiB's alarms in a sentence: the count as händelser, the expected level named as
expected (with the weeks it covers), the verdict; only alarmed cells, highest first."""

from __future__ import annotations

from typing import Any

from services.tib.alarms import alarm_sentence, alarms, expected_level, level_sv
from shared.contracts import CellStatsV1


def stat(count: int, mean_8: float | None, *, alert: bool = True, **changes: Any) -> CellStatsV1:
    base: dict[str, Any] = dict(
        area="Skäggetorp", category="skadegorelse", count=count, previous=4, mean_8=mean_8,
        mean_52=None if mean_8 is None else mean_8 + 1, baseline_weeks=20, mean_8_weeks=8,
        change_vs_previous=count - 4, ratio_vs_mean=None, p_value=0.001, q_value=0.01,
        alert=alert, text=f"{count} (förra veckan 4)",
    )  # fmt: skip
    return CellStatsV1(**(base | changes))


def test_the_sentence_names_count_week_and_the_expected_level_as_expected() -> None:
    assert alarm_sentence(stat(9, 3.0), "Skadegörelse", "2026-W47") == (
        "Skadegörelse i Skäggetorp: 9 händelser vecka 47, väntat omkring 3 (snitt för 8 veckor)"
        " – ovanligt högt"
    )


def test_the_expected_level_keeps_a_decimal_below_ten_and_names_its_weeks() -> None:
    few_weeks = stat(7, 2.5, mean_8_weeks=3, baseline_weeks=3)
    assert expected_level(few_weeks) == (2.5, 3)
    assert "väntat omkring 2,5 (snitt för 3 veckor)" in alarm_sentence(
        few_weeks, "Klotter", "2026-W02"
    )
    assert "vecka 2," in alarm_sentence(few_weeks, "Klotter", "2026-W02")
    assert [level_sv(x) for x in (3.0, 2.5, 0.96, 12.4, 1234.0)] == [
        "3",
        "2,5",
        "1",
        "12",
        "1\u202f234",
    ]
    one_week = stat(1, 0.0, mean_8_weeks=1, baseline_weeks=1)
    assert "1 händelse vecka" in alarm_sentence(one_week, "Brand", "2026-W47")
    assert "(snitt för 1 vecka)" in alarm_sentence(one_week, "Brand", "2026-W47")


def test_without_a_short_mean_the_long_one_is_used_and_without_any_it_says_so() -> None:
    older = stat(6, None, mean_52=1.5, baseline_weeks=30, mean_8_weeks=None)
    assert expected_level(older) == (1.5, 30)
    nothing = stat(5, None, mean_52=None, baseline_weeks=0, mean_8_weeks=0)
    assert expected_level(nothing) is None
    assert alarm_sentence(nothing, "Klotter", "2026-W47") == (
        "Klotter i Skäggetorp: 5 händelser vecka 47, ingen tidigare vecka att jämföra med"
        " – ovanligt högt"
    )


def test_only_alarmed_cells_highest_first_with_labels_from_the_snapshot_or_catalogue() -> None:
    stats = [
        stat(4, 1.0, area="Ryd", category="klotter"),
        stat(9, 3.0),
        stat(30, 28.0, area="Berga", alert=False),
        stat(5, 1.0, area="Ryd", category="ny_kategori"),
    ]
    out = alarms(stats, {"klotter": "Klotter på väggar"}, "2026-W47")
    assert [a["sentence"].split(":")[0] for a in out] == [
        "Skadegörelse i Skäggetorp",  # not in the snapshot's labels: the catalogue's
        "ny_kategori i Ryd",  # unknown anywhere: the code, never a crash
        "Klotter på väggar i Ryd",
    ]
    assert out[0]["expected"] == 3.0 and out[0]["expected_weeks"] == 8 and out[0]["count"] == 9
    assert out[0]["text"] == "9 (förra veckan 4)"
