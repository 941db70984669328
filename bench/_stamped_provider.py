"""The real Twilio adapter, stamping each request with when it left (bench/scale_out.py).

The shared lookup rate holds at the moment a request is sent; the provider sees it arrive
a little later, and on a busy machine a request held up on its way lands among the next
ones. The URL is built as the request leaves, on the threaded and the event-loop path
alike, so a ``SentAt`` query parameter lets bench/fake_lookup.py count both.
"""

import time

from telephony.providers.twilio import TwilioLineTypeProvider


class StampedTwilioLineTypeProvider(TwilioLineTypeProvider):
    def url(self, e164: str) -> str:
        return f"{super().url(e164)}&SentAt={time.time()!r}"
