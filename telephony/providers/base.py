"""The carrier line-type interface (``LINE_TYPE_PROVIDER``) and what it answers.

``lookup(e164)`` returns a :class:`LineTypeAnswer` or raises one of the
:class:`LineTypeLookupFailed` family. An answer is something the vendor charged for,
even when it says the number is invalid or carries the vendor's own error code: it goes
to the ledger. An exception is a call that failed: nothing is recorded or changed.

A provider may also offer ``async_client()``: an async context manager giving a
coroutine function with the same contract, for the backfill's many lookups in flight
(docs/identification.md). Without it, the backfill runs ``lookup`` in threads.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


class LineType:
    MOBILE = "mobile"
    LANDLINE = "landline"
    VOIP = "voip"
    TOLL_FREE = "toll_free"
    UNKNOWN = "unknown"

    CHOICES = (
        (MOBILE, "Mobile"),
        (LANDLINE, "Landline"),
        (VOIP, "VoIP"),
        (TOLL_FREE, "Toll-free"),
        (UNKNOWN, "Unknown"),
    )


@dataclass(frozen=True)
class LineTypeAnswer:
    line_type: str  # one of LineType
    carrier: str | None
    cost: Decimal
    valid: bool = True  # False: the vendor says no such number exists (still an answer)
    error: str = ""  # the vendor's error code for this number's line type, if any


class LineTypeLookupFailed(Exception):
    """The lookup did not happen (or we cannot tell it did): retry later, change nothing."""

    retry_after: float | None = None


class LineTypeRateLimited(LineTypeLookupFailed):
    """Too many requests (HTTP 429, Twilio 20429 / 60616): every worker slows down."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LineTypeUnavailable(LineTypeLookupFailed):
    """A 5xx, a timeout, a broken connection or an answer we cannot read: back off."""


class LineTypeRefused(Exception):
    """The vendor refuses every lookup until a person acts (credentials, package, country
    approval): lookups stop and the settings page says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LineTypeProvider(Protocol):
    name: str  # recorded with each lookup in the ledger

    def lookup(self, e164: str) -> LineTypeAnswer: ...


# What ``async_client()`` gives, where a provider has one: ``await lookup(e164)``.
AsyncLookup = Callable[[str], Awaitable[LineTypeAnswer]]


class AsyncLineTypeProvider(LineTypeProvider, Protocol):
    def async_client(self) -> AbstractAsyncContextManager[AsyncLookup]: ...
