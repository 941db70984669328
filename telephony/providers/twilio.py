"""Twilio adapters. Line type: Lookup v2 with the ``line_type_intelligence`` package.

``GET {TWILIO_LOOKUP_BASE_URL}/v2/PhoneNumbers/{E164}?Fields=line_type_intelligence``,
HTTP Basic with the account SID and auth token. One instance serves every thread of a
worker: urllib3's pool is thread-safe and keeps connections open between lookups. The
backfill's many lookups in flight go through ``async_client()`` (aiohttp) instead, so a
lookup costs the worker a fraction of a thread's CPU. Both read an answer the same way.
"""

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import aiohttp
import urllib3
from django.conf import settings

from telephony.providers.base import (
    AsyncLookup,
    LineType,
    LineTypeAnswer,
    LineTypeRateLimited,
    LineTypeRefused,
    LineTypeTimedOut,
    LineTypeUnavailable,
)

# line_type_intelligence.type -> ours. Types that say nothing about reaching a person's
# handset (pager, premium, shared cost, ...) are unknown, which leaves a number Other.
TWILIO_LINE_TYPES = {
    "mobile": LineType.MOBILE,
    "landline": LineType.LANDLINE,
    "fixedVoip": LineType.VOIP,
    "nonFixedVoip": LineType.VOIP,
    "tollFree": LineType.TOLL_FREE,
    "personal": LineType.UNKNOWN,
    "premium": LineType.UNKNOWN,
    "sharedCost": LineType.UNKNOWN,
    "uan": LineType.UNKNOWN,
    "voicemail": LineType.UNKNOWN,
    "pager": LineType.UNKNOWN,
    "unknown": LineType.UNKNOWN,
}

# Safe to retry after slowing down: too many concurrent requests, or the rate limit.
RATE_LIMIT_CODES = {20429, 60616}
# Retrying cannot help until a person acts; the message says what to do.
REFUSAL_CODES = {
    20003: "Twilio refused the credentials (authentication failed): check "
    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
    60606: "The Line Type Intelligence package is not enabled on this Twilio account: "
    "enable it in the Twilio console (Lookup).",
    60607: "Twilio does not support line type lookups for this country.",
    60601: "Twilio needs approval before it looks up Canadian numbers: request it in the "
    "Twilio console.",
}


class TwilioLineTypeProvider:
    name = "twilio"

    def __init__(self) -> None:
        self.base_url = settings.TWILIO_LOOKUP_BASE_URL.rstrip("/")
        self.price = Decimal(str(settings.LINE_TYPE_LOOKUP_PRICE))
        credentials = f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}"
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "Accept": "application/json",
        }
        timeout = float(settings.PROVIDER_TIMEOUT_SECONDS)
        self.http = urllib3.PoolManager(
            # Keeps up to this many idle connections (made only as needed): enough for any
            # --concurrency, so no lookup pays for a new TLS connection.
            maxsize=500,
            block=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,  # retrying is the caller's decision (rate limit, backoff)
        )

    def url(self, e164: str) -> str:
        # The path carries the number as Twilio documents it: "+" and digits.
        number = quote(e164, safe="+")
        return f"{self.base_url}/v2/PhoneNumbers/{number}?Fields=line_type_intelligence"

    def lookup(self, e164: str) -> LineTypeAnswer:
        try:
            response = self.http.request("GET", self.url(e164), headers=self.headers)
        except urllib3.exceptions.ReadTimeoutError as exc:  # sent: it may have been billed
            raise LineTypeTimedOut(f"Twilio Lookup did not answer in time: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:  # refused connections, connect timeouts
            raise LineTypeUnavailable(f"Twilio Lookup unreachable: {exc}") from exc
        return self.read(response.status, response.headers.get("Retry-After"), response.data)

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncLookup]:
        timeout = float(settings.PROVIDER_TIMEOUT_SECONDS)
        session = aiohttp.ClientSession(
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout),
            # No cap of its own: the caller decides how many are in flight.
            connector=aiohttp.TCPConnector(limit=0),
        )

        async def lookup(e164: str) -> LineTypeAnswer:
            try:
                async with session.get(self.url(e164)) as response:
                    data = await response.read()
            except aiohttp.SocketTimeoutError as exc:  # sent: it may have been billed
                raise LineTypeTimedOut(f"Twilio Lookup did not answer in time: {exc!r}") from exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise LineTypeUnavailable(f"Twilio Lookup unreachable: {exc!r}") from exc
            return self.read(response.status, response.headers.get("Retry-After"), data)

        async with session:
            yield lookup

    def read(self, status: int, retry_after: str | None, data: bytes) -> LineTypeAnswer:
        """The answer in one Lookup response, or the exception that says what failed."""
        body = _json(data)
        code = body.get("code") if isinstance(body, dict) else None
        if status == 429 or code in RATE_LIMIT_CODES:
            raise LineTypeRateLimited(
                f"Twilio Lookup rate limited ({code or 429})", retry_after=_seconds(retry_after)
            )
        if code in REFUSAL_CODES:
            raise LineTypeRefused(str(code), REFUSAL_CODES[code])
        if status != 200 or not isinstance(body, dict):
            raise LineTypeUnavailable(f"Twilio Lookup answered {status} ({code})")
        return self._answer(body)

    def _answer(self, body: dict[str, Any]) -> LineTypeAnswer:
        """A 200 was paid for: whatever its fields hold, it is an answer (clipped and
        coerced where it is recorded, telephony.identification.ledger.answer_read)."""
        if body.get("valid") is False:
            return LineTypeAnswer(LineType.UNKNOWN, None, self.price, valid=False)
        info = body.get("line_type_intelligence")
        if not isinstance(info, dict):
            return LineTypeAnswer(LineType.UNKNOWN, None, self.price, error="no line type")
        carrier = info.get("carrier_name")
        carrier = None if carrier is None or carrier == "" else str(carrier)[:100]
        if info.get("error_code") is not None:
            return LineTypeAnswer(
                LineType.UNKNOWN, carrier, self.price, error=str(info["error_code"])[:16]
            )
        line_type = TWILIO_LINE_TYPES.get(str(info.get("type")), LineType.UNKNOWN)
        return LineTypeAnswer(line_type, carrier, self.price)


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


# The public names of Twilio's number inventory and messaging adapters (docs/providers.md);
# each lives in its own module beside this one.
from telephony.providers.twilio_inventory import TwilioNumberInventoryProvider  # noqa: E402
from telephony.providers.twilio_messaging import TwilioMessagingProvider  # noqa: E402
from telephony.providers.twilio_voice import TwilioVoiceProvider  # noqa: E402

__all__ = [
    "TwilioLineTypeProvider",
    "TwilioMessagingProvider",
    "TwilioNumberInventoryProvider",
    "TwilioVoiceProvider",
]
