"""The Add-on page refuses what it cannot honour and says what a switch will do; the
Monitored numbers list shows a number at risk as a warning."""

import pytest
from django.test import Client

from campaigns.models import Campaign
from reputation import services
from reputation.errors import ReputationRefused
from reputation.models import MonitoredNumber, NumberReplacement, ReputationSettings
from tests.reputation.fakes import ScriptedInventory, ScriptedReputation, results

pytestmark = pytest.mark.django_db

PAGE = "/admin/reputation/reputationsettings/1/change/"
FORM = {
    "addon_enabled": "on",
    "blocks": "1",
    "at_risk_fraction": "0.60",
    "daily_call_warning": "75",
    "spam_threshold": "",
}


@pytest.fixture
def client(administrator):
    client = Client()
    client.force_login(administrator)
    return client


def test_blocks_below_the_slots_in_use_are_refused_with_the_figures(client, addon, owned):
    addon.blocks = 2
    addon.save()
    numbers = [owned() for _ in range(16)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    for blocks in ("1", "0"):
        response = client.post(PAGE, {**FORM, "blocks": blocks})
        assert response.status_code == 200
        assert "16 monitoring slots are in use this cycle" in response.text
        assert "Keep at least 2 blocks (30 numbers) this cycle." in response.text
    assert ReputationSettings.load().blocks == 2
    config = ReputationSettings.load()
    config.blocks = 0
    with pytest.raises(ReputationRefused, match="16 monitoring slots"):
        services.reputation_settings_save(config=config)
    assert client.post(PAGE, {**FORM, "blocks": "3"}).status_code == 302
    assert ReputationSettings.load().blocks == 3


def test_switching_auto_replacement_on_lists_what_changes_and_asks_to_confirm(
    client, addon, owned, django_capture_on_commit_callbacks, eager_tasks
):
    flagged = owned("+14155550142", label="Spring promo")
    ScriptedReputation.answers = {"+14155550142": results(True, True, True)}
    services.numbers_monitor(owned_number_ids=[flagged.pk], by=None)
    Campaign.objects.create(name="Spring").caller_ids.add(flagged)
    page = client.get(PAGE).text
    assert "+14155550142" in page
    assert "Caller ID changes in: Spring." in page
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(PAGE, {**FORM, "auto_replace": "on"})
    assert asked.status_code == 200
    assert "buys 1 number now and releases +14155550142 (Spring promo)" in asked.text
    assert "Caller IDs change in: Spring." in asked.text
    assert not ReputationSettings.load().auto_replace
    assert NumberReplacement.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(PAGE, {**FORM, "auto_replace": "on", "confirm_auto_replace": "on"})
    assert confirmed.status_code == 302
    assert ReputationSettings.load().auto_replace
    assert NumberReplacement.objects.get().state == "done"


def test_switching_on_with_nothing_flagged_needs_no_confirmation(client, addon, owned):
    assert client.post(PAGE, {**FORM, "auto_replace": "on"}).status_code == 302
    assert ReputationSettings.load().auto_replace


def test_the_monitored_numbers_list_shows_at_risk_as_a_warning(client, addon, owned):
    risky, healthy = owned(), owned()
    services.numbers_monitor(owned_number_ids=[risky.pk, healthy.pk], by=None)
    MonitoredNumber.objects.filter(owned_number=risky).update(at_risk=True)
    page = client.get("/admin/reputation/monitorednumber/").text
    assert "icon-yes" not in page  # a green tick said "at risk" before
    assert page.count(">AT RISK</span>") == 1
    row = page[page.index(str(risky.number)[2:5]) :]
    assert row.index(">AT RISK<") < row.index(">No<")
