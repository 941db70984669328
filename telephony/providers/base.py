"""The carrier line-type interface (``LINE_TYPE_PROVIDER``) and what it answers.

The contract is the minimum (docs/providers.md): a class built with no arguments whose
``lookup(e164)`` returns an object with ``line_type``, ``carrier`` and ``cost``
(:class:`LineTypeProvider`, :class:`LineTypeAnswerLike`). An answer is something the
vendor charged for, even when it says the number is invalid or carries the vendor's own
error code: it goes to the ledger, read by ``telephony.identification.ledger.answer_read``
whatever its fields hold. An exception is a call that failed: nothing is changed, and only
a :class:`LineTypeTimedOut` (the vendor may have acted) is recorded, as an attempt.

Everything else is an optional capability, detected and defaulted, never required: a
``name`` (default: the provider's dotted path), a ``price`` (``LINE_TYPE_LOOKUP_PRICE``),
an answer's ``valid`` (True) and ``error`` or ``error_code`` (none), and
``async_client()``: an async context manager giving a coroutine function with the same
contract, for the backfill's many lookups in flight (docs/identification.md); without
it, the backfill runs ``lookup`` in threads. Rate-limit hints are the exceptions'
``retry_after``.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable


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


class LineTypeTimedOut(LineTypeUnavailable):
    """Sent, and the client gave up waiting for the answer: the vendor may have looked
    it up and billed it. Recorded as an attempt whose cost is at risk."""


class LineTypeRefused(Exception):
    """The vendor refuses every lookup until a person acts (credentials, package, country
    approval): lookups stop and the settings page says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LineTypeAnswerLike(Protocol):
    """What the contract promises of an answer; anything more is optional."""

    @property
    def line_type(self) -> object: ...  # one of LineType, as the vendor spells it

    @property
    def carrier(self) -> object: ...  # str or None (read as text whatever it is)

    @property
    def cost(self) -> object: ...  # Decimal (read as money whatever it is)


class LineTypeProvider(Protocol):
    """The whole required contract."""

    def lookup(self, e164: str) -> LineTypeAnswerLike: ...


@runtime_checkable
class NamedProvider(Protocol):
    @property
    def name(self) -> object: ...  # recorded with each lookup in the ledger


@runtime_checkable
class PricedProvider(Protocol):
    @property
    def price(self) -> object: ...  # USD per lookup


# What ``async_client()`` gives, where a provider has one: ``await lookup(e164)``.
AsyncLookup = Callable[[str], Awaitable[LineTypeAnswerLike]]


@runtime_checkable
class AsyncLineTypeProvider(Protocol):
    def lookup(self, e164: str) -> LineTypeAnswerLike: ...

    def async_client(self) -> AbstractAsyncContextManager[AsyncLookup]: ...
