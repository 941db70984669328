"""A plain HTTP JSON reputation feed, for vendors without an adapter of their own.

``POST REPUTATION_FEED_URL`` with ``Authorization: Bearer REPUTATION_FEED_TOKEN`` and
``{"numbers": ["+14155550100", ...]}`` (at most 100); the feed answers
``{"results": {"+14155550100": [{"carrier": "AT&T", "label": "Spam Likely", "score": 87,
"flagged": true}, ...]}}``. The format is documented in ``docs/reputation.md``.
"""

from typing import Any

import requests
from django.conf import settings

from reputation.providers.base import ReputationProviderError, SourceResult

BATCH_SIZE = 100


class HttpFeedReputationProvider:
    batch_size = BATCH_SIZE

    def __init__(self) -> None:
        self.url = settings.REPUTATION_FEED_URL
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        self.session = requests.Session()
        if settings.REPUTATION_FEED_TOKEN:
            self.session.headers["Authorization"] = f"Bearer {settings.REPUTATION_FEED_TOKEN}"

    def check(self, e164s: list[str], *, fresh: bool = False) -> dict[str, list[SourceResult]]:
        if not self.url:
            raise ReputationProviderError("REPUTATION_FEED_URL is not set.")
        if len(e164s) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} numbers a request")
        payload: dict[str, Any] = {"numbers": e164s}
        if fresh:
            payload["fresh"] = True
        try:
            response = self.session.post(self.url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ReputationProviderError(f"the feed could not be reached: {exc}") from exc
        if response.status_code != 200:
            raise ReputationProviderError(f"the feed answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ReputationProviderError("the feed answered something that is not JSON") from exc
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, dict):
            raise ReputationProviderError('the feed\'s answer has no "results" object')
        wanted = set(e164s)
        return {
            e164: parsed
            for e164, entries in results.items()
            if e164 in wanted and (parsed := _parse(entries)) is not None
        }


def _parse(entries: Any) -> list[SourceResult] | None:
    """One number's results, or None (not checked) when any entry is malformed."""
    if not isinstance(entries, list) or not entries:
        return None
    parsed = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("carrier"), str):
            return None
        flagged = entry.get("flagged")
        score = entry.get("score")
        if not isinstance(flagged, bool):
            return None
        if score is not None and (not isinstance(score, int) or isinstance(score, bool)):
            return None
        parsed.append(
            SourceResult(
                carrier=entry["carrier"][:40],
                label=str(entry.get("label") or "")[:80],
                score=score,
                flagged=flagged,
            )
        )
    return parsed
