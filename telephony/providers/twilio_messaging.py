"""Twilio SMS: the Messages resource of the REST API (2010-04-01).

``POST {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with the
form fields ``To``, ``From``, ``Body`` and ``StatusCallback``, HTTP Basic with the account
SID and auth token; 201 answers the Message resource (``sid``, ``status``). Errors answer
``{code, message, more_info, status}``:

- 21610 (the recipient replied STOP to this sender): refused, and the number is opted out;
- 21211 (the To number is not a valid phone number) and other 4xx: refused;
- 429 (20429) and 5xx: Twilio did not take the message: retryable, after ``Retry-After``.

A connection that was never made is retryable too. A timeout or a broken connection after
the request left is not: Twilio may have the message, and sending again could text the
customer twice (docs/messaging.md).
"""

import base64
import json
from typing import Any
from urllib.parse import urlencode

import urllib3
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, HTTPError

from telephony.providers.messaging import MessagingRejected, MessagingRetryable, SentMessage

UNSUBSCRIBED_RECIPIENT = 21610
INVALID_TO_NUMBER = 21211


class MessagingUnconfirmed(Exception):
    """The request may have reached Twilio and no answer came back."""


class TwilioMessagingProvider:
    def __init__(self) -> None:
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        base = settings.TWILIO_API_BASE_URL.rstrip("/")
        self.url = f"{base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        credentials = f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}"
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        timeout = float(settings.PROVIDER_TIMEOUT_SECONDS)
        self.http = urllib3.PoolManager(
            maxsize=10,
            block=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,  # never resent here: whether to send again is the caller's call
        )

    def send(self, from_e164: str, to_e164: str, body: str, status_callback: str) -> SentMessage:
        fields = {"To": to_e164, "From": from_e164, "Body": body}
        if status_callback:
            fields["StatusCallback"] = status_callback
        try:
            response = self.http.request(
                "POST", self.url, body=urlencode(fields), headers=self.headers
            )
        except ConnectTimeoutError as exc:  # NewConnectionError too: nothing left here
            raise MessagingRetryable(f"Twilio could not be reached: {exc}") from exc
        except HTTPError as exc:
            raise MessagingUnconfirmed(
                f"No answer from Twilio after the request was sent ({type(exc).__name__})"
            ) from exc
        return self.read(response.status, response.headers.get("Retry-After"), response.data)

    def read(self, status: int, retry_after: str | None, data: bytes) -> SentMessage:
        body = _json(data)
        code = body.get("code") if isinstance(body, dict) else None
        message = str(body.get("message") or "")[:200] if isinstance(body, dict) else ""
        if status == 429 or status >= 500:
            raise MessagingRetryable(
                f"Twilio answered {status}{f' ({code})' if code else ''}: try again later",
                retry_after=_seconds(retry_after),
            )
        if status >= 400:
            raise MessagingRejected(
                str(code or status),
                message or f"Twilio refused the message ({status})",
                opted_out=code == UNSUBSCRIBED_RECIPIENT,
            )
        sid = body.get("sid") if isinstance(body, dict) else None
        if status not in (200, 201) or not isinstance(sid, str) or not sid:
            # Twilio took the request but we cannot read which message it made.
            raise MessagingUnconfirmed(f"Twilio answered {status} without a message sid")
        return SentMessage(external_id=sid[:64], status=str(body.get("status") or "queued"))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
