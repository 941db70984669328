"""An agent works the SMS inbox and replies from the customer page, in a real browser.

Set SCREENSHOT_DIR to keep 1366 px and 390 px screenshots of the inbox and the profile.
"""

import pytest
from playwright.sync_api import expect

from crm import providers
from crm.optout import phone_number_sms_opt_out_set
from telephony import services
from telephony.models import Message
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import message_sid

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def _texts(number: str, body: str, name: str):
    recorded = services.message_record(
        external_id=message_sid(),
        direction="inbound",
        from_number=number,
        to_number="+18005550100",
        body=body,
    )
    customer = recorded.record.customer
    customer.name, customer.email = name, f"{name.split()[0].lower()}@example.com"
    customer.save()
    return customer


def test_an_agent_answers_a_text_from_the_inbox(page, live_server, login, agent, settings):
    settings.MESSAGING_PROVIDER = "telephony.providers.offline.OfflineMessagingProvider"
    providers.clear_providers()
    ana = _texts("+14155550142", "Hi, can I move Thursday's appointment to Friday?", "Ana García")
    _texts("+14155550143", "Do you open on Sundays?", "Bob Lee")

    login(agent.username)
    page.goto(f"{live_server.url}/admin/telephony/conversation/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    at_both_widths(page, "sms-inbox", first_screen=True)

    page.get_by_role("link", name="Ana García").click()
    card = page.locator("#customer-card")
    expect(card).to_contain_text("ana@example.com")
    expect(card.locator(".sb-sms")).to_have_count(1)
    box = page.locator("#sms-body")
    expect(box).to_be_visible()
    box.fill("Friday at 10 works. See you then!")
    at_both_widths(page, "sms-profile-reply", first_screen=True)
    page.get_by_role("button", name="Send SMS").click()

    expect(page.locator(".messagelist")).to_contain_text("Sent to (415) 555-0142.")
    newest = page.locator("#customer-timeline li.sb-entry").first
    expect(newest).to_contain_text("SMS sent")
    expect(newest).to_contain_text("Friday at 10 works.")
    expect(newest.locator("[data-status]")).to_have_text("Sent")
    message = Message.objects.get(direction="outbound")
    assert (message.customer_id, message.sent_by_id) == (ana.pk, agent.pk)

    page.goto(f"{live_server.url}/admin/telephony/conversation/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Bob Lee")


def test_an_opted_out_number_shows_why_no_reply_can_go(page, live_server, login, agent):
    bob = _texts("+14155550143", "STOP", "Bob Lee")
    phone_number_sms_opt_out_set(e164="+14155550143", opted_out=True, cause="texted STOP")

    login(agent.username)
    page.goto(f"{live_server.url}/admin/crm/customer/{bob.pk}/change/")

    expect(page.locator("#customer-card .sb-optout")).to_have_text("SMS opted out")
    expect(page.locator("#customer-reply .sb-refusal")).to_contain_text("opted out of SMS")
    expect(page.get_by_role("button", name="Send SMS")).to_have_count(0)
    at_both_widths(page, "sms-profile-opted-out", first_screen=True)
