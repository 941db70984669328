"""The reputation provider interface (``REPUTATION_PROVIDER``), see ``docs/reputation.md``.

``check(e164s)`` answers ``{e164: [SourceResult, ...]}``: one result per source (a carrier
or an analytics network) for each number it could check. A number missing from the answer
was not checked; an exception is a failed call for the whole batch. Either way the caller
changes nothing for those numbers: an outage never changes a verdict.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SourceResult:
    carrier: str  # "AT&T", "Verizon", "T-Mobile", or the network that answered
    label: str  # what the source shows, e.g. "Spam Likely", or "" when clean
    score: int | None  # 0-100 as the source reports it, None when it has none
    flagged: bool


class ReputationProviderError(Exception):
    """The provider could not be reached or answered something we cannot use."""


class ReputationProvider(Protocol):
    # The most numbers one request may carry; the daily check batches to it.
    batch_size: int

    def check(self, e164s: list[str], *, fresh: bool = False) -> dict[str, list[SourceResult]]:
        """``fresh`` asks for a new (possibly billed) check instead of cached data."""
        ...
