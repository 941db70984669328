"""The one place Switchboard turns what people type into E.164.

Every number that enters the system (admin forms, API filters, webhooks, lead files)
passes through :func:`normalize`, so ``1 678-999-8212``, ``(678)-999 8212``,
``678 999 8212`` and ``+1 (678) 999-8212`` all become ``+16789998212``.
"""

import re
from functools import cache, lru_cache

import phonenumbers
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

# Nobody types a phone number longer than this; refusing early keeps a hostile CSV cell
# from costing parse time.
MAX_INPUT_LENGTH = 64


class InvalidPhoneNumber(ValueError):
    """Raised with a message a person can act on (shown in forms, API errors, receipts)."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"{raw!r} is not a valid phone number: {reason}")


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "it does not look like a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def normalize(raw: str, region: str | None = None) -> str:
    """Return ``raw`` in E.164, or raise :class:`InvalidPhoneNumber` saying why not."""
    if raw is None:
        raise InvalidPhoneNumber("", "no number given")
    text = str(raw).strip()
    if not text:
        raise InvalidPhoneNumber(text, "no number given")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(text[:MAX_INPUT_LENGTH] + "…", "too long")
    region = region or settings.PHONENUMBER_DEFAULT_REGION
    # The fast path is not cached: it costs about what an LRU hit does, and a lead file's
    # million distinct numbers only made the cache evict itself on every call.
    return _nanp_fast_path(text, region) or _normalize(text, region)


@lru_cache(maxsize=65536)
def _normalize(text: str, region: str) -> str:
    # Cached: the full parser costs ~100 µs, and call logs repeat the same numbers.
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(text, _PARSE_REASONS.get(exc.error_type, str(exc))) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(text, "wrong number of digits")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(text, _invalid_reason(parsed))
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


NO_SUCH_AREA_CODE = "no such area code"
# Lines that are numbers in every area code assigned in the United States and Canada.
_NANP_PROBE_LINES = ("2345678", "5550100", "8675309", "7654321", "4567890")


def _invalid_reason(parsed: phonenumbers.PhoneNumber) -> str:
    """Why a number of the right length is no number. Receipts and forms show it, so the
    wording is what a person checks: the area code when that is what does not exist."""
    national = str(parsed.national_number)
    if (
        parsed.country_code == 1
        and len(national) == 10
        and not _nanp_area_code_exists(national[:3])
    ):
        return NO_SUCH_AREA_CODE
    return "not a number in any numbering plan"


@cache
def _nanp_area_code_exists(area_code: str) -> bool:
    """Whether any number has this area code, by libphonenumber's own rules: an area
    code that a region claims by its leading digits (the Caribbean's) is that region's;
    the others are judged by the probe lines."""
    for leading_digits, _ in _nanp_validators():
        if leading_digits is not None and leading_digits.match(f"{area_code}2000000"):
            return True
    return any(_nanp_is_valid(f"{area_code}{line}") for line in _NANP_PROBE_LINES)


def normalize_stripped(text: str, region: str) -> str:
    """:func:`normalize` for ``text`` already stripped and not empty, in ``region``: the
    same answer without normalize()'s argument handling, which costs about a tenth of
    the time of a plainly formatted number (a lead file has millions)."""
    if len(text) <= MAX_INPUT_LENGTH and (e164 := _nanp_fast_path(text, region)):
        return e164
    return normalize(text, region)


def try_normalize(raw: str | None, region: str | None = None) -> str | None:
    """E.164 or ``None``: for search boxes, where "not a number" means "search by name"."""
    try:
        return normalize(raw or "", region)
    except InvalidPhoneNumber:
        return None


def national_format(e164: str) -> str:
    """Display form, e.g. ``(678) 999-8212``; cheap for NANP, where changelists call it a lot."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)


def display_number(e164: str) -> str:
    """How a page shows a number: the national form for the default region's country
    (``(678) 999-8212``), the international form for any other (``+44 20 7183 8750``).
    Text that is no E.164 number (``anonymous``, ``sip:…``) is returned as it is."""
    text = str(e164 or "")
    region = settings.PHONENUMBER_DEFAULT_REGION
    if len(text) == 12 and text.startswith("+1") and text[1:].isdigit() and region in _NANP_REGIONS:
        return f"({text[2:5]}) {text[5:8]}-{text[8:]}"
    try:
        parsed = phonenumbers.parse(text, None)
    except NumberParseException:
        return text
    home = phonenumbers.country_code_for_region(region)
    style = (
        PhoneNumberFormat.NATIONAL
        if parsed.country_code == home
        else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def phone_link(e164: str) -> SafeString:
    """A number as a ``tel:`` link a softphone dials, with the E.164 form on hover."""
    text = str(e164 or "")
    shown = display_number(text)
    if not (text.startswith("+") and text[1:].isdigit()):
        return format_html("{}", shown)
    return format_html('<a class="sb-tel" href="tel:{}" title="{}">{}</a>', text, text, shown)


# --- The NANP fast path -------------------------------------------------------------------
# Lead files hold millions of distinct North American numbers, and phonenumbers' parse +
# is_valid_number costs ~100 µs each (lead ingest would spend minutes on it). For input
# that is only digits and the usual formatting characters, the outcome of parse() is
# fully determined (country code 1, ten national digits), so we replay libphonenumber's
# own validity rules on those digits with one precompiled regex per NANP region, in the
# same region order. Anything else, and every number this path would reject, goes
# through the full parser, which also gives the precise reason.

_FORMATTING = b" ()-."
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def _nanp_fast_path(text: str, region: str) -> str | None:
    """``+1`` E.164 when ``text`` is a plainly formatted valid NANP number, else ``None``."""
    # Ten ASCII digits never come from other characters, and bytes.translate drops the
    # formatting four times faster than str.translate (a dict lookup per character).
    if not text.isascii():
        return None
    compact = text.encode().translate(None, _FORMATTING).decode()
    nanp_region = region in _NANP_REGIONS
    at_once, plain = _NANP_PATTERNS.get(nanp_region) or _nanp_patterns(nanp_region)
    if (match := at_once.fullmatch(compact)) is not None:
        return "+1" + match[1]
    if (match := plain.fullmatch(compact)) is None:
        return None
    return "+1" + match[1] if _nanp_is_valid(match[1]) else None


# By whether the region is in NANP. A dict rather than @cache: a lookup costs a third as
# much, on a path taken for every number of a lead file.
_NANP_PATTERNS: dict[bool, tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _nanp_patterns(nanp_region: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``plain`` finds the ten national digits in compact input: after an optional 1 or
    +1 where the region is in NANP, after +1 elsewhere. ``at_once`` also matches them
    against the regions that come before any with leading digits (the US), which judge
    every number: one regex call then settles most numbers, where the digits and the
    loop in _nanp_is_valid took two and some Python (lead files have millions)."""
    prefix = r"(?:\+?1)?" if nanp_region else r"\+1"
    judges = []
    for leading_digits, valid in _nanp_validators():
        if leading_digits is not None:
            break
        if valid is not None:
            judges.append(f"(?:{valid.pattern})")
    judged = "|".join(judges) or "(?!)"
    patterns = _NANP_PATTERNS[nanp_region] = (
        re.compile(rf"{prefix}((?=[2-9][0-9]{{9}}\Z)(?:{judged}))"),
        re.compile(rf"{prefix}([2-9][0-9]{{9}})"),
    )
    return patterns


def patterns_build() -> None:
    """Compile the fast path's patterns now (~80 ms) instead of on the first number: a web
    server does it once in the process its workers are forked from (crm/wsgi.py)."""
    for nanp_region in (True, False):
        _nanp_patterns(nanp_region)


def _nanp_is_valid(national: str) -> bool:
    """phonenumbers.is_valid_number for a 10-digit NANP national number, without parsing."""
    for leading_digits, valid in _nanp_validators():
        if leading_digits is not None:
            # libphonenumber picks the first region whose leading digits match and
            # then judges the number by that region's rules alone.
            if leading_digits.match(national):
                return valid is not None and valid.fullmatch(national) is not None
        elif valid is not None and valid.fullmatch(national):
            return True
    return False


@cache
def _nanp_validators() -> list[tuple[re.Pattern[str] | None, re.Pattern[str] | None]]:
    validators = []
    for region_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region_code)
        if metadata is None:
            continue
        leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        validators.append((leading, _region_validity_regex(metadata)))
    return validators


def _ten_digit_pattern(desc: object) -> str | None:
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = getattr(desc, "possible_length", None) or ()
    if not pattern or (lengths and 10 not in lengths):
        return None
    return pattern


def _region_validity_regex(metadata: PhoneMetadata) -> re.Pattern[str] | None:
    """Matches what _number_type_helper would give a known type: general desc and any type."""
    general = _ten_digit_pattern(metadata.general_desc)
    if general is None:
        return None
    types = [
        pattern
        for desc in (
            metadata.premium_rate,
            metadata.toll_free,
            metadata.shared_cost,
            metadata.voip,
            metadata.personal_number,
            metadata.pager,
            metadata.uan,
            metadata.voicemail,
            metadata.fixed_line,
            metadata.mobile,
        )
        if (pattern := _ten_digit_pattern(desc)) is not None
    ]
    if not types:
        return None
    alternatives = "|".join(f"(?:{pattern})" for pattern in types)
    return re.compile(rf"(?=(?:{general})\Z)(?:{alternatives})")
