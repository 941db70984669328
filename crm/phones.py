"""The one place Switchboard turns what people type into E.164.

Every number that enters the system (admin forms, API filters, webhooks, lead files)
passes through :func:`normalize`, so ``1 678-999-8212``, ``(678)-999 8212``,
``678 999 8212`` and ``+1 (678) 999-8212`` all become ``+16789998212``.
"""

from functools import lru_cache

import phonenumbers
from django.conf import settings
from phonenumbers import NumberParseException, PhoneNumberFormat

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
    return _normalize(text, region or settings.PHONENUMBER_DEFAULT_REGION)


@lru_cache(maxsize=65536)
def _normalize(text: str, region: str) -> str:
    # Cached: lead files and call logs repeat the same numbers many times over.
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(text, _PARSE_REASONS.get(exc.error_type, str(exc))) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(text, "wrong number of digits")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(text, "not a number in any numbering plan")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def try_normalize(raw: str | None, region: str | None = None) -> str | None:
    """E.164 or ``None``: for search boxes, where "not a number" means "search by name"."""
    try:
        return normalize(raw or "", region)
    except InvalidPhoneNumber:
        return None


def is_mobile_by_numbering_plan(e164: str) -> bool:
    """True where the numbering plan alone says mobile (not in NANP, where it can't tell)."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


def national_format(e164: str) -> str:
    """Display form, e.g. ``(678) 999-8212``; cheap for NANP, where changelists call it a lot."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
