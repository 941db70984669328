"""A loopback HTTP server answering like Twilio's Messages resource (REST API 2010-04-01).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` answers, in turn, what the test
scripted in ``answers``: ``"ok"`` (201 and the Message resource, status ``queued``, as
Twilio documents it), an error code (``{code, message, more_info, status}`` with its HTTP
status), ``"timeout"`` (the request is taken, counted, and never answered in time: Twilio
accepted it but the answer was lost) or ``(status, raw body, headers)``. Every request is
recorded with its form fields and Authorization header.
"""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.telephony.loopback import ServedOnLoopback, answer_json

ERRORS = {
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21211: (400, "The 'To' number +1555 is not a valid phone number."),
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
}


def message_resource(account: str, fields: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": fields.get("Body", ""),
        "date_created": "Mon, 07 Dec 2026 00:40:00 +0000",
        "date_sent": None,
        "date_updated": "Mon, 07 Dec 2026 00:40:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": fields.get("From"),
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        "to": fields.get("To"),
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


class FakeTwilioMessages(ServedOnLoopback):
    def __init__(self, answers: list[Any] | None = None, *, hold_seconds: float = 2.0) -> None:
        self.answers = list(answers or ["ok"])
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.hold_seconds = hold_seconds
        self.released = threading.Event()

    def _next(self) -> Any:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def __enter__(self) -> "FakeTwilioMessages":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                account = self.path.split("/Accounts/", 1)[-1].split("/", 1)[0]
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "fields": fields,
                            "authorization": self.headers.get("Authorization"),
                            "content_type": self.headers.get("Content-Type"),
                        }
                    )
                answer = fake._next()
                headers: dict[str, str] = {}
                if answer == "timeout":
                    # Taken and never answered in time: the client gives up first.
                    fake.released.wait(fake.hold_seconds)
                    return
                if answer == "ok":
                    status, body = 201, json.dumps(message_resource(account, fields)).encode()
                elif isinstance(answer, int):
                    status, message = ERRORS[answer]
                    body = json.dumps(
                        {
                            "code": answer,
                            "message": message,
                            "more_info": f"https://www.twilio.com/docs/errors/{answer}",
                            "status": status,
                        }
                    ).encode()
                    if status == 429:
                        headers["Retry-After"] = "7"
                else:
                    status, body, headers = answer[0], answer[1].encode(), dict(answer[2])
                answer_json(self, status, body, headers)

            def log_message(self, *args: Any) -> None:
                pass

        self.serve(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.stop()
