"""A loopback HTTP server answering like Twilio Lookup v2 (line_type_intelligence).

Answers per number are set by the test: a line type, ``invalid``, or an error code with
its HTTP status, as Twilio documents them. It counts every request it answers.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from tests.telephony.loopback import ServedOnLoopback, answer_json

# Twilio's error responses: {code, message, more_info, status}.
ERRORS = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    60616: (429, "Rate limit exceeded"),
    60606: (403, "Package not enabled"),
    60607: (400, "Provided country is not supported"),
    60601: (403, "Lookup of Canadian numbers requires approval"),
}


def success(e164: str, type_: str, carrier: str | None = "Test Carrier") -> dict[str, Any]:
    return {
        "calling_country_code": "1",
        "country_code": "US",
        "phone_number": e164,
        "national_format": e164,
        "valid": True,
        "validation_errors": None,
        "caller_name": None,
        "sim_swap": None,
        "call_forwarding": None,
        "line_type_intelligence": {
            "carrier_name": carrier,
            "error_code": None,
            "mobile_country_code": "240",
            "mobile_network_code": "38",
            "type": type_,
        },
        "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{e164}",
    }


def invalid(e164: str) -> dict[str, Any]:
    return {
        "calling_country_code": None,
        "country_code": None,
        "phone_number": e164,
        "national_format": None,
        "valid": False,
        "validation_errors": ["TOO_SHORT"],
        "line_type_intelligence": None,
        "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{e164}",
    }


def error(code: int) -> tuple[int, dict[str, Any]]:
    status, message = ERRORS[code]
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilioLookup(ServedOnLoopback):
    """``answers[e164]``: a type string, ``"invalid"``, an int error code, ``(status,
    raw body)``, ``"timeout"``, or a list of those answered in turn. Others: ``default``."""

    def __init__(self, *, latency: float = 0.0, default: Any = "landline") -> None:
        self.latency = latency
        self.default = default
        self.answers: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.timeout_seconds = 2.0

    def respond(self, e164: str) -> tuple[int, bytes] | None:
        with self.lock:
            answer = self.answers.get(e164, self.default)
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if answer == "timeout":
            time.sleep(self.timeout_seconds)
            return None
        if answer == "invalid":
            return 200, json.dumps(invalid(e164)).encode()
        if isinstance(answer, int):
            status, body = error(answer)
            return status, json.dumps(body).encode()
        if isinstance(answer, tuple):
            return answer[0], answer[1].encode() if isinstance(answer[1], str) else answer[1]
        if isinstance(answer, dict):
            return 200, json.dumps(answer).encode()
        return 200, json.dumps(success(e164, answer)).encode()

    def __enter__(self) -> "FakeTwilioLookup":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                e164 = unquote(url.path.rsplit("/", 1)[-1])
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": url.path,
                            "query": parse_qs(url.query),
                            "authorization": self.headers.get("Authorization"),
                            "number": e164,
                        }
                    )
                if fake.latency:
                    time.sleep(fake.latency)
                answer = fake.respond(e164)
                if answer is None:
                    return
                status, body = answer
                answer_json(self, status, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.serve(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def numbers_asked(self) -> list[str]:
        with self.lock:
            return [r["number"] for r in self.requests]
