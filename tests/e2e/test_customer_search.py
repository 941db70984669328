import re

import pytest
from playwright.sync_api import expect

from crm import services
from tests.crm.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_finds_a_customer_by_a_number_typed_loosely(page, live_server, login, agent):
    jane = CustomerFactory(name="Jane Doe", email="jane.doe@example.com")
    services.phone_number_add(customer=jane, number="+16789998212", type="mobile", sms=True)
    services.phone_number_add(customer=jane, number="+14045550142", type="home")
    CustomerFactory(name="John Smith")

    login(agent.username)
    page.goto(f"{live_server.url}/admin/crm/customer/")
    page.fill("#searchbar", "(678)-999 8212")
    page.press("#searchbar", "Enter")

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Jane Doe")
    rows.first.get_by_role("link", name="Jane Doe").click()

    expect(page).to_have_title(re.compile(r"^Jane Doe \| Change customer"))
    numbers = page.locator("#phone_numbers-group")
    expect(numbers.locator("input[value='+16789998212']")).to_have_count(1)
    expect(numbers.locator("input[value='+14045550142']")).to_have_count(1)
    expect(numbers.locator("select[name='phone_numbers-0-type']")).to_have_value("mobile")
