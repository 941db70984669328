"""Time zones (docs/voice.md): pages in the reader's zone, naming it; "today" in the team's
zone whoever reads; webhooks and the API never pay for it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.formatting import local_datetime, short_datetime
from crm.models import Customer
from telephony import middleware, selectors
from telephony.models import Call, TelephonySettings
from tests.telephony.factories import call_sid

pytestmark = pytest.mark.django_db

# Mon 7 Dec 2026, 19:05 UTC: 14:05 in New York, 04:05 on Tuesday in Tokyo.
MOMENT = datetime(2026, 12, 7, 19, 5, tzinfo=UTC)


def team_zone(name: str) -> None:
    config = TelephonySettings.load()
    config.team_time_zone = name
    config.full_clean()
    config.save()


def make_call(at: datetime, **fields) -> Call:
    return Call.objects.create(
        direction="inbound",
        from_number="+14155550142",
        external_id=call_sid(),
        started_at=at,
        status=fields.pop("status", "completed"),
        **fields,
    )


def test_one_format_names_the_zone():
    with timezone.override("America/New_York"):
        assert local_datetime(MOMENT) == "Dec 7, 2026, 14:05 EST"
    with timezone.override("Asia/Tokyo"):
        assert local_datetime(MOMENT) == "Dec 8, 2026, 04:05 JST"


def test_short_cells_name_the_zone_too(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MOMENT + timedelta(hours=1))
    with timezone.override("America/New_York"):
        assert short_datetime(MOMENT) == "Dec 7, 14:05 EST"


def test_a_page_shows_times_in_the_team_zone_for_a_reader_without_one(client, agent):
    team_zone("America/New_York")
    customer = Customer.objects.create(name="Ana García")
    make_call(MOMENT, customer=customer)
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert "Dec 7, 2026, 14:05 EST" in page
    assert "19:05" not in page


def test_a_reader_zone_comes_from_their_profile(monkeypatch, agent):
    team_zone("America/New_York")
    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "Asia/Tokyo")
    assert middleware.reader_zone(agent.pk).key == "Asia/Tokyo"
    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "")
    assert middleware.reader_zone(agent.pk).key == "America/New_York"
    # An unknown stored zone never breaks a page: the team's then.
    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "Mars/Olympus")
    assert middleware.reader_zone(agent.pk).key == "America/New_York"


def test_a_reader_with_their_own_zone_reads_it_on_pages(client, agent, monkeypatch):
    team_zone("America/New_York")
    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "Asia/Tokyo")
    customer = Customer.objects.create(name="Ana García")
    make_call(MOMENT, customer=customer)
    client.force_login(agent)
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert "Dec 8, 2026, 04:05 JST" in page


def test_webhooks_do_not_read_the_profile(twilio_post, monkeypatch):
    def refuse(user_id):
        raise AssertionError("a webhook read a staff profile")

    monkeypatch.setattr(middleware, "staff_time_zone", refuse)
    params = {
        "CallSid": call_sid(),
        "From": "+14155550142",
        "To": "+14155550100",
        "CallStatus": "ringing",
    }
    with CaptureQueriesContext(connection) as queries:
        assert twilio_post("/webhooks/twilio/voice/", params).status_code == 200
    assert not any("staffprofile" in q["sql"].lower() for q in queries.captured_queries)


def test_today_is_the_team_day_at_a_utc_day_boundary():
    team_zone("America/New_York")
    # Tue 8 Dec 2026, 02:00 UTC is still Monday 7 Dec, 21:00 in New York.
    now = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    make_call(datetime(2026, 12, 7, 15, 0, tzinfo=UTC))  # Mon 10:00 NY: today
    make_call(datetime(2026, 12, 8, 1, 0, tzinfo=UTC), status="no-answer")  # Mon 20:00 NY
    make_call(datetime(2026, 12, 7, 4, 0, tzinfo=UTC))  # Sun 23:00 NY: yesterday
    with timezone.override("Asia/Tokyo"):  # whoever reads, the team's day counts
        day = selectors.day_activity(now=now)
    assert (day.calls, day.missed) == (2, 1)

    team_zone("UTC")  # in UTC the day began at 00:00 on the 8th: one call
    assert selectors.day_activity(now=now).calls == 1


def test_today_counts_a_voicemail_as_missed():
    team_zone("UTC")
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    make_call(now - timedelta(hours=1), voicemail=True)
    assert selectors.day_activity(now=now).missed == 1


def test_my_preferences_sets_the_zone_pages_are_read_in(client, agent):
    team_zone("America/New_York")
    customer = Customer.objects.create(name="Ana García")
    make_call(MOMENT, customer=customer)
    client.force_login(agent)
    url = reverse("admin:preferences")
    assert 'name="time_zone"' in client.get(url).content.decode()

    refused = client.post(url, {"time_zone": "Mars/Olympus"})
    assert refused.status_code == 200
    assert "is not a time zone" in refused.content.decode()

    assert client.post(url, {"time_zone": "Asia/Tokyo"}).status_code == 302
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert "Dec 8, 2026, 04:05 JST" in page

    client.post(url, {"time_zone": ""})  # back to the team's
    page = client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert "Dec 7, 2026, 14:05 EST" in page


def test_a_caller_has_no_admin_preferences_page(client, caller):
    client.force_login(caller)
    assert client.get(reverse("admin:preferences")).status_code == 302
