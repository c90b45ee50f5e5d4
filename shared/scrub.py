"""Remove personal data from free text before it is stored, published or shown (GDPR).

Reports, decisions, plans and TiB orders carry free text written in a hurry; it may contain
a personnummer or samordningsnummer, a phone number, an e-mail address or a car's
registration number, sometimes obfuscated on purpose. `scrub` replaces each with a
placeholder and leaves the ordinary numbers such texts are full of alone: times (21:30,
kl 2215), dates (2026-11-20, 20.11.2026), years, house, bus-line and case numbers,
postcodes (582 22), amounts and coordinates. Only the matched span is replaced.

Normalisation first: invisible characters are removed (zero-width space/joiners, word
joiner, BOM, soft hyphen, bidi controls; an emoji sequence joined by U+200D falls apart
into its emojis) and the text is put in Unicode NFKC form (full-width digits and "＠"
become ASCII, non-breaking and thin spaces become spaces, "…" becomes "..."). The result
is that normalised text with the spans replaced, so `scrub` is idempotent. `scrub_within`
also keeps a field's length limit (a placeholder can be longer than what it replaced).

What counts as what. Measured on the labelled set tests/security/scrub_cases.json (336
cases, 181 of them harmless texts), printed by tests/security/test_scrub_recall.py: recall
1.0 for every label; 1 false positive in 181 harmless texts (0.6 %), "20261120 2215". The
rules were written together with most of the set; of 47 harmless texts written after them,
2 were touched ("hej 123", "Ost 12B") until their words joined `_NOT_PLATES`.

- **Personnummer / samordningsnummer** ([YY]YYMMDD, day + 60 for samordningsnummer) with
  no separator or one of: any dash or minus (- ‐ ‑ ‒ – — − －), "+", space, dot, slash
  before the last four digits; also with one separator repeated inside the date
  ("81 12 18-9876", "1981.12.18.9876"). The date must be plausible. A valid check digit
  (Luhn) is required only where the digits could well be something else: a compact
  ten-digit number starting with 0 (a mobile number), a date with separators inside it (a
  date followed by a number), and a twelve-digit number with a space before the last four
  (a compact date and a time, "20261120 2215": caught all the same when its digits pass
  the check, 1 in 10). Elsewhere a wrong check digit is still scrubbed (a typo in a
  personnummer still points at a person).
- **Phone numbers**: Swedish, with trunk 0 or +46 / 0046 (also "+46 (0)70…" and the
  common "+46 070…"), groups separated by spaces, dots, slashes or dashes
  ("070-123 45 67", "070.123.45.67", "070/1234567", "(08) 123 456 78"); a dash or dot
  between the later groups only when every separator is the same ("070-123-45-67").
  A two-digit area code must be 08; DD MM YYYY shapes ("08/12 2026") are dates, never
  numbers. Several numbers in a row are each replaced. Foreign numbers: "+", a country
  code and 9–15 digits in all, not before an amount ("+1 250 000 000 kr").
- **E-mail**: local@domain.tld, also with " @ ", "(at)", "[at]", "{at}", "<at>",
  "(snabel-a)", " at " and "(dot)", "[dot]", "(punkt)", " dot " (in the local part too),
  in any case.
- **Registration plates** (Swedish: three letters, two digits, a digit or a letter; with
  a space, any dash or nothing between): in capitals always ("ABC 123", "ÅÄÖ 12B"), except
  combinations that are never issued (SOS, USA, SEX, ...). In lower or mixed case
  ("abc 123", "Abc-12d") only with the letters plates use (no I, Q, V, Å, Ä, Ö) and when
  the letters are not a Swedish word or abbreviation that is followed by numbers in reports
  ("och 123", "Ryd 12B", "box 123", "tog 123", "kap 12a"): `_NOT_PLATES`. So a plate
  written in lower case whose letters spell such a word ("hus 123") is kept.

Known limits: personal plates (any 2–7 characters) and foreign plates are not found; a
number shaped like a personnummer with a plausible date ("20261120-0001", twelve digits)
is scrubbed even when it is an order number; a word outside `_NOT_PLATES` in lower case
before a house number ("xyz 12B") is taken for a plate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

PERSONNUMMER = "[personnummer]"
PHONE = "[telefon]"
EMAIL = "[e-post]"
PLATE = "[regnr]"
PLACEHOLDERS = (PERSONNUMMER, PHONE, EMAIL, PLATE)
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))

# --- normalisation ------------------------------------------------------------------

# Invisible characters someone may put inside a number to get it past a filter: soft
# hyphen, combining grapheme joiner, Arabic letter mark, Mongolian vowel separator,
# zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings and isolates, word joiner
# and invisible operators, BOM.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# Every dash and minus NFKC leaves as it is (hyphen, non-breaking hyphen, figure dash, en
# and em dash, horizontal bar, minus; the small and full-width ones NFKC makes "-").
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DASH = f"[{_DASHES}]"


def normalise(text: str) -> str:
    """NFKC without invisible characters: what `scrub` matches on and returns."""
    # Invisible characters out first: one between a letter and a combining mark would
    # otherwise keep them apart until the next normalisation (not idempotent).
    return unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", text))


# --- patterns: all in one place, applied in this order by `scrub` -----------------

# E-mail first: an address may contain digits that would otherwise look like a phone.
_AT = r"(?:[ ]?@[ ]?|[ ]?[(\[{<][ ]?(?:at|snabel-?a)[ ]?[)\]}>][ ]?|[ ](?:at|snabel-?a)[ ])"
_WORD_DOT = r"(?:[ ]?[(\[{<][ ]?(?:dot|punkt)[ ]?[)\]}>][ ]?|[ ](?:dot|punkt)[ ])"
_DOT = rf"(?:\.|{_WORD_DOT})"
_EMAIL_RE = re.compile(
    rf"(?<![\w.+-])[\w.+-]+(?:{_WORD_DOT}[\w.+-]+)*{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,24}}"
    r"(?![\w-])",
    re.IGNORECASE,
)

# Personnummer and samordningsnummer. Not inside a longer number or after a decimal
# point ("58.4108091234"). The date must be plausible (samordningsnummer add 60 to the
# day), which keeps arbitrary digit runs out.
_NOT_AFTER_NUMBER = r"(?<![0-9])(?<![0-9][.,])"
_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
# Before the last four digits: a dash or "+" (maybe with spaces), or a space, dot, slash.
_SERIAL_SEP = rf"(?:[ ]?(?:{_DASH}|\+)[ ]?|[ ./])"
_PERSONNUMMER_RE = re.compile(
    _NOT_AFTER_NUMBER + rf"(?P<century>19|20)?(?P<date>[0-9]{{2}}{_MONTH}{_DAY})"
    rf"(?P<sep>{_SERIAL_SEP})?(?P<serial>[0-9]{{4}})(?![0-9])"
)
# The same with a separator inside the date, the same one twice: "81 12 18-9876",
# "1981-12-18-9876", "81.12.18.9876". The last four follow that separator or a dash/"+".
_SPACED_PERSONNUMMER_RE = re.compile(
    _NOT_AFTER_NUMBER + rf"(?:19|20)?(?P<yy>[0-9]{{2}})(?P<s>{_DASH}|[ ./])(?P<mm>{_MONTH})"
    rf"(?P=s)(?P<dd>{_DAY})(?:(?P=s)|[ ]?(?:{_DASH}|\+)[ ]?)(?P<serial>[0-9]{{4}})(?![0-9])"
)

# Phone number candidate: +46 / 0046 (maybe followed by "(0)"), "+" and another country
# code, or a trunk 0 and an area code digit (so "582 22", "linje 12" never start one),
# then digits with separators between them (at most 16 digits: no number is longer, and
# a long digit run costs no more than a short one). `_number_length` decides how much of
# the candidate really is a number; the regex alone would also take "070-123 45 67 3".
# Not after a word character, "+", a dash or a decimal point: "2026-01-05" must not
# yield "01-05". "+" and an amount ("+1 250 000 000 kr") is no foreign number.
_PHONE_SEP = rf"\)[ ]?|[ ]?(?:{_DASH}|/)[ ]?|[ .]"
_PHONE_CORE = (
    rf"(?:(?P<country>(?:\+|00)[ ]?46[ ]?(?:{_DASH}[ ]?)?(?:\(0\)[ ]?)?)"
    r"|(?P<foreign>\+(?!46)[1-9][0-9]{0,2}[ ]?)(?![0-9 ]*(?i:kr|sek|:-|%|€|\$|eur|usd))"
    r"|(?P<paren>\((?=0[0-9]{1,3}\)))?(?=0[1-9]))"
    rf"(?P<body>[0-9](?:(?:{_PHONE_SEP})?[0-9]){{0,15}})"
)
_PHONE_CANDIDATE_RE = re.compile(rf"(?<![\w+{_DASHES}])(?<![0-9][.,/]){_PHONE_CORE}")
# Right after a number: a second one glued on with a dash or slash ("0701234567-0709…").
_PHONE_GLUED_RE = re.compile(rf"(?P<glue>[ ]?(?:{_DASH}|/)[ ]?){_PHONE_CORE}")
_PHONE_SEPARATOR_RE = re.compile(f"({_PHONE_SEP})")

# Registration plate candidate: three letters, an optional space or dash, two digits and
# a digit or letter. `_replace_plate` decides by case and letters.
_PLATE_RE = re.compile(
    rf"(?<!\w)(?P<letters>[A-ZÅÄÖa-zåäö]{{3}})(?:[ ]|{_DASH})?"
    r"(?P<tail>[0-9]{2}[0-9A-Za-zÅÄÖåäö])(?!\w)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Letters on Swedish plates: the alphabet without I, Q, V, Å, Ä, Ö.
_PLATE_LETTERS = frozenset("ABCDEFGHJKLMNOPRSTUWXYZ")
# Combinations Transportstyrelsen never issues (published examples) and "SOS": never a
# plate, in any case.
_NEVER_ISSUED = _words(
    "apa arg dum dyr fan feg fel ful gay glo hot lat nej nrp ond sap sex sos sup toa ufo usa xxl"
)
# Words and abbreviations (plate letters only) that reports put before a number: in lower
# or mixed case these start a house number, a line, a chapter, a room..., not a plate.
_NOT_PLATES = _NEVER_ISSUED | _words(
    """
    och som men att den det dem ett han hon jag man kan har hur med mot hos per upp ner ned
    ute mer nog oss ens ena all god bra rak ung gul nya nye hej nej tja ska tar ser far mor
    bor son tre fem sex sju tot sum max alt ant pkt ggr sek dgr ton tum
    jan feb mar apr maj jun jul aug sep okt dec ons tor fre dag
    bus hus rum box sal bad bar pub bod tak hem gym zon ort kaj bro led tag tog lok hpl
    tur rad lek sol mur ost syd sky dal ryd
    tel tfn mob fax lgh dnr ref org etc bla pga obs spr nod fas grp lag kat typ kod
    kap del bet mom sfs dom art akt ord sak mat bud set cup pop
    the and for not are new one two
    """
)


def scrub(text: str) -> str:
    """`text`, normalised, with personnummer and samordningsnummer, phone numbers, e-mail
    addresses and registration plates replaced by placeholders."""
    text = normalise(text)
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _SPACED_PERSONNUMMER_RE.sub(_replace_spaced_personnummer, text)
    text = _PERSONNUMMER_RE.sub(_replace_personnummer, text)
    text = _scrub_phones(text)
    return _PLATE_RE.sub(_replace_plate, text)


_CUT = "..."


def scrub_within(text: str, limit: int) -> str:
    """`scrub(text)` in at most `limit` characters: a placeholder may be longer than what
    it replaces, and a field's limit must still hold. A cut text ends with "..." (NFKC
    makes "…" that anyway) and never ends inside a placeholder."""
    full = scrub(text)
    keep = limit - len(_CUT)
    while len(full) > limit and keep > 0:
        for found in _PLACEHOLDER_RE.finditer(full, 0, keep + len(PERSONNUMMER)):
            if found.start() < keep < found.end():
                keep = found.start()
        # Scrub the cut text again: a number cut short may match now, and be longer.
        out = scrub(full[:keep].rstrip() + _CUT)
        if len(out) <= limit:
            return out
        keep -= len(out) - limit
    return full if len(full) <= limit else full[:0]


# --- personnummer ------------------------------------------------------------------


def _replace_personnummer(match: re.Match[str]) -> str:
    ten_digits = match["date"] + match["serial"]
    sep = match["sep"] or ""
    # "0701234567" is a mobile number far more often than the personnummer of someone
    # born in 2007, and "20261120 2215" a date and a time: there the check digit decides
    # (the phone pattern takes the rest).
    compact_zero = not match["century"] and not sep and ten_digits.startswith("0")
    date_and_time = bool(match["century"]) and sep == " "
    if (compact_zero or date_and_time) and not _luhn_valid(ten_digits):
        return match[0]
    return PERSONNUMMER


def _replace_spaced_personnummer(match: re.Match[str]) -> str:
    ten_digits = match["yy"] + match["mm"] + match["dd"] + match["serial"]
    return PERSONNUMMER if _luhn_valid(ten_digits) else match[0]


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(digits):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return total % 10 == 0


# --- phone numbers -----------------------------------------------------------------


def _scrub_phones(text: str) -> str:
    """Every phone number in `text` replaced, also several in a row: after a number, or
    after a candidate that is none, the search goes on right behind it."""
    out: list[str] = []
    pos, after_number = 0, False
    while True:
        glued = _PHONE_GLUED_RE.match(text, pos) if after_number else None
        if glued is not None and (length := _number_length(glued)):
            out += [text[pos : glued.end("glue")], PHONE]
            pos = glued.start("body") + length
            continue
        match = _PHONE_CANDIDATE_RE.search(text, pos)
        if match is None:
            break
        body = match.start("body")
        if length := _number_length(match):
            out += [text[pos : match.start()], PHONE]
            pos, after_number = body + length, True
        else:  # keep the first group; a number may start at a later one
            first = len(_PHONE_SEPARATOR_RE.split(match["body"], maxsplit=1)[0])
            out.append(text[pos : body + first])
            pos, after_number = body + first, False
    out.append(text[pos:])
    return "".join(out)


def _number_length(match: re.Match[str]) -> int:
    """How many characters of the candidate's body are a phone number (0: none)."""
    body = match["body"]
    if match["foreign"] is not None:
        country = match["foreign"].strip().lstrip("+")
        return _longest_prefix(body, lambda parts: _is_foreign_phone(country, parts))
    international, paren = match["country"] is not None, bool(match["paren"])
    return _longest_prefix(
        body, lambda parts: _is_phone(parts, international=international, paren=paren)
    )


def _longest_prefix(body: str, is_number: Callable[[list[str]], bool]) -> int:
    """Length of the longest start of `body` that is a whole phone number, else 0."""
    parts = _PHONE_SEPARATOR_RE.split(body)  # digits, separator, digits, …
    for end in range(len(parts), 0, -2):
        if is_number(parts[:end]):
            return len("".join(parts[:end]))
    return 0


def _kind(separator: str) -> str:
    """A separator without its spaces: "" (space), "-" (any dash), "/", "." or ")"."""
    core = separator.strip()
    return "-" if core and core in _DASHES.replace("\\", "") else core


def _is_phone(parts: list[str], *, international: bool, paren: bool) -> bool:
    groups, separators = list(parts[::2]), [_kind(s) for s in parts[1::2]]
    if international and groups[0].startswith("0"):  # "+46 070…": the trunk 0 kept
        groups[0] = groups[0][1:]
        if not groups[0]:
            groups, separators = groups[1:], separators[1:]
            if not groups:
                return False
    digits = sum(len(g) for g in groups)
    # Swedish numbers: trunk 0 + 7 to 9 digits; after +46 the trunk 0 is dropped.
    if not (7 <= digits <= 9 if international else 8 <= digits <= 10):
        return False
    if _is_date(groups):
        return False
    # "(" only with a ")" right after the area code, and ")" only after a "(".
    if paren != (bool(separators) and separators[0] == ")"):
        return False
    if len(groups) == 1:
        return True
    # Later separators are spaces, or all the same as the first ("070-123-45-67",
    # "070.123.45.67"): times and ranges like "09-12 13-15", "08.30 09.15" stay.
    rest = separators[1:]
    uniform = separators[0] in ("-", ".") and all(s == separators[0] for s in rest)
    if any(rest) and not uniform:
        return False
    area, subscriber = groups[0], groups[1:]
    if not _area_code_ok(area, international=international):
        return False
    if len(subscriber) == 1:
        return 5 <= len(subscriber[0]) <= 8  # "070-1234567"
    return all(2 <= len(g) <= 4 for g in subscriber)  # "070-123 45 67"


def _area_code_ok(area: str, *, international: bool) -> bool:
    """Swedish area codes: 08, or three or four digits with the trunk 0 (010, 0510)."""
    national = area if not international else "0" + area
    if len(national) == 2:
        return national == "08"
    return 3 <= len(national) <= 4


def _is_date(groups: list[str]) -> bool:
    """DD MM YYYY or DDMMYYYY, whatever the separators: "08/12 2026", "01122026"."""
    text = "".join(groups)
    if len(groups) not in (1, 3) or len(text) != 8:
        return False
    if len(groups) == 3 and [len(g) for g in groups] != [2, 2, 4]:
        return False
    day, month, year = int(text[:2]), int(text[2:4]), text[4:6]
    return 1 <= day <= 31 and 1 <= month <= 12 and year in ("19", "20")


def _is_foreign_phone(country: str, parts: list[str]) -> bool:
    """ "+47 412 34 567", "+358 40 123 4567": 9–15 digits with the country code, groups
    of 2–4 after the first, one kind of separator."""
    groups, separators = parts[::2], {_kind(s) for s in parts[1::2]}
    if not 9 <= len(country) + sum(len(g) for g in groups) <= 15:
        return False
    if ")" in separators or len(separators) > 1:
        return False
    return all(2 <= len(g) <= 4 for g in groups[1:])


# --- registration plates -------------------------------------------------------------


def _replace_plate(match: re.Match[str]) -> str:
    letters, tail = match["letters"], match["tail"]
    if letters.lower() in _NEVER_ISSUED:
        return match[0]
    if letters.isupper() and not tail[-1].islower():
        return PLATE  # capitals: "ABC 123", "ÅÄÖ 12B" (foreign or a typo, still a plate)
    # Lower or mixed case: a plate's letters only, and not a word that takes a number.
    chars = (letters + (tail[-1] if tail[-1].isalpha() else "")).upper()
    if any(c not in _PLATE_LETTERS for c in chars) or letters.lower() in _NOT_PLATES:
        return match[0]
    return PLATE
