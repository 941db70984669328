"""An Administrator opens Orchestration, sees the cost preview, switches identification on
and watches the backfill's progress bar finish (a real Celery worker runs it)."""

import time

import pytest
from playwright.sync_api import expect

from crm.models import PhoneNumber
from telephony.models import BackfillRun, OrchestrationSettings
from tests.campaigns.factories import CampaignPhoneFactory, ContactFactory
from tests.crm.factories import CustomerFactory
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import CallFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def slow_mobile(e164: str) -> str:
    time.sleep(0.02)  # long enough for the bar to be seen moving
    return "mobile" if int(e164[-1]) % 3 else "landline"


@pytest.mark.postgresql  # a real Celery worker on Redis runs the backfill
def test_an_administrator_switches_identification_on_and_watches_the_backfill_finish(
    page, live_server, login, administrator, scripted, celery_worker_thread
):
    customers = CustomerFactory.create_batch(120)
    PhoneNumber.objects.bulk_create(
        PhoneNumber(customer=c, number=f"+1470555{i:04d}", type="other")
        for i, c in enumerate(customers)
    )
    scripted.default = slow_mobile
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.lookup_monthly_cap = 100
    config.save()
    login(administrator.username)

    page.goto(f"{live_server.url}/admin/telephony/orchestrationsettings/")

    preview = page.locator("#cost-preview")
    expect(preview.locator('[data-figure="lookups"]')).to_have_text("120")
    expect(preview.locator('[data-figure="price"]')).to_have_text("$0.01")
    expect(preview.locator('[data-figure="cost"]')).to_have_text("$1.20")
    expect(preview.locator('[data-figure="cap-allows"]')).to_have_text("10,000 lookups")
    at_both_widths(page, "orchestration-preview")

    page.get_by_role("checkbox", name="Mobile Phone Number Identification").check()
    page.get_by_role("button", name="Save", exact=True).click()

    progress = page.locator("#backfill-progress")
    expect(progress).to_be_visible()
    expect(progress.locator('[data-field="status_label"]')).to_have_text(
        "Completed", timeout=60_000
    )
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    expect(progress.locator('[data-field="done"]')).to_have_text("120")
    expect(progress.locator('[data-field="turned_mobile"]')).to_have_text("72")
    expect(progress.locator('[data-field="spent"]')).to_have_text("1.20")
    at_both_widths(page, "orchestration-done")
    assert BackfillRun.objects.get().status == "completed"
    assert PhoneNumber.objects.filter(type="mobile").count() == 72

    # The number view of a number with a history: another holder, a call, a lead.
    number = "+14705550001"
    holder = PhoneNumber.objects.get(number=number)
    PhoneNumber.objects.create(
        customer=CustomerFactory(name="Office line"), number=number, type="office"
    )
    CallFactory(customer=holder.customer, from_number=number, reason="Delivery date")
    contact = ContactFactory(name="Lead at Acme")
    contact.mobile = CampaignPhoneFactory(campaign=contact.campaign, number=number)
    contact.save()
    page.goto(f"{live_server.url}/admin/telephony/number/{number}/")
    expect(page.locator("#number-profiles")).to_contain_text("Mobile")
    expect(page.locator("#number-calls")).to_contain_text("Delivery date")
    expect(page.locator("#number-leads")).to_contain_text("Lead at Acme")
    expect(page.locator("#number-lookups")).to_contain_text("Scripted Wireless")
    at_both_widths(page, "number-view")
