"""The messaging interface (``MESSAGING_PROVIDER``): send one SMS.

``send(from_e164, to_e164, body, status_callback)`` returns an object with
``external_id`` (the provider's id, Twilio's MessageSid) and ``status`` (Twilio's words:
``accepted``, ``queued``, ``sent``, ...). Anything it raises is a send that did not
certainly happen. Two exceptions say more, and a provider may raise them or not:

- :class:`MessagingRejected`: the provider refused this message (invalid number, the
  recipient unsubscribed). Nothing was sent; trying again cannot help.
- :class:`MessagingRetryable`: the provider certainly did not take it (rate limited, a
  5xx, a connection never made): it is sent again later with backoff.

Any other exception, a timeout after the request left included, may mean the provider
has the message: it is never resent automatically (docs/messaging.md).
"""

from dataclasses import dataclass
from typing import Protocol

from crm.providers import register_provider_setting


@dataclass(frozen=True)
class SentMessage:
    external_id: str
    status: str


class MessagingRejected(Exception):
    def __init__(self, code: str, message: str, *, opted_out: bool = False) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.opted_out = opted_out  # the recipient unsubscribed (Twilio 21610)


class MessagingRetryable(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessagingProvider(Protocol):
    def send(
        self, from_e164: str, to_e164: str, body: str, status_callback: str
    ) -> SentMessage: ...


def register_messaging_setting() -> None:
    """Declare ``MESSAGING_PROVIDER`` to the start-up check (telephony.E003)."""
    register_provider_setting(
        "MESSAGING_PROVIDER", check_id="telephony.E003", what="sending SMS replies"
    )
