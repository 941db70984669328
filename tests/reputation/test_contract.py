"""Providers with exactly what the contract says (docs/providers.md), and nothing more,
work everywhere.

``check(e164s)`` takes one argument; ``buy(area_code)`` / ``release(provider_id)`` are the
whole inventory. No ``batch_size``, ``fresh``, ``name`` or ``available``: each is optional.
"""

from types import SimpleNamespace

import pytest
from django.core.management import call_command

from crm import providers
from reputation import services
from reputation.models import DailyCheckRun, MonitoredNumber, NumberReplacement
from telephony.models import OwnedNumber

pytestmark = pytest.mark.django_db

FLAGGED: set[str] = set()
CHECKED: list[list[str]] = []
SOLD: list[str | None] = []
RELEASED: list[str] = []


class ContractReputation:
    def check(self, e164s):
        CHECKED.append(list(e164s))
        return {
            e164: [
                SimpleNamespace(carrier=c, label="", score=10, flagged=e164 in FLAGGED)
                for c in ("AT&T", "Verizon", "T-Mobile")
            ]
            for e164 in e164s
        }


class ContractInventory:
    def buy(self, area_code):
        SOLD.append(area_code)
        return SimpleNamespace(
            number=f"+1{area_code}555{9000 + len(SOLD):04d}", provider_id=f"P{len(SOLD)}"
        )

    def release(self, provider_id):
        RELEASED.append(provider_id)


@pytest.fixture(autouse=True)
def contract_providers(settings):
    settings.REPUTATION_PROVIDER = "tests.reputation.test_contract.ContractReputation"
    settings.NUMBER_INVENTORY_PROVIDER = "tests.reputation.test_contract.ContractInventory"
    for kept in (FLAGGED, CHECKED, SOLD, RELEASED):
        kept.clear()
    providers.clear_providers()
    yield
    providers.clear_providers()


def test_prescreen_with_a_one_argument_check(addon, owned):
    number = owned("+14155550142")
    FLAGGED.add("+14155550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    assert MonitoredNumber.objects.get().status == "spam"
    assert CHECKED == [["+14155550142"]]


def test_the_daily_check_and_a_forced_one_with_a_one_argument_check(addon, owned):
    numbers = [owned() for _ in range(3)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    CHECKED.clear()
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.numbers_failed) == ("done", 3, 0)
    call_command("check_reputation", "--force")  # fresh is not offered: cached data it is
    forced = DailyCheckRun.objects.get(forced=True)
    assert (forced.state, forced.numbers_checked) == ("done", 3)
    assert len(CHECKED) == 2


def test_a_replacement_with_buy_and_release_only(addon, owned):
    addon.auto_replace = True
    addon.save()
    number = owned("+14155550142")
    FLAGGED.add("+14155550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    done = NumberReplacement.objects.get()
    assert (done.state, done.new_number) == ("done", "+14155559001")
    assert SOLD == ["415"]
    assert RELEASED == [number.provider_id]
    assert OwnedNumber.objects.get(pk=number.pk).status == "released"
    assert MonitoredNumber.objects.get().owned_number.number == "+14155559001"
