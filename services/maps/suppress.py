"""Small-count suppression for the public lägesbild.

A count below `MIN_PUBLIC_COUNT` (zero included, so a shown "0" cannot be told from a
suppressed one) is shown as "<3". A change is shown only when both weeks' counts are
shown: "+2" next to a shown 4 would give away a suppressed 2.

These are the primary rule for a lone count. Counts shown together with their totals
(area × category tables, hotspots) go through `disclosure.public_counts`, which adds
complementary suppression: a count withheld so that a small one cannot be worked out
from the totals is shown as "≥3" (`HIDDEN`).
"""

from __future__ import annotations

MIN_PUBLIC_COUNT = 3
SUPPRESSED = f"<{MIN_PUBLIC_COUNT}"
HIDDEN = f"≥{MIN_PUBLIC_COUNT}"


def shown_count(n: int) -> int | str:
    return n if n >= MIN_PUBLIC_COUNT else SUPPRESSED


def shown_change(count: int, previous: int) -> int | None:
    if count < MIN_PUBLIC_COUNT or previous < MIN_PUBLIC_COUNT:
        return None
    return count - previous
