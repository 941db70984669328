"""Auto-replacement: only when allowed, area code then state, once a day, interrupted runs."""

import pytest

from campaigns.models import Campaign
from campaigns.selectors import campaign_dialing_numbers
from reputation import replacements, services
from reputation.errors import ReputationRefused
from reputation.models import MonitoredNumber, NumberReplacement, SlotClaim
from telephony.models import OwnedNumber
from tests.reputation.fakes import ScriptedInventory, ScriptedReputation, results

pytestmark = pytest.mark.django_db


@pytest.fixture
def spam_number(addon, owned):
    number = owned("+14155550142", label="Outbound A")
    ScriptedReputation.answers = {"+14155550142": results(True, True, False)}
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    return number


def test_nothing_is_replaced_while_auto_replacement_is_off(spam_number):
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    services.daily_check_run()
    assert ScriptedInventory.calls == []
    assert NumberReplacement.objects.count() == 0
    spam_number.refresh_from_db()
    assert spam_number.status == "active"


def test_a_spam_number_is_replaced_in_its_area_code_and_released_only_after(addon, spam_number):
    campaign = Campaign.objects.create(name="Spring")
    campaign.caller_ids.add(spam_number)
    addon.auto_replace = True
    addon.save()
    ScriptedInventory.stock = {"415": ["+14155559001"], "209": ["+12095559001"]}
    services.daily_check_run()
    done = NumberReplacement.objects.get()
    assert (done.state, done.new_number, done.automatic) == ("done", "+14155559001", True)
    assert done.verdict["status"] == "spam"
    assert done.verdict["flagged_sources"] == 2
    assert ScriptedInventory.calls == ["415"]
    old = OwnedNumber.objects.get(pk=spam_number.pk)
    new = OwnedNumber.objects.get(number="+14155559001")
    assert old.status == "released"
    assert old.replaced_by == new
    assert new.status == "active"
    assert new.label == "Outbound A"
    assert ScriptedInventory.released == [spam_number.provider_id]
    assert MonitoredNumber.objects.get().owned_number == new  # pre-screened: safe
    assert MonitoredNumber.objects.get().status == "safe"
    assert campaign_dialing_numbers(campaign=campaign) == [new]
    assert SlotClaim.objects.get().number == "+14155559001"


def test_without_one_in_the_area_code_it_buys_in_the_same_state(addon, spam_number):
    addon.auto_replace = True
    addon.save()
    ScriptedInventory.stock = {"310": ["+13105559001"], "212": ["+12125559001"]}
    replacements.replacements_run()
    assert NumberReplacement.objects.get().new_number == "+13105559001"
    assert ScriptedInventory.calls[0] == "415"
    assert "212" not in ScriptedInventory.calls


def test_with_none_in_the_state_nothing_is_bought_and_the_administrator_is_told(
    addon, spam_number, admin_client
):
    addon.auto_replace = True
    addon.save()
    ScriptedInventory.stock = {"212": ["+12125559001"]}
    replacements.replacements_run()
    refused = NumberReplacement.objects.get()
    assert refused.state == "refused"
    assert "California" in refused.reason
    assert OwnedNumber.objects.filter(status="active").count() == 1
    page = admin_client.get("/admin/telephony/ownednumber/")
    assert "No number available in area code 415 or elsewhere in California" in page.text


def test_at_most_one_replacement_per_number_per_day(addon, spam_number):
    ScriptedInventory.stock = {"415": ["+14155559001", "+14155559002"]}
    first = replacements.number_replace(owned_number=spam_number, by=None)
    assert first.state == "done"
    again = OwnedNumber.objects.get(pk=spam_number.pk)
    with pytest.raises(ReputationRefused):
        replacements.number_replace(
            owned_number=OwnedNumber(pk=again.pk, number=again.number, status="active"), by=None
        )
    assert NumberReplacement.objects.count() == 1


def test_an_interrupted_replacement_is_finished_on_the_next_run(addon, spam_number):
    # A worker died after buying: the row says bought, the new number is not active yet.
    NumberReplacement.objects.create(
        day=addon.cycle_anchor,
        old=spam_number,
        old_number=str(spam_number.number),
        new_number="+14155559001",
        new_provider_id="PNbought",
        state="bought",
    )
    replacements.replacements_run()
    finished = NumberReplacement.objects.get()
    assert finished.state == "done"
    assert list(OwnedNumber.objects.filter(status="active").values_list("number", flat=True)) == [
        "+14155559001"
    ]
    assert ScriptedInventory.calls == []  # nothing bought twice


def test_an_interrupted_replacement_whose_old_number_is_gone_is_undone(addon, spam_number):
    OwnedNumber.objects.filter(pk=spam_number.pk).update(status="released")
    NumberReplacement.objects.create(
        day=addon.cycle_anchor,
        old=spam_number,
        old_number=str(spam_number.number),
        new_number="+14155559001",
        new_provider_id="PNbought",
        state="bought",
    )
    replacements.replacements_run()
    assert NumberReplacement.objects.get().state == "undone"
    assert ScriptedInventory.released == ["PNbought"]
    assert not OwnedNumber.objects.filter(number="+14155559001").exists()


def test_a_failed_release_keeps_the_old_number_until_the_next_run(addon, spam_number):
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    ScriptedInventory.fail_release = True
    first = replacements.number_replace(owned_number=spam_number, by=None)
    assert first.state == "activated"
    active = set(OwnedNumber.objects.filter(status="active").values_list("number", flat=True))
    assert active == {"+14155550142", "+14155559001"}
    assert OwnedNumber.objects.get(pk=spam_number.pk).replaced_by.number == "+14155559001"
    ScriptedInventory.fail_release = False
    replacements.replacements_run()
    assert NumberReplacement.objects.get().state == "done"
    assert OwnedNumber.objects.get(pk=spam_number.pk).status == "released"
