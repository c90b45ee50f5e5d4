"""Remove personal data from free text before it is stored or shown (GDPR).

Reports carry a free-text description written in a hurry by a guard or field worker;
it may contain a personnummer, a phone number, an e-mail address or a car's
registration number. `scrub` replaces those with placeholders. It errs on the side of
scrubbing personal data but leaves the ordinary numbers a report is full of alone:
times (21:30), dates (2026-11-20), years, house and bus-line numbers, counts and
postcodes (582 22).
"""

from __future__ import annotations

import re

PERSONNUMMER = "[personnummer]"
PHONE = "[telefon]"
EMAIL = "[e-post]"
PLATE = "[regnr]"

# --- patterns: all in one place, applied in this order by `scrub` -----------------

# E-mail first: an address may contain digits that would otherwise look like a phone.
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# Personnummer and samordningsnummer: [YY]YYMMDD, optional -, + or space, four digits.
# The date must be plausible (samordningsnummer add 60 to the day), which keeps
# arbitrary digit runs out.
_PERSONNUMMER_RE = re.compile(
    r"(?<!\d)"
    r"(?P<century>19|20)?"
    r"(?P<date>\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01]))"
    r"(?P<sep>[-+ ]?)"
    r"(?P<serial>\d{4})"
    r"(?!\d)"
)

# Phone number candidate: +46 / 0046 (maybe followed by "(0)") or a trunk 0 and an area
# code digit (so "582 22", "linje 12" never start one), then digits
# with single spaces or dashes between them. `_phone_prefix` decides how much of the
# candidate really is a number; the regex alone would also take "070-123 45 67 3".
# Not after a word character, "+" or "-": "2026-01-05" must not yield "01-05".
_PHONE_CANDIDATE_RE = re.compile(
    r"(?<![\w+-])"
    r"(?:(?P<country>(?:\+|00)46[ -]?(?:\(0\)[ -]?)?)|(?P<paren>\((?=0\d{1,3}\)))?(?=0[1-9]))"
    r"(?P<body>\d(?:(?:\) ?|[ -])?\d)*)"
)
# "-", " " or the ")" closing an area code written as "(070) 123 45 67".
_PHONE_SEPARATOR_RE = re.compile(r"(\) ?|[ -])")

# Registration plate: three capitals, optional space or dash, two digits and a digit or
# letter (ABC 123, ABC123, ABC 12A). Capitals only: "och 123" must stay.
_PLATE_RE = re.compile(r"(?<!\w)[A-ZÅÄÖ]{3}[ -]?\d{2}[\dA-Z](?!\w)")


def scrub(text: str) -> str:
    """`text` with personnummer, phone numbers, e-mail addresses and plates replaced."""
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _PERSONNUMMER_RE.sub(_replace_personnummer, text)
    text = _PHONE_CANDIDATE_RE.sub(_replace_phone, text)
    return _PLATE_RE.sub(PLATE, text)


# --- personnummer ------------------------------------------------------------------


def _replace_personnummer(match: re.Match[str]) -> str:
    ten_digits = match["date"] + match["serial"]
    # "0701234567" is a mobile number far more often than the personnummer of someone
    # born in 2007; the check digit tells them apart (the phone pattern takes the rest).
    compact = not match["century"] and not match["sep"]
    if compact and ten_digits.startswith("0") and not _luhn_valid(ten_digits):
        return match[0]
    return PERSONNUMMER


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(digits):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return total % 10 == 0


# --- phone numbers -----------------------------------------------------------------


def _replace_phone(match: re.Match[str]) -> str:
    body = match["body"]
    international = match["country"] is not None
    length = _phone_prefix(body, international=international, paren=bool(match["paren"]))
    if length == 0:
        return match[0]
    return PHONE + body[length:]


def _phone_prefix(body: str, *, international: bool, paren: bool) -> int:
    """Length of the longest start of `body` that is a whole phone number, else 0."""
    parts = _PHONE_SEPARATOR_RE.split(body)  # digits, separator, digits, …
    for end in range(len(parts), 0, -2):
        if _is_phone(parts[:end], international=international, paren=paren):
            return len("".join(parts[:end]))
    return 0


def _is_phone(parts: list[str], *, international: bool, paren: bool) -> bool:
    groups, separators = parts[::2], parts[1::2]
    digits = sum(len(g) for g in groups)
    # Swedish numbers: trunk 0 + 7 to 9 digits; after +46 the trunk 0 is dropped.
    if not (7 <= digits <= 9 if international else 8 <= digits <= 10):
        return False
    # "(" only with a ")" right after the area code, and ")" only after a "(".
    if paren != (bool(separators) and separators[0].startswith(")")):
        return False
    if len(groups) == 1:
        return True
    # A dash or ")" only once, right after the area code ("08-123 456 78"), so that
    # times like "09-12 13-15" stay.
    if any(sep.strip() for sep in separators[1:]):
        return False
    area, subscriber = groups[0], groups[1:]
    if len(area) > (3 if international else 4):
        return False
    if len(subscriber) == 1:
        return 5 <= len(subscriber[0]) <= 8  # "070-1234567"
    return all(2 <= len(g) <= 4 for g in subscriber)  # "070-123 45 67"
