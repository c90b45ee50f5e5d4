"""shared.scrub: personal data out, ordinary numbers left alone (exact outputs)."""

from __future__ import annotations

import pytest

from shared.scrub import scrub

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
