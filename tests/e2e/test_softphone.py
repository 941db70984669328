"""The optional browser softphone in Chromium (390 and 1366 px): "Call in browser" on the
dial page, the in-call panel with the vendored Twilio Voice SDK loaded, and the page's own
token request. Twilio itself is not reached (no internet): connecting is Twilio's part.
Set SCREENSHOT_DIR to keep the screenshots."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from crm import providers
from crm.models import StaffProfile
from telephony.models import OwnedNumber
from tests.campaigns.dialing_helpers import lead
from tests.e2e.screens import at_both_widths

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def configured(settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_API_KEY_SID = "SK" + "2" * 32
    settings.TWILIO_API_KEY_SECRET = "softphone-key-secret-0123456789abcdef"
    settings.TWILIO_TWIML_APP_SID = "AP" + "3" * 32
    settings.VOICE_PROVIDER = "telephony.providers.twilio.TwilioVoiceProvider"
    providers.clear_providers()
    yield
    providers.clear_providers()


def test_a_caller_starts_a_call_in_the_browser(browser, live_server, caller, configured):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    lead(campaign, "Ada Lovelace", number="+16785551001")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/campaigns/")
    page.fill("#id_username", caller.username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/dial/")
    expect(page.get_by_role("button", name="Call (678) 555-1001")).to_be_visible()
    expect(page.get_by_role("button", name="Call in browser")).to_be_visible()
    at_both_widths(page, "dial-call-in-browser")

    page.get_by_role("button", name="Call in browser").click()
    panel = page.locator("[data-softphone]")
    expect(panel).to_contain_text("You talk through this browser")
    expect(panel.get_by_role("button", name="Start the call")).to_be_enabled()
    expect(panel.locator("[data-softphone-state]")).to_have_text("Ready.")
    expect(page.locator(".caller-id")).to_contain_text("(678) 555-0100")
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    minted = page.evaluate(
        """async () => {
            const panel = document.querySelector('[data-softphone]');
            const r = await fetch(panel.dataset.tokenUrl, {method: 'POST',
                credentials: 'same-origin', headers: {'X-CSRFToken': panel.dataset.csrf}});
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert minted["status"] == 201
    assert minted["body"]["identity"] == f"user_{caller.pk}"
    expect(page.get_by_role("button", name="Log outcome and next lead")).to_be_visible()
    at_both_widths(page, "softphone-panel")

    # Without the SDK the button stays off and says why, instead of ignoring clicks.
    page.route("**/twilio.min.js", lambda route: route.abort())
    page.reload()
    expect(panel.locator("[data-softphone-state]")).to_have_text(
        "The softphone did not load: reload the page."
    )
    expect(panel.get_by_role("button", name="Start the call")).to_be_disabled()
    at_both_widths(page, "softphone-not-loaded")
    context.close()
