"""Twilio Voice: "call me first" click-to-call through the Calls API.

``POST {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Calls.json`` (form-encoded,
HTTP Basic) with ``To`` the caller's own phone, ``From`` the chosen caller ID and inline
``Twiml`` that, once the caller answers, ``<Dial callerId=…>`` the lead. Progress arrives
at ``StatusCallback`` (``/webhooks/twilio/voice/outbound/``) for the events asked for.
Twilio answers 201 with the Call resource (``sid``, ``status``) or an error
``{code, message, more_info, status}``.
"""

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from django.conf import settings
from twilio.twiml.voice_response import VoiceResponse

from telephony.providers.voice import VoiceCall, VoiceCallFailed

# Twilio's error codes for a call it will not place, said so a caller knows what to do.
CALL_REFUSALS = {
    21210: "Twilio does not accept the caller ID as a From number of this account.",
    21211: "Twilio says the number to call is not valid.",
    21214: "Twilio says the number to call cannot be reached.",
    21215: "Twilio's geographic permissions do not allow calling this number "
    "(Voice > Settings > Geo permissions).",
    21216: "Twilio blocks calls to this number (a premium or high-risk destination).",
    21217: "Twilio says the number does not appear to be a valid phone number.",
    20003: "Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
}
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioVoiceProvider:
    name = "twilio"
    # An optional capability (telephony/softphone.py): Twilio can also take the call from
    # the caller's browser, through a TwiML App, when its settings are given.
    browser_calls = True

    def __init__(self) -> None:
        self.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
        self.account = settings.TWILIO_ACCOUNT_SID
        credentials = f"{self.account}:{settings.TWILIO_AUTH_TOKEN}"
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        timeout = float(settings.PROVIDER_TIMEOUT_SECONDS)
        self.http = urllib3.PoolManager(
            maxsize=10,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            # Never retried here: a POST that timed out may have started the call.
            retries=False,
        )

    def twiml(self, from_e164: str, bridge_to_e164: str) -> str:
        response = VoiceResponse()
        dial = response.dial(caller_id=from_e164)
        dial.number(bridge_to_e164)
        return str(response)

    def call(
        self, from_e164: str, to_e164: str, bridge_to_e164: str, status_callback: str
    ) -> VoiceCall:
        url = f"{self.base_url}/2010-04-01/Accounts/{quote(self.account, safe='')}/Calls.json"
        form: list[tuple[str, str]] = [
            ("To", to_e164),
            ("From", from_e164),
            ("Twiml", self.twiml(from_e164, bridge_to_e164)),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
            *(("StatusCallbackEvent", event) for event in STATUS_EVENTS),
        ]
        try:
            response = self.http.request("POST", url, body=urlencode(form), headers=self.headers)
        except urllib3.exceptions.HTTPError as exc:
            raise VoiceCallFailed(
                f"Twilio could not be reached ({exc.__class__.__name__})."
            ) from exc
        return self.read(response.status, response.data)

    def read(self, status: int, data: bytes) -> VoiceCall:
        body = _json(data)
        code = body.get("code") if isinstance(body, dict) else None
        if status == 429 or code == 20429:
            raise VoiceCallFailed("Twilio is rate limiting calls (429): try again in a moment.")
        if code in CALL_REFUSALS:
            raise VoiceCallFailed(f"{CALL_REFUSALS[code]} (Twilio {code})")
        if status >= 500:
            raise VoiceCallFailed(f"Twilio answered {status}: try again in a moment.")
        if status not in (200, 201) or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise VoiceCallFailed(
                f"Twilio refused the call ({code or status}): {str(message or '')[:200]}".strip()
            )
        sid, call_status = body.get("sid"), body.get("status")
        if not isinstance(sid, str) or not sid.startswith("CA") or len(sid) > 64:
            raise VoiceCallFailed("Twilio answered without a call id.")
        return VoiceCall(external_id=sid, status=str(call_status or "queued")[:12])


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
