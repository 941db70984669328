"""Search results, the opt-out badge's hover, the reply's refusal and the dashboard's
inbox line say times in the reader's zone and name it, never bare UTC (docs/voice.md)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from crm import services
from crm.models import PhoneNumber, StaffProfile
from telephony.models import Call, Conversation, TelephonySettings
from tests.telephony.factories import call_sid

pytestmark = pytest.mark.django_db

# Mon 7 Dec 2026, 19:05 UTC: 04:05 on Tuesday in Tokyo.
MOMENT = datetime(2026, 12, 7, 19, 5, tzinfo=UTC)
IN_TOKYO = "Dec 8, 2026, 04:05 JST"
NUMBER = "+14155550142"


@pytest.fixture
def reader(agent):
    config = TelephonySettings.load()
    config.team_time_zone = "America/New_York"
    config.save()
    StaffProfile.objects.create(user=agent, time_zone="Asia/Tokyo")
    return agent


@pytest.fixture
def ana():
    customer = services.customer_create(
        name="Ana García",
        numbers=[services.NewNumber(NUMBER, type=PhoneNumber.Type.MOBILE, sms=True)],
    )
    PhoneNumber.objects.filter(customer=customer).update(
        sms_opted_out=True, sms_opted_out_at=MOMENT
    )
    return customer


def test_a_call_found_by_search_says_when_in_the_readers_zone(client, reader, ana):
    Call.objects.create(
        customer=ana,
        direction="inbound",
        from_number=NUMBER,
        external_id=call_sid(),
        started_at=MOMENT,
        status="completed",
    )
    client.force_login(reader)
    page = client.get(reverse("admin:search"), {"q": "5550142"}).content.decode()
    assert IN_TOKYO in page
    assert "2026-12-07 19:05" not in page


def test_the_opt_out_hover_and_the_refusal_say_when_in_the_readers_zone(client, reader, ana):
    client.force_login(reader)
    page = client.get(reverse("admin:crm_customer_change", args=[ana.pk])).content.decode()
    assert f"Texted STOP on {IN_TOKYO}" in page
    assert f"opted out of SMS on {IN_TOKYO}" in page
    assert "2026-12-07 19:05" not in page


def test_the_dashboards_inbox_line_names_the_zone(client, reader, ana):
    Conversation.objects.create(customer=ana, last_message_at=MOMENT, last_inbound_at=MOMENT)
    client.force_login(reader)
    page = client.get(reverse("admin:index")).content.decode()
    assert f"since {IN_TOKYO}" in page
