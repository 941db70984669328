"""Who is at the far end of a call or a message, as Twilio or a platform names them.

Only a phone number identifies a person. Twilio also sends a withheld caller
(``anonymous``, ``Restricted``, ``Unknown``, ``Blocked``, or its stand-in number
``+266696687``), a Voice SDK client (``client:alice``), a SIP address
(``sip:alice@example.sip.twilio.com``), and for SMS short codes and alphanumeric sender
ids. Those are answered and recorded like any interaction, with no profile: nobody can be
identified by them, and a call must never be lost to a 4xx (docs/input.md).
"""

import re
from dataclasses import dataclass

from crm.phones import InvalidPhoneNumber, normalize

NUMBER = "number"
WITHHELD = "withheld"
CLIENT = "client"
SIP = "sip"
SHORT_CODE = "short code"
SENDER_ID = "sender id"
UNRECOGNISED = "unrecognised"

# Kinds a platform's report may name besides a number: the rest are typos it can fix.
REPORTABLE_WITHOUT_NUMBER = frozenset({WITHHELD, CLIENT, SIP})

_WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "unknown", "blocked", "private", "unavailable", "withheld"}
)
# What Twilio puts in From when the caller withheld the number.
TWILIO_WITHHELD_NUMBER = "+266696687"
_SHORT_CODE = re.compile(r"\d{3,8}")
# Carriers allow up to 11 characters, at least one of them a letter.
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 &'.,_-]{1,11}")
# What an address column can hold (the calls and messages tables).
ADDRESS_MAX_LENGTH = 255


@dataclass(frozen=True)
class Party:
    address: str  # E.164 for a number, else what was sent (stripped, bounded)
    kind: str

    @property
    def e164(self) -> str | None:
        """The number that identifies a person, or None: then no profile is linked."""
        return self.address if self.kind == NUMBER else None


def party_identify(raw: str) -> Party:
    """What ``raw`` (a From/To as sent) is, and the address to store for it."""
    text = (raw or "").strip()[:ADDRESS_MAX_LENGTH]
    lowered = text.lower()
    compact = re.sub(r"[\s().-]", "", text)
    if lowered in _WITHHELD_WORDS or compact in {TWILIO_WITHHELD_NUMBER, "266696687"}:
        return Party(text, WITHHELD)
    if lowered.startswith("client:"):
        return Party(text, CLIENT)
    if lowered.startswith(("sip:", "sips:")):
        return Party(text, SIP)
    try:
        return Party(normalize(text), NUMBER)
    except InvalidPhoneNumber:
        pass
    if _SHORT_CODE.fullmatch(compact):
        return Party(compact, SHORT_CODE)
    if _SENDER_ID.fullmatch(text):
        return Party(text, SENDER_ID)
    return Party(text, UNRECOGNISED)


def party_label(address: str) -> str:
    """How a list shows a far end: a number as stored, else who it was."""
    party = party_identify(address)
    if party.kind == NUMBER:
        return party.address
    if party.kind == WITHHELD or not party.address:
        return "Withheld number"
    if party.kind == SHORT_CODE:
        return f"Short code {party.address}"
    return party.address
