"""The optional browser softphone (docs/dialing.md, "Call in browser").

Click-to-call rings the caller's own phone first. With Twilio, and when its settings give
an API key (SID and secret) and a TwiML App, a caller may instead talk through the
browser: the page loads the vendored Twilio Voice JavaScript SDK, asks this server for a
short-lived access token, and connects; Twilio then asks the TwiML App's Voice URL
(``/webhooks/twilio/voice/softphone/``, signed like every webhook) what to do, and the
answer dials the lead from the chosen caller ID. The ``Call`` is the one click-to-call
recorded before anything was placed: the browser's leg adopts it by its CallSid, and the
dial's callbacks complete it (status, then the lead leg's duration).

Who may place which call: the token's identity names the user, and the page hands the
browser a signed ticket naming the call and that user; the Voice URL places a call only
for a matching ticket, a pending outbound call, and this account's TwiML App, once.

Access tokens are Twilio's JWTs, minted with the ``twilio`` helper library already used for
TwiML and signatures (``AccessToken`` + ``VoiceGrant``; it signs with PyJWT, which it
depends on): the token's exact claims and header are Twilio's to define, so they come
from Twilio's own code rather than a hand-built payload.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.twiml.voice_response import VoiceResponse

from crm.providers import get_provider
from telephony import outbound
from telephony.models import Call, Direction

TICKET_SALT = "telephony.softphone.ticket"
# A ticket is used when the page loads; a caller who waits longer reloads the page.
TICKET_MAX_AGE = 15 * 60
IDENTITY_PREFIX = "user_"
CLIENT_IDENTITY = re.compile(r"^client:user_(\d{1,18})$")
# Who may ask for a token: whoever may place calls in the workspace (a permission named,
# not imported: telephony knows nothing of campaigns).
DIAL_PERMISSION = "campaigns.add_callattempt"
# Twilio's <Dial action> names how the lead's leg ended; in our terms (Call.Status).
DIAL_OUTCOMES = {
    "completed": Call.Status.COMPLETED,
    "answered": Call.Status.COMPLETED,
    "busy": Call.Status.BUSY,
    "no-answer": Call.Status.NO_ANSWER,
    "failed": Call.Status.FAILED,
    "canceled": Call.Status.CANCELED,
}


class SoftphoneRefused(Exception):
    """The Voice URL will not place this call; the message is said to the caller."""


@dataclass(frozen=True)
class SoftphoneToken:
    token: str
    identity: str
    ttl: int


def softphone_available() -> bool:
    """Whether "Call in browser" can work here: Twilio places the calls and the API key,
    its secret, the TwiML App and the account are all set. Detected, never required."""
    if not all(
        (
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_API_KEY_SID,
            settings.TWILIO_API_KEY_SECRET,
            settings.TWILIO_TWIML_APP_SID,
        )
    ):
        return False
    try:
        provider = get_provider("VOICE_PROVIDER")
    except Exception:  # a broken setting is the system check's to report (telephony.E004)
        return False
    return bool(getattr(provider, "browser_calls", False))


def identity_for(user_id: int) -> str:
    return f"{IDENTITY_PREFIX}{user_id}"


def access_token_mint(*, user_id: int) -> SoftphoneToken:
    """A Voice access token for this user: outgoing calls through the TwiML App only (no
    incoming: nothing rings a browser), valid ``SOFTPHONE_TOKEN_TTL_SECONDS``."""
    ttl = max(60, min(int(settings.SOFTPHONE_TOKEN_TTL_SECONDS), 24 * 3600))
    identity = identity_for(user_id)
    token = AccessToken(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_API_KEY_SID,
        settings.TWILIO_API_KEY_SECRET,
        identity=identity,
        ttl=ttl,
    )
    token.add_grant(
        VoiceGrant(outgoing_application_sid=settings.TWILIO_TWIML_APP_SID, incoming_allow=False)
    )
    jwt = token.to_jwt()
    return SoftphoneToken(
        token=jwt.decode() if isinstance(jwt, bytes) else str(jwt), identity=identity, ttl=ttl
    )


def call_ticket(*, call: Call, user_id: int) -> str:
    """What the calling page gives the browser to connect this call (signed, short-lived)."""
    return signing.dumps({"call": call.pk, "user": user_id}, salt=TICKET_SALT, compress=True)


def _ticket_call(ticket: str, user_id: int) -> int:
    try:
        data: Any = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.SignatureExpired:
        raise SoftphoneRefused("This call page is too old. Reload it and call again.") from None
    except signing.BadSignature:
        raise SoftphoneRefused("This call was not started from Switchboard.") from None
    if not isinstance(data, dict) or data.get("user") != user_id:
        raise SoftphoneRefused("This call is another caller's.")
    call_id = data.get("call")
    if not isinstance(call_id, int):
        raise SoftphoneRefused("This call was not started from Switchboard.")
    return call_id


def softphone_call_connect(
    *, call_sid: str, client: str, application_sid: str, ticket: str
) -> Call:
    """The browser connected (the TwiML App's Voice URL): the call it may place, adopted
    under the browser leg's CallSid. Twilio retrying the same request gets the same call;
    a second connection for one call is refused."""
    if application_sid != settings.TWILIO_TWIML_APP_SID:
        raise SoftphoneRefused("This request is not from Switchboard's TwiML App.")
    match = CLIENT_IDENTITY.match(client)
    if match is None:
        raise SoftphoneRefused("Only a signed-in caller's browser may place calls.")
    call_id = _ticket_call(ticket, int(match.group(1)))
    call = outbound.outbound_call_progress(
        external_id=call_sid,
        call_id=call_id,
        progress=outbound.Progress(status=Call.Status.RINGING),
    )
    if call is None or call.pk != call_id or call.direction != Direction.OUTBOUND:
        raise SoftphoneRefused("This call was already placed. Start a new one.")
    if call.status in Call.FINAL_STATUSES:
        raise SoftphoneRefused("This call has ended. Start a new one.")
    return call


def softphone_twiml(call: Call, status_url: str) -> str:
    """Dial the lead from the call's caller ID; the dial's end and the lead leg's progress
    come back to ``status_url`` (this call's id in its query)."""
    url = f"{status_url}{'&' if '?' in status_url else '?'}call={call.pk}"
    response = VoiceResponse()
    dial = response.dial(caller_id=call.from_number, action=url, method="POST")
    dial.number(
        call.to_number,
        status_callback=url,
        status_callback_event="ringing answered completed",
        status_callback_method="POST",
    )
    return str(response)


def refusal_twiml(reason: str) -> str:
    response = VoiceResponse()
    response.say(reason)
    response.hangup()
    return str(response)


def softphone_dial_progress(
    *, call_id: int | None, call_sid: str, parent_sid: str, status: str, duration: int | None
) -> Call | None:
    """A callback of the dial: ``<Dial action>`` (the end, on the browser leg's CallSid)
    or the lead leg's own progress (its ``ParentCallSid`` is the browser leg). Only the
    call the URL names, and only forward (``outbound.outbound_call_progress``); the
    duration counts once the call is final."""
    sid = parent_sid or call_sid
    if call_id is None or not Call.objects.filter(pk=call_id, external_id=sid).exists():
        return None
    return outbound.outbound_call_progress(
        external_id=sid, progress=outbound.Progress(status=status, duration_seconds=duration)
    )
