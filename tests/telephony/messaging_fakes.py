"""Messaging providers for the send rules (the network is tested apart, against a loopback
Twilio in test_messaging_provider.py)."""

import uuid
from types import SimpleNamespace
from typing import Any, ClassVar

from telephony.models import Message


class RecordingProvider:
    """Answers ``answers`` in turn (``"ok"`` or an exception to raise); records each call
    with the outbound row as the database held it at that moment."""

    answers: ClassVar[list[Any]] = ["ok"]
    calls: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def reset(cls, answers: list[Any] | None = None) -> None:
        cls.answers, cls.calls = list(answers or ["ok"]), []

    def send(self, from_e164: str, to_e164: str, body: str, status_callback: str) -> Any:
        stored = list(
            Message.objects.filter(direction="outbound", body=body).values_list("status", flat=True)
        )
        self.calls.append(
            {
                "from": from_e164,
                "to": to_e164,
                "body": body,
                "callback": status_callback,
                "stored": stored,
            }
        )
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if answer != "ok":
            return answer  # whatever a provider may answer, malformed included
        # Exactly the contract: an object with external_id and status, nothing more.
        return SimpleNamespace(external_id="SM" + uuid.uuid4().hex, status="queued")
