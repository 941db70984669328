"""A caller works through two leads on a phone (390 px): Start calling, call, outcome,
next lead. Screenshots of each step at 390 and 1366 px go to SCREENSHOT_DIR if set."""

import pytest
from playwright.sync_api import expect

from campaigns.models import CallAttempt, Campaign, Contact, Queue
from crm.models import StaffProfile
from telephony.models import OwnedNumber
from tests.campaigns.dialing_helpers import lead
from tests.e2e.screens import shot

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1366])
def test_a_caller_works_through_two_leads(browser, live_server, caller, width):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    OwnedNumber.objects.create(number="+12125550100", label="New York")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    first = lead(campaign, "Ada Lovelace", number="+16785551001", mobile="+16785551009")
    second = lead(campaign, "Grace Hopper", number="+12125551002")
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/campaigns/")
        page.fill("#id_username", caller.username)
        page.fill("#id_password", "pass-for-tests-1")
        page.click("button[type=submit]")
        page.get_by_role("link", name="Atlanta realtors").click()
        page.get_by_role("link", name="Start calling").click()

        expect(page.locator(".next-lead")).to_contain_text("Ada Lovelace")
        expect(page.locator(".next-lead")).to_contain_text("Fresh lead")
        shot(page, f"dial-lead-{width}")
        page.get_by_role("button", name="Call (678) 555-1001").click()
        expect(page.locator(".caller-id")).to_contain_text("(678) 555-0100")
        expect(page.locator(".caller-id")).to_contain_text("Same area code (678)")
        expect(page.locator(".timer")).not_to_have_text("")
        page.get_by_label("Call back later").check()
        expect(page.locator(".callback-at")).to_be_visible()
        shot(page, f"dial-call-{width}")
        page.get_by_label("No answer").check()
        expect(page.locator(".callback-at")).to_be_hidden()
        page.get_by_role("textbox", name="Note").fill("Rang out")
        page.get_by_role("button", name="Log outcome and next lead").click()

        expect(page.locator(".messages")).to_contain_text("Logged: No answer")
        expect(page.locator(".next-lead")).to_contain_text("Grace Hopper")
        page.get_by_role("button", name="Call (212) 555-1002").click()
        expect(page.locator(".caller-id")).to_contain_text("(212) 555-0100")
        page.get_by_label("Meeting booked").check()
        page.get_by_role("button", name="Log outcome and next lead").click()
        expect(page.locator(".none-callable")).to_contain_text("No lead is callable now")
        shot(page, f"dial-none-{width}")
        # The page fits the phone: nothing scrolls sideways.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
    finally:
        context.close()
    assert Contact.objects.get(pk=first.pk).queue == Queue.RETRY
    assert Contact.objects.get(pk=second.pk).queue == Queue.DONE
    assert CallAttempt.objects.filter(state=CallAttempt.State.LOGGED).count() == 2
