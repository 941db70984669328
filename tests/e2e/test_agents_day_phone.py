"""The agents' day on a phone (390 px): the missed-calls list keeps who, when, what and the
player on screen and plays the voicemail; My preferences changes the zone every page is
read in. Set SCREENSHOT_DIR to keep 1366 px and 390 px screenshots."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from crm.models import Customer
from tests.e2e.screens import at_both_widths
from tests.e2e.test_voicemail import (  # noqa: F401  (twilio_media: a fixture)
    ana_left_a_voicemail,
    twilio_media,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _sign_in(browser, live_server, user, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("input[type=submit]")
    return context, page


def test_an_agent_works_missed_calls_and_plays_a_voicemail_on_a_phone(
    browser,
    live_server,
    agent,
    twilio_media,  # noqa: F811
):
    ana_left_a_voicemail(twilio_media)
    context, page = _sign_in(browser, live_server, agent, PHONE)
    page.goto(f"{live_server.url}/admin/telephony/missedcall/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    ana = rows.filter(has_text="Ana García")
    # Who, when, what happened and the player are all on the phone's screen, not off its
    # right edge.
    for cell in ("field-started", "field-customer_link", "field-what", "field-voicemail_player"):
        box = ana.locator(f"td.{cell}").bounding_box()
        assert box is not None, cell
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"] + 1, cell
    expect(ana.locator("td.field-what")).to_contain_text("Please call me back")
    played = page.evaluate(
        """async () => {
            const a = document.querySelector('#result_list audio.sb-voicemail');
            a.muted = true;
            await a.play();
            await new Promise(r => a.addEventListener('ended', r, {once: true}));
            return {ended: a.ended, error: a.error && a.error.code};
        }"""
    )
    assert played == {"ended": True, "error": None}
    at_both_widths(page, "missed-calls-phone")

    rows.filter(has_text="770").locator("input.action-select").check()
    page.select_option("select[name=action]", "mark_handled")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("1 call marked handled")
    expect(rows).to_have_count(1)
    context.close()


def test_my_preferences_changes_the_zone_pages_are_read_in(browser, live_server, agent):
    customer = Customer.objects.create(name="Ana García")
    Customer.objects.filter(pk=customer.pk).update(
        last_interaction_at=datetime(2026, 12, 7, 19, 5, tzinfo=UTC)
    )
    context, page = _sign_in(browser, live_server, agent, {"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/admin/preferences/")
    at_both_widths(page, "my-preferences")
    page.select_option("#time-zone", "Asia/Tokyo")
    page.locator("input[type=submit]").click()
    page.goto(f"{live_server.url}/admin/crm/customer/{customer.pk}/change/")
    expect(page.locator("body")).to_contain_text("Dec 8, 2026, 04:05 JST")

    page.goto(f"{live_server.url}/admin/preferences/")
    expect(page.locator("#time-zone")).to_have_value("Asia/Tokyo")
    page.set_viewport_size(PHONE)
    at_both_widths(page, "my-preferences-saved")
    context.close()
