"""Start calling in the workspace: each page by role, and a caller's run through it."""

import pytest
from django.urls import reverse

from campaigns.models import CallAttempt, Campaign, Contact, Queue
from crm.models import StaffProfile
from telephony.models import OwnedNumber
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    return campaign


def test_roles_on_the_dial_page(client, campaign, caller, agent, administrator, make_user):
    page = reverse("campaigns:dial", args=[campaign.pk])
    client.force_login(agent)
    assert client.get(page).status_code == 403
    client.force_login(make_user("Caller", "unassigned"))
    assert client.get(page).status_code == 404
    for user in (caller, administrator):
        client.force_login(user)
        assert client.get(page).status_code == 200
    client.logout()
    assert client.get(page).status_code == 302


def test_a_caller_works_through_two_leads(client, campaign, caller):
    first = lead(campaign, "Ada Lovelace", number="+16785551001")
    second = lead(campaign, "Grace Hopper", number="+12125551002")
    client.force_login(caller)
    page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert "Set your phone" in page
    assert "Ada Lovelace" in page
    saved = client.post(
        reverse("campaigns:my-phone"), {"phone": "(404) 555-0199", "time_zone": "America/New_York"}
    )
    assert saved.status_code == 302
    assert StaffProfile.objects.get(user=caller).phone == "+14045550199"
    for contact, outcome in ((first, "No answer"), (second, "Not interested")):
        page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
        assert contact.name in page
        called = client.post(
            reverse("campaigns:dial-call", args=[campaign.pk, contact.pk]),
            {"number": contact.phone.number},
        )
        attempt = CallAttempt.objects.get(contact_id=contact.pk)
        assert called["Location"] == reverse(
            "campaigns:dial-attempt", args=[campaign.pk, attempt.pk]
        )
        calling_page = client.get(called["Location"]).content.decode()
        assert "Caller ID" in calling_page
        assert "least used today" in calling_page
        assert 'class="timer"' in calling_page
        assert "Log outcome and next lead" in calling_page
        logged = client.post(
            reverse("campaigns:dial-outcome", args=[campaign.pk, attempt.pk]),
            {"outcome": outcome, "note": "first try"},
        )
        assert logged["Location"] == reverse("campaigns:dial", args=[campaign.pk])
    assert Contact.objects.get(pk=first.pk).queue == Queue.RETRY
    assert Contact.objects.get(pk=second.pk).queue == Queue.DONE
    done = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert "No lead is callable now" in done


def test_bad_phone_is_refused_with_the_reason(client, caller):
    client.force_login(caller)
    response = client.post(reverse("campaigns:my-phone"), {"phone": "12", "time_zone": "Mars/Base"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "time zone" in body
    assert not StaffProfile.objects.filter(user=caller).exists()


def test_another_callers_call_page_is_refused(client, campaign, caller, make_user):
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    target = lead(campaign, "Ada", number="+16785551001")
    client.force_login(caller)
    client.post(
        reverse("campaigns:dial-call", args=[campaign.pk, target.pk]), {"number": "+16785551001"}
    )
    attempt = CallAttempt.objects.get()
    other = make_user("Caller", "other")
    campaign.callers.add(other)
    client.force_login(other)
    page = reverse("campaigns:dial-attempt", args=[campaign.pk, attempt.pk])
    assert client.get(page).status_code == 403
    outcome = reverse("campaigns:dial-outcome", args=[campaign.pk, attempt.pk])
    assert client.post(outcome, {"outcome": "Busy"}).status_code == 403
