"""The dashboard, the refused page and the caller workspace on a phone, in Chromium."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import calling, services
from campaigns.models import Campaign, Contact
from telephony.models import TelephonySettings
from telephony.selectors import team_day_start
from tests.campaigns.lead_files import SEED_CSV
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def seeded_campaign(caller) -> Campaign:
    campaign = Campaign.objects.create(name="Atlanta realtors")
    campaign.callers.add(caller)
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(SEED_CSV.encode(), name="leads.csv"),
        uploaded_by=None,
    )
    services.lead_upload_import(upload_id=upload.pk)
    return campaign


def test_the_admin_home_says_what_needs_attention_today(page, live_server, login, administrator):
    jane = CustomerFactory(name="Jane Doe")
    CallFactory(customer=jane, from_number="+16789998212", status="no-answer")
    CallFactory(customer=jane, from_number="+16789998212")
    login(administrator.username)

    today = page.locator("#dashboard-telephony-today")
    expect(today.locator(".sb-stat", has_text="calls")).to_contain_text("2")
    expect(today.locator(".sb-stat", has_text="missed call")).to_contain_text("1")
    expect(today).to_contain_text("Jane Doe · (678) 999-8212")
    expect(page.locator("#dashboard-crm-matches")).to_contain_text("open suggestions")
    expect(page.locator("#dashboard-campaigns-uploads")).to_contain_text("No upload is running")
    captions = page.locator("#content-main .module caption").all_inner_texts()
    assert [c.strip().lower() for c in captions][:3] == ["customers", "telephony", "campaigns"]
    assert captions[-1].strip().lower() == "system"

    today.locator(".sb-stat", has_text="missed call").click()
    page.wait_for_url("**/admin/telephony/call/?*")  # a loaded machine can take a while
    expect(page.locator("#result_list tbody tr")).to_have_count(1, timeout=15_000)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/admin/")
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_refused_page_keeps_the_site_around_it(page, live_server, login, agent):
    login(agent.username)
    expect(page.locator("#dashboard-telephony-today")).to_be_visible()
    url = f"/admin/telephony/telephonysettings/{TelephonySettings.load().pk}/change/"
    page.evaluate(f"window.location.href = {url!r}")  # as if following a link
    expect(page.locator("#content")).to_contain_text(
        "Only Administrators change telephony settings."
    )
    expect(page.locator("#header")).to_contain_text("Switchboard")
    expect(page.locator(".breadcrumbs")).to_contain_text("Not allowed")
    page.get_by_role("link", name="← Back").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")

    # The caller workspace refuses agents in its own page, with its own header.
    page.goto(f"{live_server.url}/campaigns/")
    expect(page.locator(".topbar")).to_contain_text("Switchboard · Campaigns")
    expect(page.locator(".refused")).to_contain_text("for callers and administrators")


def test_a_caller_works_the_day_on_a_phone(browser, live_server, caller):
    campaign = seeded_campaign(caller)
    mark = Contact.objects.get(campaign=campaign, email="mark@petshop.example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/campaigns/login/")
        page.fill("#id_username", caller.username)
        page.fill("#id_password", "pass-for-tests-1")
        page.click("button[type=submit]")
        page.get_by_role("link", name="Atlanta realtors").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        row = page.locator(f"tr[data-contact='{mark.pk}']")
        expect(row).to_contain_text("Not called yet")
        row.locator("summary", has_text="Log outcome").click()
        form = row.locator("form.log-outcome")
        expect(form.locator("input[name=callback_at]")).to_be_hidden()
        form.locator("select[name=outcome]").select_option("callback")
        # An hour from now, but before the team's midnight: the page lists the callbacks
        # due by then (late at night, one minute before it). Typed, and shown, in the
        # lead's local time, as a caller does: at 17:07 UTC an hour on in Chicago is
        # 18:07 CST, tomorrow for a team on UTC.
        now = timezone.now()
        moment = min(now + timedelta(hours=1), team_day_start(now) + timedelta(days=1, minutes=-1))
        lead_zone = ZoneInfo(calling.lead_zone(mark, calling.lead_number(mark)))
        when = moment.astimezone(lead_zone)
        form.locator("input[name=callback_at]").fill(when.strftime("%Y-%m-%dT%H:%M"))
        form.get_by_role("button", name="Log").click()
        expect(page.locator(".messages")).to_contain_text("call back")
        callbacks = page.locator("section.callbacks")
        expect(callbacks).to_contain_text("Mark Doe")
        expect(callbacks).to_contain_text(when.strftime("%H:%M"))
        expect(page.locator(f"tr[data-contact='{mark.pk}']").first).to_contain_text(
            "Call back later"
        )

        # Do not call everywhere: the browser asks first; saying no changes nothing.
        number = page.locator(f"tr[data-contact='{mark.pk}']").last.locator(".number")
        number.locator("summary", has_text="Disqualify").click()
        number.get_by_placeholder("Reason, e.g. retired").fill("Asked never to be called")
        number.locator("select[name=scope]").select_option("everywhere")
        page.once("dialog", lambda dialog: dialog.dismiss())
        number.get_by_role("button", name="Disqualify (832) 723-4097").click()
        expect(number.locator(".badge")).to_have_text("Active")
        page.once("dialog", lambda dialog: dialog.accept())
        number.get_by_role("button", name="Disqualify (832) 723-4097").click()
        expect(number.locator(".badge")).to_have_text("Disqualified everywhere")
        page.reload()
        expect(page.locator(f"tr[data-contact='{mark.pk}']").last).to_contain_text(
            "No callable number"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
