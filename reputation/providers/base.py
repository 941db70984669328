"""The reputation provider interface (``REPUTATION_PROVIDER``), see ``docs/reputation.md``.

``check(e164s)`` answers ``{e164: [result, ...]}``: one result per source (a carrier or an
analytics network) for each number it could check, each with ``carrier``, ``label``,
``score`` and ``flagged``. A number missing from the answer was not checked; an exception is
a failed call for the whole batch. Either way the caller changes nothing for those numbers:
an outage never changes a verdict.

That is the whole contract (docs/providers.md, docs/reputation.md). A provider may offer
more, and the checks detect it, never require it: ``check(e164s, fresh=True)`` (a new,
possibly billed check instead of cached data), ``batch_size`` (numbers a request may carry;
100 without it), ``max_in_flight`` (a rate-limit hint: requests it takes at once) and
``name``.
"""

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

DEFAULT_BATCH_SIZE = 100
# A request carrying more numbers than this is not a batch size we trust: the default.
MAX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class SourceResult:
    carrier: str  # "AT&T", "Verizon", "T-Mobile", or the network that answered
    label: str  # what the source shows, e.g. "Spam Likely", or "" when clean
    score: int | None  # 0-100 as the source reports it, None when it has none
    flagged: bool


class ReputationProviderError(Exception):
    """The provider could not be reached or answered something we cannot use."""


class ReputationRateLimited(ReputationProviderError):
    """The provider refuses more requests for now; ``retry_after`` seconds, when it says."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ReputationProvider(Protocol):
    """The contract: one argument."""

    def check(self, e164s: list[str]) -> Mapping[str, Sequence[Any]]: ...


@runtime_checkable
class FreshReputationProvider(Protocol):
    """A provider that can be asked for fresh data (``check_reputation --force``)."""

    def check(self, e164s: list[str], *, fresh: bool = False) -> Mapping[str, Sequence[Any]]: ...


@runtime_checkable
class BatchedReputationProvider(Protocol):
    batch_size: int


@runtime_checkable
class RateHintedReputationProvider(Protocol):
    max_in_flight: int


def offers_fresh(provider: ReputationProvider) -> bool:
    """Whether ``check`` takes ``fresh`` (by name, or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(provider.check).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: call it as the contract says
        return False
    return any(
        (p.name == "fresh" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        or p.kind == p.VAR_KEYWORD
        for p in parameters
    )


def _positive_int(value: Any, ceiling: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ceiling:
        return None
    return value


def batch_size_of(provider: ReputationProvider) -> int:
    size = getattr(provider, "batch_size", None)
    return _positive_int(size, MAX_BATCH_SIZE) or DEFAULT_BATCH_SIZE


def max_in_flight_of(provider: ReputationProvider, configured: int) -> int:
    """The requests in flight: the setting, lowered to the provider's hint when it has one."""
    hint = _positive_int(getattr(provider, "max_in_flight", None), 1000)
    return max(1, min(configured, hint) if hint else configured)
