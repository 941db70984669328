"""An Administrator uploads an Outlook export, corrects a column's reading in the preview,
imports it, and finds the choice remembered for the campaign's next upload."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, Contact
from crm.celery import app
from tests.e2e.screens import at_both_widths

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTLOOK = (
    "First Name;Last Name;Company;Job Title;Business Phone;Home Phone;E-mail Address;Notes\n"
    "José;Lee;Café Acme;CEO;404 555 0100;404 555 0111;jose@example.com;met at expo\n"
    "Bo;Ray;Café Acme;;;404 555 0122;bo@example.com;\n"
).encode("cp1252")


@pytest.fixture
def eager_tasks():
    """The import runs in the request that queues it (no worker in this test)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def upload(page, live_server, campaign: Campaign, name: str) -> None:
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/upload/")
    page.set_input_files(
        "input[type=file]", files=[{"name": name, "mimeType": "text/csv", "buffer": OUTLOOK}]
    )
    page.get_by_role("button", name="Upload").click()


def test_the_preview_reads_columns_as_chosen_and_remembers_them(
    page, live_server, login, administrator, eager_tasks
):
    campaign = Campaign.objects.create(name="Outlook leads")
    login(administrator.username)
    upload(page, live_server, campaign, "outlook.csv")

    expect(page.locator("#reading")).to_contain_text("Windows-1252")
    expect(page.locator("#reading")).to_contain_text("semicolon")
    home = page.get_by_label("Home Phone")
    expect(home).to_have_value("extra")
    expect(page.get_by_label("Business Phone")).to_have_value("phone")
    expect(page.locator("tr[data-column='Home Phone'] .samples")).to_contain_text("404 555 0111")
    at_both_widths(page, "upload-columns")

    home.select_option("mobile")
    page.get_by_label("Notes").select_option("ignore")
    page.get_by_role("button", name="Import").click()

    expect(page.locator("#upload-progress")).to_contain_text("Home Phone → mobile")
    jose = Contact.objects.get(campaign=campaign, email="jose@example.com")
    assert (jose.first_name, jose.phone.number, jose.mobile.number) == (
        "José",
        "+14045550100",
        "+14045550111",
    )
    assert jose.extra == {}  # Notes ignored

    upload(page, live_server, campaign, "outlook-again.csv")
    expect(page.get_by_label("Home Phone")).to_have_value("mobile")
    expect(page.get_by_label("Notes")).to_have_value("ignore")
