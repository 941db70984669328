"""Telnyx Number Reputation (API v2), for numbers registered to a Telnyx enterprise.

- Cached reads are free: the daily check lists the batch's numbers with their stored
  ``reputation_data`` (``GET /enterprises/{id}/reputation/numbers`` filtered by number,
  at most 100 a request).
- A fresh check is billed: ``check(..., fresh=True)`` (``check_reputation --force``) asks
  ``GET /enterprises/{id}/reputation/numbers/{e164}?fresh=true`` for each number.
- A number the enterprise does not monitor yet is registered first
  (``POST /enterprises/{id}/reputation/numbers``, up to 100 at once), then read once
  (Telnyx looks a number with no cached data up on its first read).

``reputation_data`` carries ``spam_risk`` (low / medium / high), ``spam_category`` and four
0-100 scores; ``high`` is a flag. It is null until Telnyx has data: not checked.
Settings: ``TELNYX_API_KEY``, ``TELNYX_ENTERPRISE_ID``, ``TELNYX_API_BASE_URL``.
"""

from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from crm.logs import mask
from reputation.providers.base import ReputationProviderError, SourceResult

BATCH_SIZE = 100
SOURCE = "Telnyx"
SCORES = ("maturity_score", "connection_score", "engagement_score", "sentiment_score")


class TelnyxReputationProvider:
    batch_size = BATCH_SIZE

    def __init__(self) -> None:
        self.base = settings.TELNYX_API_BASE_URL.rstrip("/")
        self.enterprise = settings.TELNYX_ENTERPRISE_ID
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {settings.TELNYX_API_KEY}"

    def check(self, e164s: list[str], *, fresh: bool = False) -> dict[str, list[SourceResult]]:
        if not self.enterprise:
            raise ReputationProviderError("TELNYX_ENTERPRISE_ID is not set.")
        if len(e164s) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} numbers a request")
        if fresh:
            records = [r for e164 in e164s if (r := self._one(e164, fresh=True)) is not None]
        else:
            records = self._list(e164s)
            known = {r.get("phone_number") for r in records}
            missing = [e164 for e164 in e164s if e164 not in known]
            if missing:
                self._register(missing)
                records += [r for e164 in missing if (r := self._one(e164)) is not None]
        answer: dict[str, list[SourceResult]] = {}
        wanted = set(e164s)
        for record in records:
            number = record.get("phone_number")
            result = _result(record.get("reputation_data"))
            if number in wanted and result is not None:
                answer[number] = [result]
        return answer

    def _numbers_url(self) -> str:
        return f"{self.base}/enterprises/{self.enterprise}/reputation/numbers"

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            # The error quotes the URL, a number in it: stored as last_error and logged.
            raise ReputationProviderError(f"Telnyx could not be reached: {mask(str(exc))}") from exc

    def _json(self, response: requests.Response) -> Any:
        if response.status_code >= 400:
            raise ReputationProviderError(f"Telnyx answered {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ReputationProviderError("Telnyx answered something that is not JSON") from exc

    def _list(self, e164s: list[str]) -> list[dict[str, Any]]:
        params = {"filter[phone_number][in]": ",".join(e164s), "page[size]": BATCH_SIZE}
        body = self._json(self._request("GET", self._numbers_url(), params=params))
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ReputationProviderError('Telnyx\'s list has no "data" array')
        return [r for r in data if isinstance(r, dict)]

    def _one(self, e164: str, *, fresh: bool = False) -> dict[str, Any] | None:
        url = f"{self._numbers_url()}/{quote(e164, safe='')}"
        response = self._request("GET", url, params={"fresh": "true"} if fresh else None)
        if response.status_code == 404:
            return None  # not registered (or no longer ours): not checked
        body = self._json(response)
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else None

    def _register(self, e164s: list[str]) -> None:
        response = self._request("POST", self._numbers_url(), json={"phone_numbers": e164s})
        if response.status_code == 422:
            return  # e.g. not a US number of ours: those stay unchecked, the rest are read
        self._json(response)


def _result(data: Any) -> SourceResult | None:
    if not isinstance(data, dict) or data.get("spam_risk") not in {"low", "medium", "high"}:
        return None
    risk = data["spam_risk"]
    category = data.get("spam_category")
    scores = [s for key in SCORES if isinstance(s := data.get(key), int)]
    label = {"low": "", "medium": "Some spam risk", "high": "Spam Likely"}[risk]
    if isinstance(category, str) and category:
        label = f"{label}: {category}" if label else category
    return SourceResult(
        carrier=SOURCE,
        label=label[:80],
        # The weakest of the four scores (0-100, higher is better): what drags it down.
        score=min(scores) if scores else None,
        flagged=risk == "high",
    )
