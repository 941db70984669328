import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.models import Customer
from telephony import services
from tests.telephony.factories import call_sid

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_opens_a_customer_who_called_three_times(page, live_server, login, agent):
    now = timezone.now()
    for days, reason, satisfaction in [
        (20, "Billing", 3),
        (9, "Appointment", 4),
        (1, "Billing", 5),
    ]:
        services.call_record(
            external_id=call_sid(),
            direction="inbound",
            from_number="+14155550142",
            to_number="+18005550100",
            channel="assistant",
            facts=services.CallFacts(
                status="completed",
                started_at=now - timedelta(days=days),
                duration_seconds=120,
                satisfaction=satisfaction,
                reason=reason,
                transcript=f"Caller: question about {reason.lower()}",
                assistant="Front desk",
            ),
        )
    customer = Customer.objects.get()
    customer.name = "Rosa Diaz"
    customer.save()

    login(agent.username)
    page.goto(f"{live_server.url}/admin/crm/customer/")
    page.get_by_role("link", name="Rosa Diaz").click()
    expect(page).to_have_title(re.compile(r"^Rosa Diaz \| Change customer"))

    timeline = page.locator("#customer-timeline li.sb-entry")
    expect(timeline).to_have_count(3)
    expect(timeline.first).to_contain_text("Billing")  # newest first
    expect(page.locator("[data-figure=calls]")).to_have_text("3")

    transcript = timeline.first.locator("details.sb-transcript")
    expect(transcript.locator("pre")).not_to_be_visible()
    transcript.locator("summary").click()
    expect(transcript.locator("pre")).to_be_visible()
    expect(transcript.locator("pre")).to_contain_text("question about billing")

    weeks = page.locator("#chart-calls-per-week svg")
    expect(weeks).to_be_visible()
    expect(weeks.locator("rect.bar")).to_have_count(12)
    expect(page.locator("#chart-satisfaction svg circle.point")).to_have_count(3)
    reasons = page.locator("#chart-reasons svg")
    expect(reasons).to_be_visible()
    expect(reasons).to_contain_text("Billing")
    expect(reasons).to_contain_text("Appointment")
