"""The erasure confirmation and the locked-out login pages, in a real browser.

Set SCREENSHOT_DIR to keep 1366 px and 390 px screenshots of each page.
"""

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import Campaign, Contact
from crm import services
from crm.models import PhoneNumber
from tests.campaigns.lead_files import SEED_CSV
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import CallFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_administrator_erases_a_customer_and_chooses_the_leads(
    page, live_server, login, administrator
):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    upload = campaign_services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(SEED_CSV.encode(), name="leads.csv"),
        uploaded_by=None,
    )
    campaign_services.lead_upload_import(upload_id=upload.pk)
    john = services.customer_create(
        name="John Smith",
        email="john.smith@kw.example.com",
        numbers=[services.NewNumber("+16789998212", type=PhoneNumber.Type.MOBILE)],
    )
    CallFactory(customer=john, from_number="+16789998212", transcript="Hello, John here")

    login(administrator.username)
    page.goto(f"{live_server.url}/admin/crm/customer/{john.pk}/change/")
    page.get_by_role("link", name="Erase on request…").click()
    expect(
        page.get_by_role("heading", name=f"Erase customer #{john.pk} on request")
    ).to_be_visible()
    expect(page.get_by_text("Call transcripts")).to_be_visible()
    other = page.get_by_label("Atlanta realtors: John R. Smith")
    expect(other).to_be_checked()
    at_both_widths(page, "erase-confirmation")

    other.uncheck()  # a different person who shares the mobile
    page.fill("#id_reference", "Request 2026-114")
    page.get_by_role("button", name="Erase this customer").click()

    expect(page.locator(".messagelist")).to_contain_text(f"Customer #{john.pk} erased")
    assert Contact.objects.filter(email="jrsmith@kwrealty.example.com").exists()
    assert not Contact.objects.filter(email="john.smith@kw.example.com").exists()


@pytest.mark.parametrize(
    ("url", "name"), [("/admin/login/", "admin"), ("/campaigns/login/", "workspace")]
)
def test_a_locked_out_login_says_why(page, live_server, make_user, settings, url, name):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("Caller", username="victim")
    page.goto(f"{live_server.url}{url}")
    for _ in range(3):
        page.fill("#id_username", "victim")
        page.fill("#id_password", "not-the-password")
        page.locator("form [type=submit]").click()
    expect(page.get_by_text("Too many failed logins").first).to_be_visible()
    expect(page.get_by_text("ask an Administrator to unlock it")).to_be_visible()
    at_both_widths(page, f"locked-out-{name}")
