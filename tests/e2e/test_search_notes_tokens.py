"""The header search box, notes on the profile and the API token page, in Chromium
(screenshots at 1366 and 390 px when SCREENSHOT_DIR is set)."""

import re

import pytest
from playwright.sync_api import expect

from crm import services
from telephony.models import OwnedNumber
from tests.campaigns.factories import CampaignFactory, ContactFactory
from tests.crm.factories import CustomerFactory
from tests.e2e.screens import at_both_widths
from tests.telephony.factories import CallFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def garcias():
    ana = CustomerFactory(name="Ana García", email="ana.garcia@example.com")
    services.phone_number_add(customer=ana, number="678 999 8212", type="mobile", sms=True)
    CustomerFactory(name="José Luis García-Pérez", email="jl@perez.es")
    CustomerFactory(name="MARÍA GARCIA", email="maria@example.org")
    CallFactory(customer=ana, from_number="+16789998212")
    OwnedNumber.objects.create(number="+16785558212", label="Atlanta sales")
    ContactFactory(campaign=CampaignFactory(name="Spring"), name="Lucía García")
    return ana


def test_the_header_search_box_finds_the_garcias_from_any_page(
    page, live_server, login, administrator, garcias
):
    login(administrator.username)
    page.goto(f"{live_server.url}/admin/telephony/call/")
    box = page.locator("#sb-header-q")
    expect(box).to_be_visible()
    box.fill("garcia")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/search/\?q=garcia"))
    customers = page.locator('section[data-kind="customer"] li')
    expect(customers).to_have_count(3)
    expect(page.locator('section[data-kind="lead"] li')).to_contain_text("Lucía García")
    box = page.locator("#sb-header-q")
    box.fill("8212")
    box.press("Enter")
    for kind in ("customer", "call", "owned_number"):
        expect(page.locator(f'section[data-kind="{kind}"]')).to_be_visible()
    at_both_widths(page, "search-results")
    page.locator('section[data-kind="customer"] a', has_text="Ana García").click()
    expect(page).to_have_title(re.compile(r"^Ana García \| Change customer"))


def test_an_agent_writes_a_note_on_the_profile_and_edits_it(
    page, live_server, login, agent, garcias
):
    login(agent.username)
    page.goto(f"{live_server.url}/admin/crm/customer/{garcias.pk}/change/")
    page.fill("#note-text", "Prefers a call after 5 pm. Wants the family plan.")
    page.get_by_role("button", name="Save note").click()
    note = page.locator('#customer-timeline li[data-kind="note"]')
    expect(note).to_contain_text("Prefers a call after 5 pm")
    expect(note).to_contain_text(agent.username)
    at_both_widths(page, "profile-notes")
    note.get_by_role("link", name="Edit").click()
    page.fill("#id_text", "Prefers a call after 6 pm. Wants the family plan.")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(f"{live_server.url}/admin/crm/customer/{garcias.pk}/change/")
    expect(note).to_contain_text("after 6 pm")
    expect(note).to_contain_text("edited")


def test_a_staff_user_makes_and_revokes_an_api_token(page, live_server, login, agent):
    login(agent.username)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="API tokens").click()
    page.fill("#token-name", "voice assistant")
    page.get_by_role("button", name="Make token").click()
    key = page.locator("[data-key]")
    expect(key).to_have_text(re.compile(r"^sb_\S{40,}$"))
    at_both_widths(page, "api-tokens")
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("[data-key]")).to_have_count(0)
    expect(page.locator(".sb-tokens")).to_contain_text("revoked")
