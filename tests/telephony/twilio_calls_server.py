"""A loopback HTTP server answering like Twilio's Calls API (POST .../Calls.json).

It records each form it receives and answers as Twilio documents: 201 with the Call
resource, or an error ``{code, message, more_info, status}``. ``answers`` is a list used
in turn (an int error code, ``(status, raw body)``, ``"timeout"``); empty means success.
"""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.telephony.loopback import ServedOnLoopback, answer_json

ERRORS = {
    21215: (400, "Account not authorized to call +1868.... Perhaps you need to enable some "
            "international permissions"),
    21216: (400, "Account not allowed to call this number"),
    21217: (400, "Phone number does not appear to be valid"),
    20429: (429, "Too Many Requests"),
}  # fmt: skip


class FakeTwilioCalls(ServedOnLoopback):
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[Any] = []
        self.lock = threading.Lock()
        self.sids: list[str] = []

    def respond(self, account: str, form: dict[str, list[str]]) -> tuple[int, bytes] | None:
        with self.lock:
            answer = self.answers.pop(0) if self.answers else None
        if answer == "timeout":
            time.sleep(2.0)
            return None
        if isinstance(answer, int):
            status, message = ERRORS[answer]
            body = {
                "code": answer,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{answer}",
                "status": status,
            }
            return status, json.dumps(body).encode()
        if isinstance(answer, tuple):
            return answer[0], answer[1].encode()
        sid = "CA" + uuid.uuid4().hex
        self.sids.append(sid)
        call = {
            "sid": sid,
            "account_sid": account,
            "to": form["To"][0],
            "from": form["From"][0],
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }
        return 201, json.dumps(call).encode()

    def __enter__(self) -> "FakeTwilioCalls":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                parts = self.path.split("/")
                account = parts[3] if len(parts) > 3 else ""
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "form": form,
                            "authorization": self.headers.get("Authorization"),
                            "content_type": self.headers.get("Content-Type"),
                        }
                    )
                answer = fake.respond(account, form)
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
