"""A seeded corpus of phone numbers as people and exports type them, messy on purpose.

Shared by the differential test (every answer of ``crm.phones`` against libphonenumber's
own) and ``bench/phones.py`` (the time ``normalize`` takes over the same kind of input).
"""

import random
from collections.abc import Iterator

import phonenumbers

REGIONS = ["US", "US", "US", "CA", "JM", "PR", "GB", "DE", "FR", "IN", "BR", "AU", "MX", "JP"]
AREA_CODES = ["678", "212", "415", "264", "268", "340", "416", "441", "787", "809", "876", "800"]
AREA_CODES += ["900", "555", "123", "911", "011", "999"]
SEPARATORS = [" ", " ", "-", "-", ".", "", "", "\t", "  ", "/", "\u00a0", "\u2013", "\u3000"]
SEPARATORS += ["_", ",", "\n", "~", "\u2010", "--", " - "]
PREFIXES = ["", "", "", "1", "1 ", "+1", "+1 ", "+ 1 ", "(+1) ", "+", "001 ", "011 1 "]
PREFIXES += ["1-", "00 1 ", "tel:", "Tel. ", "Phone: ", "#", "*", "(", "+(1) ", "++1", "11"]
EXTENSIONS = ["", "", "", "", " x12", " ext. 5", " ext 123", "#34", ";ext=9", " extension 3"]
EXTENSIONS += [",12", " x", " X 7", "\tx12", " ext.", " Ext: 44", " #", " doorbell"]
SUFFIXES = ["", "", "", "", " ", ")", "-", ".", " (mobile)", "\t", " !", "'", "\u200b"]
PLAIN_SEPARATORS = [" ", "-", ".", "", " - ", "  ", "\t"]
PLAIN_PREFIXES = ["", "", "1", "1 ", "+1 ", "+1", "1-", "+1-", "+ 1 ", "(+1) "]
# Fullwidth, Arabic-Indic, Eastern Arabic-Indic and Devanagari digits, 0 to 9.
UNICODE_DIGITS = [
    "".join(chr(zero + i) for i in range(10)) for zero in (0xFF10, 0x660, 0x6F0, 0x966)
]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz"


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def _nanp(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES) if rng.random() < 0.6 else _digits(rng, 3)
    exchange = _digits(rng, 3)
    line = _digits(rng, 4)
    style = rng.random()
    sep1, sep2 = rng.choice(SEPARATORS), rng.choice(SEPARATORS)
    if style < 0.25:
        body = f"({area}){rng.choice(SEPARATORS)}{exchange}{sep2}{line}"
    elif style < 0.3:
        body = f"{area}{sep1}({exchange}){sep2}{line}"
    else:
        body = f"{area}{sep1}{exchange}{sep2}{line}"
    return rng.choice(PREFIXES) + body


def _international(rng: random.Random) -> str:
    region = rng.choice(REGIONS)
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
    )
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return _digits(rng, rng.randrange(4, 16))
    national = str(example.national_number)
    # Change a few digits so the corpus is not the same handful of examples.
    national = "".join(d if rng.random() < 0.7 else str(rng.randrange(10)) for d in national)
    style = rng.random()
    fmt = (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
        if style < 0.4
        else phonenumbers.PhoneNumberFormat.NATIONAL
    )
    parsed = phonenumbers.PhoneNumber(
        country_code=example.country_code, national_number=int(national)
    )
    text = phonenumbers.format_number(parsed, fmt)
    if style > 0.8:
        text = f"+{example.country_code}{national}"
    return text


def _mangle(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.08:
        # Vanity numbers: digits spelled as letters.
        chars = list(text)
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(chars))
            if chars[i].isdigit():
                chars[i] = rng.choice(LETTERS)
        text = "".join(chars)
    elif roll < 0.16:
        table = rng.choice(UNICODE_DIGITS)
        text = "".join(
            table[int(c)] if c.isdigit() and c.isascii() and rng.random() < 0.8 else c for c in text
        )
    elif roll < 0.22:
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice([*SEPARATORS, "(", ")", "+", "x", "e", "*", "#"]) + text[i:]
    elif roll < 0.26 and len(text) > 3:
        i = rng.randrange(len(text))
        text = text[:i] + text[i + 1 :]
    elif roll < 0.3:
        text = text + _digits(rng, rng.randrange(1, 4))
    return text


def plain_nanp(rng: random.Random) -> str:
    """As most lead files hold them: what the NANP fast path is for (and its edges)."""
    area = rng.choice(AREA_CODES[:12]) if rng.random() < 0.5 else f"{rng.randrange(200, 1000)}"
    sep1, sep2 = rng.choice(PLAIN_SEPARATORS), rng.choice(PLAIN_SEPARATORS)
    if rng.random() < 0.3:
        area = f"({area})"
    return f"{rng.choice(PLAIN_PREFIXES)}{area}{sep1}{_digits(rng, 3)}{sep2}{_digits(rng, 4)}"


def messy_number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return plain_nanp(rng)
    if roll < 0.6:
        text = _nanp(rng)
    elif roll < 0.85:
        text = _international(rng)
    else:
        text = rng.choice(PREFIXES) + _digits(rng, rng.randrange(1, 18))
    text = _mangle(rng, text) + rng.choice(EXTENSIONS) + rng.choice(SUFFIXES)
    if rng.random() < 0.1:
        text = rng.choice([" ", "\t", "\n", "'", '"']) + text
    return text


def corpus(seed: int, size: int) -> Iterator[tuple[str, str]]:
    """``size`` (text, region) pairs; the same seed gives the same corpus."""
    rng = random.Random(seed)
    for _ in range(size):
        yield messy_number(rng), rng.choice(REGIONS)
