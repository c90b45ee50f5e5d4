"""CSV formula injection: keep a spreadsheet from running a cell as a formula.

Every CSV the product writes (the week's exports, the import's rejected rows) passes each
cell through `safe_cell`. A text cell whose first character, after any leading
whitespace, is one a spreadsheet reads as the start of a formula or a DDE call — `=`, `+`,
`-`, `@`, tab, carriage return, line feed, or their full-width forms `＝＋－＠` — gets a
leading apostrophe, so Excel, LibreOffice and Google Sheets show it as text
(`=cmd|' /C calc'!A0` → `'=cmd|' /C calc'!A0`). The rule holds whatever the delimiter:
the `csv` module quotes the cell for `,` and `;` dialects alike, and the spreadsheet
strips the quotes before it looks at the first character.

One exception, on purpose: a plain negative number (`-2`, `-12.5`, `-12,5`) stays as it
is. It has a sign and digits only — no operator after the sign, no reference, function or
`|` — so every spreadsheet reads it as a number constant, never a formula; an apostrophe
would only turn a number into text and break sums. `-2+3`, `-1e3`, `-A1` are not plain
and are prefixed. Numbers the product writes as int/float are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r\n＝＋－＠")
_PLAIN_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(?:[.,][0-9]+)?", re.ASCII)


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should see it: formula-like text gets a leading `'`."""
    if not isinstance(value, str):
        return value
    start = value.lstrip(" \u00a0")  # a leading space does not stop every tool
    if not start or start[0] not in FORMULA_STARTS:
        return value
    if _PLAIN_NEGATIVE_NUMBER.fullmatch(start):
        return value
    return "'" + value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """`safe_cell` on every cell of a row (for `csv.writer.writerow`)."""
    return [safe_cell(v) for v in values]
