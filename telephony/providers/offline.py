"""Offline defaults. Line type: no network, no cost, libphonenumber's metadata.

A numbering plan can say a number is mobile in most countries (mobile ranges are their
own), but not in North America, where mobiles and landlines share area codes: there every
number is unknown, and so stays Other.
"""

import uuid
from collections import deque
from decimal import Decimal
from typing import ClassVar

import phonenumbers
from phonenumbers import PhoneNumberType

from telephony.providers.base import LineType, LineTypeAnswer
from telephony.providers.messaging import SentMessage
from telephony.providers.voice import VoiceCall

_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
    PhoneNumberType.VOIP: LineType.VOIP,
    PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
}


class OfflineLineTypeProvider:
    name = "offline"

    def lookup(self, e164: str) -> LineTypeAnswer:
        try:
            parsed = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return LineTypeAnswer(LineType.UNKNOWN, None, Decimal(0), valid=False)
        if not phonenumbers.is_valid_number(parsed):
            return LineTypeAnswer(LineType.UNKNOWN, None, Decimal(0), valid=False)
        line_type = _TYPES.get(phonenumbers.number_type(parsed), LineType.UNKNOWN)
        return LineTypeAnswer(line_type, None, Decimal(0))


class OfflineMessagingProvider:
    """The default messaging provider: keeps what it was asked to send (the last few
    hundred, for a demo or a test to read back) and sends nothing."""

    outbox: ClassVar[deque[dict[str, str]]] = deque(maxlen=500)

    def send(self, from_e164: str, to_e164: str, body: str, status_callback: str) -> SentMessage:
        external_id = "SM" + uuid.uuid4().hex
        self.outbox.append({"sid": external_id, "from": from_e164, "to": to_e164, "body": body})
        # Nothing will call back, so the message says where it ended up.
        return SentMessage(external_id=external_id, status="sent")


class OfflineVoiceProvider:
    """A sandbox that places nothing: each call "completes" at once, so the whole calling
    flow (caller ID, call, outcome, next lead) works with no network and no cost."""

    name = "offline"
    duration_seconds = 42

    def call(
        self, from_e164: str, to_e164: str, bridge_to_e164: str, status_callback: str
    ) -> VoiceCall:
        return VoiceCall(
            external_id="CA" + uuid.uuid4().hex,
            status="completed",
            duration_seconds=self.duration_seconds,
        )
