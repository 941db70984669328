import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Campaign, CampaignPhone
from tests.campaigns.lead_files import SEED_CSV

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_caller_disqualifies_a_number_and_sees_it_on_both_contacts(page, live_server, caller):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    campaign.callers.add(caller)
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="leads.csv"), uploaded_by=None
    )
    services.lead_upload_import(upload_id=upload.pk)

    page.goto(f"{live_server.url}/campaigns/")
    page.fill("#id_username", caller.username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("button[type=submit]")
    page.get_by_role("link", name="Atlanta realtors").click()

    john = page.locator("tr", has_text="john.smith@kw.example.com")
    john_r = page.locator("tr", has_text="jrsmith@kwrealty.example.com")
    expect(john).to_contain_text("Keller Williams")
    expect(john_r).to_contain_text("KW Realty")

    # Numbers read as the team dials them, each a tel: link with E.164 on hover.
    shared = john.locator(".number", has_text="(678) 999-8212")
    expect(shared.locator("a[href='tel:+16789998212']")).to_have_attribute("title", "+16789998212")
    shared.locator("summary", has_text="Disqualify").click()
    shared.get_by_placeholder("Reason, e.g. retired").fill("Retired, asked not to be called")
    shared.get_by_role("button", name="Disqualify (678) 999-8212").click()

    for row in (john, john_r):
        badge = row.locator(".number", has_text="(678) 999-8212").locator(".badge")
        expect(badge).to_have_text("Disqualified")
    # Numbers not shared with it stay callable.
    expect(john.locator(".number", has_text="(212) 761-2846").locator(".badge")).to_have_text(
        "Active"
    )

    page.reload()  # the database says so too, not only the page
    for row in (john, john_r):
        expect(row.locator(".number", has_text="(678) 999-8212").locator(".badge")).to_have_text(
            "Disqualified"
        )
    assert CampaignPhone.objects.get(campaign=campaign, number="+16789998212").status == (
        "disqualified"
    )
