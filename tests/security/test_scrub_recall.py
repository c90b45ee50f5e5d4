"""How well `shared.scrub` finds personal data: recall per label and false-positive rate.

The labelled set is tests/security/scrub_cases.json: each case has a `label`
(personnummer, samordningsnummer, phone, email, plate, or none for harmless text), the
`text` and the `expected` scrubbed text. A positive case counts as found when the output
is exactly the expected text (the value replaced, everything around it kept); a negative
case is a false positive when its text is changed by more than normalisation.

The figures are printed (run with `-s` or `-rA`) and recorded as JUnit properties.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.scrub import PLACEHOLDERS, scrub

CASES_FILE = Path(__file__).with_name("scrub_cases.json")
POSITIVE_LABELS = ("personnummer", "samordningsnummer", "phone", "email", "plate")
# Every positive case of the set must be found; at most 1 % of the harmless texts may be
# touched. The one known false positive is "20261120 2215" (a compact date and time whose
# ten digits happen to pass the personnummer check digit), see shared/scrub.py.
RECALL_THRESHOLD = 1.0
FALSE_POSITIVE_THRESHOLD = 0.01


def load_cases() -> list[dict[str, str]]:
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    assert isinstance(cases, list)
    return cases


def test_the_labelled_set_is_large_and_well_formed() -> None:
    cases = load_cases()
    labels = [c["label"] for c in cases]
    assert len(cases) >= 150
    assert set(labels) == {*POSITIVE_LABELS, "none"}
    assert labels.count("none") >= 100
    for label in POSITIVE_LABELS:
        assert labels.count(label) >= 10, label
    texts = [c["text"] for c in cases]
    assert len(set(texts)) == len(texts), "a case is in the set twice"
    for case in cases:
        if case["label"] == "none":
            # Harmless text may only change by normalisation (checked with the standard
            # library, not with the code under test).
            assert case["expected"] == unicodedata.normalize("NFKC", case["text"]), case
        else:
            assert any(p in case["expected"] for p in PLACEHOLDERS), case


def measure(
    cases: list[dict[str, str]], scrubber: Callable[[str], str] = scrub
) -> tuple[dict[str, tuple[int, int]], tuple[int, int], list[tuple[str, str, str, str]]]:
    """(found, total) per positive label, (false positives, negatives), and the misses as
    (label, text, got, expected)."""
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_positives = negatives = 0
    misses = []
    for case in cases:
        got = scrubber(case["text"])
        ok = got == case["expected"]
        if case["label"] == "none":
            negatives += 1
            false_positives += not ok
        else:
            per_label[case["label"]][0] += ok
            per_label[case["label"]][1] += 1
        if not ok:
            misses.append((case["label"], case["text"], got, case["expected"]))
    return {k: (v[0], v[1]) for k, v in per_label.items()}, (false_positives, negatives), misses


def report(per_label: dict[str, tuple[int, int]], fp: tuple[int, int]) -> list[str]:
    lines = ["scrub quality on tests/security/scrub_cases.json:"]
    found = sum(f for f, _ in per_label.values())
    total = sum(t for _, t in per_label.values())
    for label in POSITIVE_LABELS:
        f, t = per_label.get(label, (0, 0))
        lines.append(f"  recall {label:<18} {f / t if t else 0:.3f}  ({f}/{t})")
    lines.append(f"  recall {'all labels':<18} {found / total:.3f}  ({found}/{total})")
    lines.append(
        f"  false-positive rate       {fp[0] / fp[1]:.3f}  ({fp[0]}/{fp[1]} harmless texts)"
    )
    return lines


def test_recall_per_label_and_false_positive_rate(
    record_property: Callable[[str, object], None],
) -> None:
    per_label, fp, misses = measure(load_cases())
    lines = report(per_label, fp)
    for label, text, got, expected in misses:
        lines.append(f"  miss [{label}] {text!r} -> {got!r} (expected {expected!r})")
    print("\n" + "\n".join(lines))
    for label, (f, t) in per_label.items():
        record_property(f"recall_{label}", round(f / t, 4))
    record_property("false_positive_rate", round(fp[0] / fp[1], 4))

    low = {k: f / t for k, (f, t) in per_label.items() if f / t < RECALL_THRESHOLD}
    assert not low, f"recall below {RECALL_THRESHOLD}: {low}"
    assert fp[0] / fp[1] <= FALSE_POSITIVE_THRESHOLD, f"false-positive rate {fp[0] / fp[1]:.3f}"


def test_the_measure_notices_a_scrubber_that_misses_and_one_that_overreaches() -> None:
    # The figures above are only worth something if a worse scrubber scores worse.
    cases = load_cases()
    per_label, fp, _ = measure(cases, scrubber=lambda text: text)
    assert all(f == 0 for f, _ in per_label.values())
    assert fp[0] <= 3  # only the cases normalisation changes
    per_label, fp, _ = measure(cases, scrubber=lambda text: PLACEHOLDERS[0])
    assert fp == (fp[1], fp[1])


def _obfuscated(text: str) -> bool:
    """Text that normalisation changes: full-width characters, NBSP, invisible characters."""
    invisible = any(ch in text for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad")
    return invisible or unicodedata.normalize("NFKC", text) != text


@pytest.mark.parametrize("label", POSITIVE_LABELS)
def test_every_label_has_obfuscated_cases(label: str) -> None:
    # The set must exercise what the scrubber claims to survive, for every label.
    cases = load_cases()
    obfuscated = [c for c in cases if c["label"] == label and _obfuscated(c["text"])]
    assert len(obfuscated) >= 2, label
