"""Offline reputation: deterministic answers from the number itself (no network, no cost).

The same number always gets the same three carrier results. To make a demo number flagged,
end it in ``666`` (all three carriers say "Spam Likely": SPAM) or ``66`` (T-Mobile alone:
SAFE, below the majority), or list it in ``REPUTATION_SANDBOX_FLAGGED`` (comma list).
"""

import hashlib

from django.conf import settings

from reputation.providers.base import SourceResult

CARRIERS = ("AT&T", "Verizon", "T-Mobile")


class SandboxReputationProvider:
    batch_size = 100

    def check(self, e164s: list[str], *, fresh: bool = False) -> dict[str, list[SourceResult]]:
        flagged = set(getattr(settings, "REPUTATION_SANDBOX_FLAGGED", ()))
        return {e164: self._results(e164, e164 in flagged) for e164 in e164s}

    def _results(self, e164: str, listed: bool) -> list[SourceResult]:
        results = []
        for carrier in CARRIERS:
            digest = hashlib.sha256(f"{carrier}:{e164}".encode()).digest()
            score = digest[0] % 40  # a clean number scores low
            spam = listed or e164.endswith("666") or (carrier == "T-Mobile" and e164.endswith("66"))
            if spam:
                score = 80 + digest[1] % 20
            results.append(
                SourceResult(
                    carrier=carrier,
                    label="Spam Likely" if spam else "",
                    score=score,
                    flagged=spam,
                )
            )
        return results
