"""The public lägesbild's summary: aggregated counts only, small counts suppressed.

Generated from the same snapshot as the restricted one, through the same counting rule
(`shared.counting`). It holds no free text, no points, no organisation names and no count
below 3; counts that would let a small one be worked out from a shown total are withheld
as "≥3" (`disclosure.public_counts`, the same numbers as the public map and meeting pack,
which are rendered from this summary). The model is `summary.PublicWeekSummary`.
"""

from __future__ import annotations

from services.maps.summary import SUPPRESSION_NOTE, public_summary, public_summary_model

__all__ = ["SUPPRESSION_NOTE", "public_summary", "public_summary_model"]
