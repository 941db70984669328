"""A scripted line-type provider for the backfill's rules (the network is tested apart)."""

import threading
from decimal import Decimal
from typing import Any, ClassVar

from telephony.providers.base import LineTypeAnswer


class ScriptedProvider:
    """Answers ``answers[e164]`` (a line type, or an exception to raise), else ``default``."""

    name = "scripted"
    price = Decimal("0.01")
    answers: ClassVar[dict[str, Any]] = {}
    default: ClassVar[Any] = "landline"
    calls: ClassVar[list[str]] = []
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.answers, cls.default, cls.calls = {}, "landline", []

    def lookup(self, e164: str) -> LineTypeAnswer:
        with self.lock:
            self.calls.append(e164)
            # Read from the class's dict: a function there would bind as a method.
            answer = self.answers.get(e164, vars(type(self))["default"])
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(e164)
        return LineTypeAnswer(answer, "Scripted Wireless", self.price)
