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
Rate limits (Telnyx "Rate limiting"): every answer carries ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds until the window resets); with none remaining, the next
request waits for the reset. A 429 (error code 10011) waits the same way and is sent again,
up to :data:`RATE_LIMIT_RETRIES` times; a wait longer than :data:`MAX_WAIT_SECONDS` is not
waited for: :class:`ReputationRateLimited` fails the batch (nothing changes; the beat's next
fire resumes the day's check).
Settings: ``TELNYX_API_KEY``, ``TELNYX_ENTERPRISE_ID``, ``TELNYX_API_BASE_URL``.
"""

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from crm.logs import mask
from reputation.providers.base import (
    ReputationProviderError,
    ReputationRateLimited,
    SourceResult,
)

BATCH_SIZE = 100
SOURCE = "Telnyx"
TOO_MANY_REQUESTS = "10011"
RATE_LIMIT_RETRIES = 3
MAX_WAIT_SECONDS = 30.0
# A 429 without a reset header: wait this long, doubled on each retry.
BACKOFF_SECONDS = 1.0
SCORES = ("maturity_score", "connection_score", "engagement_score", "sentiment_score")


class TelnyxReputationProvider:
    batch_size = BATCH_SIZE

    def __init__(self) -> None:
        self.base = settings.TELNYX_API_BASE_URL.rstrip("/")
        self.enterprise = settings.TELNYX_ENTERPRISE_ID
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {settings.TELNYX_API_KEY}"
        # The daily check's requests in flight share one window: one clock for them all.
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._clock: Callable[[], float] = time.monotonic
        self._sleep: Callable[[float], None] = time.sleep

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
        backoff = BACKOFF_SECONDS
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            self._wait_for_window()
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                # The error quotes the URL, a number in it: stored as last_error and logged.
                raise ReputationProviderError(
                    f"Telnyx could not be reached: {mask(str(exc))}"
                ) from exc
            reset = _seconds(response.headers.get("x-ratelimit-reset"))
            if not _rate_limited(response):
                if _seconds(response.headers.get("x-ratelimit-remaining")) == 0 and reset:
                    self._pause(reset)
                return response
            wait = reset or _seconds(response.headers.get("retry-after")) or backoff
            backoff *= 2
            if wait > MAX_WAIT_SECONDS or attempt == RATE_LIMIT_RETRIES:
                self._pause(wait)
                raise ReputationRateLimited(
                    f"Telnyx rate limit ({TOO_MANY_REQUESTS}): try again in {wait:.0f} s",
                    retry_after=wait,
                )
            self._pause(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def _wait_for_window(self) -> None:
        with self._lock:
            wait = self._resume_at - self._clock()
        if wait > MAX_WAIT_SECONDS:
            raise ReputationRateLimited(
                f"Telnyx rate limit: the window resets in {wait:.0f} s", retry_after=wait
            )
        if wait > 0:
            self._sleep(wait)

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


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def _rate_limited(response: requests.Response) -> bool:
    """A 429, or an error answer whose code is 10011 ("Too many requests")."""
    if response.status_code == 429:
        return True
    if response.status_code < 400:
        return False
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and str(e.get("code")) == TOO_MANY_REQUESTS for e in errors)


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
