"""The real Twilio adapter, stamping each request with when it left (bench/scale_out.py).

The shared lookup rate holds at the moment a request is sent; the provider sees it arrive
a little later, and on a busy machine a request held up on its way lands among the next
ones. The ``X-Sent-At`` header lets bench/fake_lookup.py count both.
"""

import time
from typing import Any

from telephony.providers.twilio import TwilioLineTypeProvider


class _Stamped:
    def __init__(self, http: Any) -> None:
        self._http = http

    def request(self, method: str, url: str, headers: Any = None, **kwargs: Any) -> Any:
        stamped = {**(headers or {}), "X-Sent-At": repr(time.time())}
        return self._http.request(method, url, headers=stamped, **kwargs)


class StampedTwilioLineTypeProvider(TwilioLineTypeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.http = _Stamped(self.http)  # type: ignore[assignment]
