"""The customer page as a workplace: card and numbers with their badges, then the timeline
and the reply box, before the form; replying from it per role; opt-out on every list."""

import pytest
from django.utils.html import format_html

from crm import providers
from crm.admin_extensions import number_badges
from crm.optout import phone_number_sms_opt_out_set
from telephony import services
from telephony.admin import MessageAdmin
from telephony.models import Message
from tests.telephony.factories import message_sid

pytestmark = pytest.mark.django_db

OURS, CUSTOMER = "+18005550100", "+14155550142"


@pytest.fixture(autouse=True)
def offline_messaging(settings):
    settings.MESSAGING_PROVIDER = "telephony.providers.offline.OfflineMessagingProvider"
    providers.clear_providers()


@pytest.fixture
def customer():
    recorded = services.message_record(
        external_id=message_sid(),
        direction="inbound",
        from_number=CUSTOMER,
        to_number=OURS,
        body="Is the shop open Sunday?",
    )
    profile = recorded.record.customer
    profile.name = "Ana García"
    profile.save()
    return profile


def profile_url(customer) -> str:
    return f"/admin/crm/customer/{customer.pk}/change/"


def reply_url(customer) -> str:
    return f"/admin/telephony/message/reply/{customer.pk}/"


def test_card_then_timeline_then_reply_box_then_the_form(client, agent, customer):
    client.force_login(agent)
    html = client.get(profile_url(customer)).content.decode()

    positions = [
        html.index('id="customer-card"'),
        html.index('id="customer-timeline"'),
        html.index('id="customer-reply"'),
        html.index('id="customer_form"'),
        html.index('id="customer-analytics"'),
    ]
    assert positions == sorted(positions)
    # The reply form is not nested in the edit form (a browser would drop it).
    assert html.index('action="/admin/telephony/message/reply/') < html.index('id="customer_form"')
    assert "Is the shop open Sunday?" in html
    assert "(800) 555-0100" in html  # replies go from the number they wrote to


def test_the_opt_out_shows_on_the_card_and_the_reply_box_says_why(client, agent, customer):
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="texted STOP")
    client.force_login(agent)
    html = client.get(profile_url(customer)).content.decode()

    card = html[html.index('id="customer-card"') : html.index('id="customer-timeline"')]
    assert "SMS opted out" in card
    assert "opted out of SMS" in html[html.index('id="customer-reply"') :]
    assert 'id="sms-body"' not in html  # nothing to type into that could not go


def test_upper_apps_add_badges_to_the_numbers_through_the_registry(client, agent, customer):
    number_badges.add(
        "test-dnc",
        lambda e164s: {e: [format_html('<span class="sb-badge">{}</span>', "DNC")] for e in e164s},
    )
    try:
        client.force_login(agent)
        html = client.get(profile_url(customer)).content.decode()
    finally:
        number_badges.sources.pop("test-dnc")
    card = html[html.index('id="customer-card"') : html.index('id="customer-timeline"')]
    assert '<span class="sb-badge">DNC</span>' in card


def test_an_agent_replies_from_the_profile(client, agent, customer):
    client.force_login(agent)

    response = client.post(reply_url(customer), {"body": "Yes, 10 to 4."}, follow=True)

    message = Message.objects.get(direction="outbound")
    assert (message.body, message.sent_by, message.to_number, message.from_number) == (
        "Yes, 10 to 4.",
        agent,
        CUSTOMER,
        OURS,
    )
    assert response.redirect_chain[-1][0].startswith(profile_url(customer))
    html = response.content.decode()
    assert "Sent to (415) 555-0142." in html
    assert 'data-status="sent"' in html


def test_a_refused_reply_says_why_and_keeps_what_was_written(client, agent, customer):
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="texted STOP")
    client.force_login(agent)

    html = client.post(reply_url(customer), {"body": "Are you there?"}, follow=True)
    html = html.content.decode()

    assert "Not sent:" in html
    assert "opted out of SMS" in html
    assert ">Are you there?</textarea>" in html
    assert not Message.objects.filter(direction="outbound").exists()


def test_an_empty_reply_is_refused_with_the_reason(client, agent, customer):
    client.force_login(agent)
    html = client.post(reply_url(customer), {"body": "  "}, follow=True).content.decode()
    assert "Not sent: Write a message to send." in html
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_caller_cannot_reply_or_see_the_profile(client, caller, customer):
    client.force_login(caller)
    response = client.post(reply_url(customer), {"body": "Hi"})
    assert response.status_code in (302, 403)
    assert not Message.objects.filter(direction="outbound").exists()
    assert client.get(profile_url(customer)).status_code in (302, 403)


def test_a_get_of_the_reply_url_goes_back_to_the_profile(client, agent, customer):
    client.force_login(agent)
    response = client.get(reply_url(customer))
    assert response.status_code == 302
    assert response["Location"] == profile_url(customer)


def test_opt_out_shows_on_the_customers_and_phone_numbers_lists(client, agent, customer):
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="texted STOP")
    client.force_login(agent)

    customers = client.get("/admin/crm/customer/").content.decode()
    assert "SMS opted out" in customers

    numbers = client.get("/admin/crm/phonenumber/", {"sms_opted_out__exact": "1"})
    assert numbers.status_code == 200
    assert "(415) 555-0142" in numbers.content.decode()
    none = client.get("/admin/crm/phonenumber/", {"sms_opted_out__exact": "0"}).content.decode()
    assert "(415) 555-0142" not in none


def test_the_message_list_has_no_unused_sent_column():
    assert not hasattr(MessageAdmin, "sent")


def test_opt_out_shows_on_the_number_view(client, agent, customer):
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="texted STOP")
    client.force_login(agent)
    html = client.get(f"/admin/telephony/number/{CUSTOMER}/").content.decode()
    assert "SMS opted out" in html
