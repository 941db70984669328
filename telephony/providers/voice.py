"""The click-to-call interface (``VOICE_PROVIDER``) and what it answers.

``call(from_e164, to_e164, bridge_to_e164, status_callback)`` starts a "call me first"
bridge: the provider rings ``to_e164`` (the caller's own phone) showing ``from_e164``
(the chosen caller ID), and when the caller answers dials ``bridge_to_e164`` (the lead)
with that caller ID. It answers an object with ``external_id`` (the provider's call id,
Twilio's CallSid) and ``status``. Any exception is a call that did not start
(docs/dialing.md); :class:`VoiceCallFailed` carries a reason a caller can read.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class VoiceCall:
    external_id: str
    status: str  # one of telephony.models.Call.Status
    # Optional: what a sandbox already knows of the finished call.
    duration_seconds: int | None = None


class VoiceCallFailed(Exception):
    """The provider did not start the call; the message says why, for the caller."""


class VoiceProvider(Protocol):
    def call(
        self, from_e164: str, to_e164: str, bridge_to_e164: str, status_callback: str
    ) -> VoiceCall: ...
