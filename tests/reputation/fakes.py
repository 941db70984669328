"""Stand-ins for the outside services (providers), scripted per test."""

from reputation.providers.base import ReputationProviderError, SourceResult
from telephony.providers.inventory import BoughtNumber, NumberUnavailable


def results(*flags: bool) -> list[SourceResult]:
    carriers = ("AT&T", "Verizon", "T-Mobile", "US Cellular", "Other")
    return [
        SourceResult(
            carrier=carriers[i], label="Spam Likely" if f else "", score=90 if f else 10, flagged=f
        )
        for i, f in enumerate(flags)
    ]


class ScriptedReputation:
    """Answers from ``answers`` (e164 -> results); ``down`` makes every call fail."""

    batch_size = 100
    answers: dict = {}
    default = (False, False, False)
    down = False
    calls: list = []

    def check(self, e164s, *, fresh=False):
        ScriptedReputation.calls.append((list(e164s), fresh))
        if ScriptedReputation.down:
            raise ReputationProviderError("feed outage")
        return {
            e164: ScriptedReputation.answers.get(e164) or results(*ScriptedReputation.default)
            for e164 in e164s
        }

    @classmethod
    def reset(cls):
        cls.answers, cls.down, cls.calls, cls.default = {}, False, [], (False, False, False)


class ScriptedInventory:
    """Numbers to sell per area code (``stock``), with every call logged."""

    stock: dict = {}
    calls: list = []
    released: list = []
    fail_release = False
    counter = 0

    def buy(self, area_code):
        ScriptedInventory.calls.append(area_code)
        pool = ScriptedInventory.stock.get(area_code) or []
        if not pool:
            raise NumberUnavailable(f"none in {area_code}")
        number = pool.pop(0)
        ScriptedInventory.counter += 1
        return BoughtNumber(number=number, provider_id=f"PN{ScriptedInventory.counter:032d}")

    def release(self, provider_id):
        if ScriptedInventory.fail_release:
            raise RuntimeError("release failed")
        ScriptedInventory.released.append(provider_id)

    @classmethod
    def reset(cls):
        cls.stock, cls.calls, cls.released, cls.fail_release, cls.counter = {}, [], [], False, 0
