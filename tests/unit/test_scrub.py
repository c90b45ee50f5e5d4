"""shared.scrub: personal data out, ordinary numbers left alone (exact outputs)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scrub import PLACEHOLDERS, normalise, scrub, scrub_within

# 811218-9876 is Skatteverket's published test personnummer (valid check digit),
# 701063-2391 its test samordningsnummer (day 63 = 3 + 60).
SCRUBBED = [
    # personnummer and samordningsnummer
    ("Personen 811218-9876 greps", "Personen [personnummer] greps"),
    ("pnr 8112189876.", "pnr [personnummer]."),
    ("pnr 19811218-9876", "pnr [personnummer]"),
    ("pnr 198112189876", "pnr [personnummer]"),
    ("över 100 år: 811218+9876", "över 100 år: [personnummer]"),
    ("pnr 811218 9876", "pnr [personnummer]"),
    ("samordningsnr 701063-2391", "samordningsnr [personnummer]"),
    ("samordningsnr 197010632391", "samordningsnr [personnummer]"),
    # a compact ten-digit number starting with 0 is a personnummer only with a valid
    # check digit (born 2009-01-01, serial 123, check digit 9)
    ("pnr 0901011239", "pnr [personnummer]"),
    ("nr 0901011238", "nr [telefon]"),  # same digits, wrong check digit: a phone number
    # phone numbers
    ("ring 070-123 45 67 nu", "ring [telefon] nu"),
    ("ring 0701234567", "ring [telefon]"),
    ("ring 070 123 45 67", "ring [telefon]"),
    ("ring 070-1234567", "ring [telefon]"),
    ("ring +46 70 123 45 67", "ring [telefon]"),
    ("ring +46701234567", "ring [telefon]"),
    ("ring 0046 70 123 45 67", "ring [telefon]"),
    ("ring +46 (0)70-123 45 67", "ring [telefon]"),
    ("ring (070) 123 45 67", "ring [telefon]"),
    ("växeln 013-12 34 56", "växeln [telefon]"),
    ("växeln 08-123 456 78", "växeln [telefon]"),
    ("växeln 0510-123 45", "växeln [telefon]"),
    ("växeln 010-123 45 67.", "växeln [telefon]."),
    ("ring 070 123 45 67 3 personer", "ring [telefon] 3 personer"),
    ("(ring 0701234567) 2 st", "(ring [telefon]) 2 st"),
    # e-mail
    ("mejla anna.svensson@example.se", "mejla [e-post]"),
    ("kontakt: Åsa_Öberg+jour@kommun.linkoping.se, tack", "kontakt: [e-post], tack"),
    ("mejla 0701234567@sms.example.com", "mejla [e-post]"),
    # registration plates
    ("bilen ABC 123 stod still", "bilen [regnr] stod still"),
    ("bilen ABC123 stod still", "bilen [regnr] stod still"),
    ("bilen ABC 12A stod still", "bilen [regnr] stod still"),
    ("bilen ABC-123 stod still", "bilen [regnr] stod still"),
    ("mopeden (ÅÄÖ 12B)", "mopeden ([regnr])"),
    # several at once
    (
        "Väktare ringde 070-123 45 67 om 811218-9876 i ABC 123, se a@b.se",
        "Väktare ringde [telefon] om [personnummer] i [regnr], se [e-post]",
    ),
]

KEPT = [
    "kl 21:30",
    "kl 21:30-22:00",
    "mellan 20:00–02:00",
    "2026-11-20",
    "2026-11-20 21:30",
    "2026-11-20T21:30:00+01:00",
    "2026-01-05",
    "20261120",
    "år 2026",
    "v.47 2026",
    "kl 22",
    "kl 02-04",
    "öppet 09-12 13-15",
    "Storgatan 12",
    "Storgatan 12, 582 22 Linköping",
    "linje 12",
    "buss 4 och 12",
    "3 personer",
    "ca 10-15 ungdomar",
    "582 22",
    "ring 112",
    "0,5 km",
    "Lgh 1102",
    "ärende 2026-0123",
    "och 123 till",
    "KL 12",
    "ungefär 150 meter",
    "",
]


@pytest.mark.parametrize(("text", "expected"), SCRUBBED)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert scrub(text) == text


def test_compact_phone_number_that_looks_like_a_date_stays_a_phone() -> None:
    # 070123-4567 would be a plausible date, but without a dash and with a wrong check
    # digit "0701234567" is a mobile number.
    assert scrub("0701234567") == "[telefon]"


def test_scrub_is_idempotent() -> None:
    once = scrub(SCRUBBED[-1][0])
    assert scrub(once) == once


# --- normalisation, obfuscation, field limits ----------------------------------------


def test_output_is_the_normalised_text_with_only_the_spans_replaced() -> None:
    # Full-width digits and "＠" become ASCII, NBSP a space, zero-width characters go.
    text = "Kl ２２:１５ vid\u00a0linje 12: ring 070\u200b-123 45 67 eller a＠b.se\u00ad!"
    assert scrub(text) == "Kl 22:15 vid linje 12: ring [telefon] eller [e-post]!"
    assert normalise("a\u200be\u0301") == "aé"


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("a@b.se " * 10, 30),  # placeholders longer than what they replace
        ("ring 0701234567 och 0701234568", 20),  # a cut through a placeholder
        ("x" * 50, 10),
    ],
)
def test_scrub_within_keeps_the_limit_and_never_cuts_a_placeholder(text: str, limit: int) -> None:
    out = scrub_within(text, limit)
    assert len(out) <= limit
    assert out.endswith("...")
    assert "@" not in out and "0701" not in out
    stripped = out.removesuffix("...").rstrip()
    assert not stripped.endswith(tuple(p[:-1] for p in PLACEHOLDERS))  # no "[tele…"


def test_scrub_within_leaves_short_text_whole() -> None:
    assert scrub_within("ring 070-123 45 67", 200) == "ring [telefon]"


def test_amounts_with_a_plus_are_not_foreign_numbers() -> None:
    assert scrub("budget +1 250 000 000 kr") == "budget +1 250 000 000 kr"
    assert scrub("ring +47 412 34 567 kl 22") == "ring [telefon] kl 22"


# --- properties (hypothesis) -----------------------------------------------------------

# Text made of what the patterns look at, so that near misses and collisions are common.
_PIECES = st.sampled_from(
    [*"0123456789", " ", "-", "–", "+", ".", "/", "(", ")", "@", "a", "B", "c", "Ö", "x",
     "\u200b", "\u00ad", "０", "＠", " (at) ", "[dot]", "se", "46", "070", "811218", "9876",
     "ABC", "abc", *PLACEHOLDERS]
)  # fmt: skip
_TEXTS = st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=40).map("".join))


def _placeholder_chars(text: str) -> int:
    return sum(len(p) * text.count(p) for p in PLACEHOLDERS)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_scrub_is_idempotent_and_grows_only_by_placeholders(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once
    # Without its placeholders the output is never longer than the normalised input.
    assert len(once) - _placeholder_chars(once) <= len(normalise(text))


def _luhn_digit(nine: str) -> str:
    total = 0
    for i, char in enumerate(nine):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@st.composite
def obfuscated_personnummer(draw: st.DrawFn) -> tuple[str, str]:
    """(text, serial) for a valid personnummer or samordningsnummer, written in a way the
    scrubber promises to survive."""
    year = draw(st.integers(1900, 2025))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28)) + draw(st.sampled_from([0, 60]))
    date = f"{year % 100:02d}{month:02d}{day:02d}"
    serial = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    serial += _luhn_digit(date + serial)
    century = draw(st.sampled_from(["", str(year // 100)]))
    sep = draw(st.sampled_from(["-", "–", "—", "−", "\u2011", "+", " ", ".", "/", ""]))
    if draw(st.booleans()):  # separators inside the date too
        inner = draw(st.sampled_from(["-", " ", ".", "/"]))
        number = inner.join([century + date[:2], date[2:4], date[4:]]) + inner + serial
    else:
        number = century + date + sep + serial
    if draw(st.booleans()):
        number = number.translate(_FULL_WIDTH)
    cut = draw(st.integers(0, len(number)))
    invisible = draw(st.sampled_from(["", "\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"]))
    number = number[:cut] + invisible + number[cut:]
    return f"Personen {number} greps", serial


@settings(max_examples=300, deadline=None)
@given(obfuscated_personnummer())
def test_obfuscated_personnummer_never_survive(case: tuple[str, str]) -> None:
    text, serial = case
    out = scrub(text)
    assert out in ("Personen [personnummer] greps", "Personen [telefon] greps"), (text, out)
    assert serial not in out


@st.composite
def formatted_phone_number(draw: st.DrawFn) -> str:
    mobile = draw(st.from_regex(r"7[02369][0-9]{7}", fullmatch=True))  # 70 123 45 67
    groups = [mobile[:2], mobile[2:5], mobile[5:7], mobile[7:]]
    style = draw(st.sampled_from(["spaces", "dash", "dots", "slash", "compact", "dashes"]))
    head = draw(st.sampled_from(["0", "+46 ", "+46 (0)", "0046 ", "+46"]))
    area = head + groups[0]
    rest = groups[1:]
    number = {
        "spaces": f"{area} {' '.join(rest)}",
        "dash": f"{area}-{' '.join(rest)}",
        "dots": f"{area}.{'.'.join(rest)}",
        "slash": f"{area}/{''.join(rest)}",
        "compact": area + "".join(rest),
        "dashes": f"{area}-{'-'.join(rest)}",
    }[style]
    if draw(st.booleans()):
        number = number.translate(_FULL_WIDTH)
    return f"ring {number} nu"


@settings(max_examples=300, deadline=None)
@given(formatted_phone_number())
def test_formatted_phone_numbers_never_survive(text: str) -> None:
    out = scrub(text)
    assert out in ("ring [telefon] nu", "ring [personnummer] nu"), (text, out)
