"""Replacement never buys, releases or bills by mistake: outages, the allowed area, lost
purchase answers, numbers bought back in the cycle they were released in."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import providers
from reputation import selectors, services
from reputation.models import MonitoredNumber, NumberReplacement, SlotClaim
from telephony.models import OwnedNumber
from telephony.providers.inventory import BoughtNumber, NumberUnavailable
from tests.reputation.fakes import ScriptedInventory, ScriptedReputation, results
from tests.reputation.loopback import Loopback

pytestmark = pytest.mark.django_db


@pytest.fixture
def auto(addon):
    addon.auto_replace = True
    addon.save()
    return addon


def spam(owned, e164):
    number = owned(e164)
    ScriptedReputation.answers = {e164: results(True, True, True)}
    return number


def test_yesterdays_spam_is_not_replaced_during_todays_outage(addon, owned):
    number = spam(owned, "+14155550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    yesterday = timezone.now() - timedelta(days=1)
    MonitoredNumber.objects.update(checked_at=yesterday, flagged_at=yesterday)
    addon.auto_replace = True
    addon.save()
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    ScriptedReputation.down = True
    run = services.daily_check_run()
    assert run.state == "incomplete"
    assert ScriptedInventory.calls == []
    assert NumberReplacement.objects.count() == 0
    assert OwnedNumber.objects.get(pk=number.pk).status == "active"
    # The feed is back and still says SPAM: a check that succeeded today, so it is replaced.
    ScriptedReputation.down = False
    services.daily_check_run()
    assert NumberReplacement.objects.get().state == "done"


def test_a_check_that_failed_after_succeeding_today_replaces_nothing(addon, owned):
    number = spam(owned, "+14155550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    MonitoredNumber.objects.update(failed_at=timezone.now() + timedelta(seconds=1))
    addon.auto_replace = True
    addon.save()
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    services.replacements_run()
    assert ScriptedInventory.calls == []


class FarInventory:
    """Sells a New York number whatever area code it is asked for, at $1.15."""

    released: list = []

    def buy(self, area_code):
        return BoughtNumber(number="+19175550100", provider_id="PNfar", cost=Decimal("1.15"))

    def release(self, provider_id):
        FarInventory.released.append(provider_id)


def test_a_number_sold_outside_the_allowed_area_is_released_at_once_and_recorded(
    auto, owned, settings
):
    settings.NUMBER_INVENTORY_PROVIDER = "tests.reputation.test_replacement_rules.FarInventory"
    providers.clear_providers()
    FarInventory.released = []
    number = spam(owned, "+16785550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    waiting = NumberReplacement.objects.get()
    assert waiting.state == "waiting"
    assert "+19175550100" in waiting.reason
    assert "area code 678 or elsewhere in Georgia" in waiting.reason
    assert waiting.released_unused == [
        {
            "number": "+19175550100",
            "provider_id": "PNfar",
            "cost": "1.15",
            "asked_for": "678",
            "released": True,
        }
    ]
    assert FarInventory.released == ["PNfar"]
    assert OwnedNumber.objects.get(pk=number.pk).status == "active"
    assert not OwnedNumber.objects.filter(number="+19175550100").exists()
    assert waiting in list(selectors.replacement_notices())


def test_the_same_state_fallback_says_where_the_number_comes_from(auto, owned):
    number = spam(owned, "+16785550142")
    ScriptedInventory.stock = {"404": ["+14045559001"]}
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    done = NumberReplacement.objects.get()
    assert (done.state, done.new_number) == ("done", "+14045559001")
    assert done.placement == "area code 404, elsewhere in Georgia: none left in 678"


def test_same_area_code_only_never_falls_back_to_the_state(auto, owned):
    auto.replacement_area = "area_code"
    auto.save()
    number = spam(owned, "+16785550142")
    ScriptedInventory.stock = {"404": ["+14045559001"]}
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    refused = NumberReplacement.objects.get()
    assert refused.state == "refused"
    assert ScriptedInventory.calls == ["678"]


def test_anywhere_buys_outside_the_state_last_and_says_so(auto, owned):
    auto.replacement_area = "any"
    auto.save()
    number = spam(owned, "+16785550142")
    ScriptedInventory.stock = {None: ["+12125559001"]}
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    done = NumberReplacement.objects.get()
    assert (done.state, done.new_number) == ("done", "+12125559001")
    assert ScriptedInventory.calls[0] == "678"
    assert ScriptedInventory.calls[-1] is None
    assert "outside area code 678 or elsewhere in Georgia" in done.placement


class ListingInventory(ScriptedInventory):
    """Offers ``available(area_code)``: what it would sell there."""

    def available(self, area_code):
        return list(ScriptedInventory.stock.get(area_code) or [])


def test_available_is_asked_before_buying_when_the_inventory_offers_it(auto, owned, settings):
    settings.NUMBER_INVENTORY_PROVIDER = "tests.reputation.test_replacement_rules.ListingInventory"
    providers.clear_providers()
    number = spam(owned, "+16785550142")
    ScriptedInventory.stock = {"470": ["+14705559001"]}
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    assert NumberReplacement.objects.get().new_number == "+14705559001"
    assert ScriptedInventory.calls == ["470"]  # no purchase tried where nothing is offered


def test_a_number_bought_back_in_the_cycle_it_was_released_in_takes_its_old_slot(auto, owned):
    earlier = owned("+14155559001")
    services.numbers_monitor(owned_number_ids=[earlier.pk], by=None)
    services.numbers_unmonitor(owned_number_ids=[earlier.pk], by=None)
    OwnedNumber.objects.filter(pk=earlier.pk).update(status="released")
    first, second = spam(owned, "+14155550142"), owned("+14155550143")
    ScriptedReputation.answers["+14155550143"] = results(True, True, True)
    used_before = selectors.usage().used
    ScriptedInventory.stock = {"415": ["+14155559001", "+14155559002"]}
    services.numbers_monitor(owned_number_ids=[first.pk, second.pk], by=None)
    states = dict(NumberReplacement.objects.values_list("old_number", "state"))
    assert states == {"+14155550142": "done", "+14155550143": "done"}
    back = OwnedNumber.objects.get(number="+14155559001", status="active")
    assert SlotClaim.objects.get(number="+14155559001").owned_number == back
    assert MonitoredNumber.objects.filter(owned_number=back).exists()
    assert selectors.usage().used == used_before + 2  # the two monitored now; none more


def twilio_slow_purchase(bought: dict, answer: threading.Event):
    """Twilio that completes a purchase, then answers only after the client gave up."""

    def handle(method, path, query, body, headers):
        base = "/2010-04-01/Accounts/AC123"
        if method == "GET" and path == f"{base}/AvailablePhoneNumbers/US/Local.json":
            code = query["AreaCode"][0]
            numbers = [f"+1{code}555010{i}" for i in range(3)]
            return 200, {"available_phone_numbers": [{"phone_number": n} for n in numbers]}
        if method == "POST" and path == f"{base}/IncomingPhoneNumbers.json":
            sid = f"PN{len(bought):032d}"
            bought[sid] = {
                "sid": sid,
                "phone_number": body["PhoneNumber"],
                "friendly_name": body.get("FriendlyName", body["PhoneNumber"]),
            }
            answer.wait(5)  # the vendor is slow to answer: the client times out first
            return 201, bought[sid]
        if method == "GET" and path == f"{base}/IncomingPhoneNumbers.json":
            name = query.get("FriendlyName", [None])[0]
            found = [r for r in bought.values() if name in (None, r["friendly_name"])]
            return 200, {"incoming_phone_numbers": found}
        if method == "DELETE" and path.startswith(f"{base}/IncomingPhoneNumbers/PN"):
            return 204, b""
        return 404, {"code": 20404}

    return handle


def test_a_purchase_answered_after_the_timeout_is_found_and_not_bought_twice(auto, owned, settings):
    bought, answer = {}, threading.Event()
    with Loopback(twilio_slow_purchase(bought, answer)) as api:
        settings.NUMBER_INVENTORY_PROVIDER = (
            "telephony.providers.twilio_inventory.TwilioNumberInventoryProvider"
        )
        settings.TWILIO_API_BASE_URL = api.url
        settings.TWILIO_ACCOUNT_SID = "AC123"
        settings.TWILIO_AUTH_TOKEN = "tok"
        settings.PROVIDER_TIMEOUT_SECONDS = 0.3
        providers.clear_providers()
        number = spam(owned, "+14155550142")
        services.numbers_monitor(owned_number_ids=[number.pk], by=None)
        services.replacements_run()  # a later run buys nothing more
        answer.set()
    done = NumberReplacement.objects.get()
    assert (done.state, done.new_number) == ("done", "+14155550100")
    assert len(bought) == 1
    assert done.request_key
    assert bought[done.new_provider_id]["friendly_name"] == done.request_key
    posts = [r for r in api.requests if r["method"] == "POST"]
    assert len(posts) == 1
    assert OwnedNumber.objects.get(number="+14155550100").status == "active"


class TimeoutInventory(ScriptedInventory):
    """Buys, then loses the answer (no way to look a purchase up)."""

    def buy(self, area_code):
        ScriptedInventory.calls.append(area_code)
        raise TimeoutError("read timed out")


def test_without_a_way_to_look_purchases_up_a_lost_answer_fails_and_says_so(auto, owned, settings):
    settings.NUMBER_INVENTORY_PROVIDER = "tests.reputation.test_replacement_rules.TimeoutInventory"
    providers.clear_providers()
    number = spam(owned, "+14155550142")
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    failed = NumberReplacement.objects.get()
    assert failed.state == "failed"
    assert "read timed out" in failed.reason


class Unavailable(ScriptedInventory):
    def buy(self, area_code):
        raise NumberUnavailable("none")


def test_a_new_number_that_cannot_take_over_is_given_back_and_blocks_nothing(
    auto, owned, monkeypatch
):
    from django.db import IntegrityError

    from reputation import replacements

    first, second = spam(owned, "+14155550142"), owned("+14155550143")
    ScriptedReputation.answers["+14155550143"] = results(True, True, True)
    ScriptedInventory.stock = {"415": ["+14155559001", "+14155559002"]}
    real = replacements._pass_slots

    def once_broken(replacement, old, new):
        if replacement.old_number == "+14155550142":
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(replacement, old, new)

    monkeypatch.setattr(replacements, "_pass_slots", once_broken)
    services.numbers_monitor(owned_number_ids=[first.pk, second.pk], by=None)
    states = dict(NumberReplacement.objects.values_list("old_number", "state"))
    assert states == {"+14155550142": "undone", "+14155550143": "done"}
    undone = NumberReplacement.objects.get(old_number="+14155550142")
    assert "could not take over" in undone.reason
    assert ScriptedInventory.released[0] == "PN" + "1".zfill(32)  # what it bought, given back
    assert OwnedNumber.objects.get(pk=first.pk).status == "active"  # still dialling from it
    assert not OwnedNumber.objects.filter(number="+14155559001").exists()
