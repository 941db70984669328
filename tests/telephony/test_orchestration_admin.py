"""The Orchestration page and the number view, per role."""

from decimal import Decimal

import pytest

from campaigns.models import DoNotCallNumber
from telephony.models import BackfillRun, LineTypeLookup, LookupSpend, OrchestrationSettings
from tests.campaigns.factories import CampaignPhoneFactory, ContactFactory
from tests.telephony.factories import CallFactory, MessageFactory, hold, ledger_rows

pytestmark = pytest.mark.django_db

PAGE = "/admin/telephony/orchestrationsettings/1/change/"
PROGRESS = "/admin/telephony/orchestrationsettings/progress/"
NUMBER = "+14045550001"


def number_url(e164: str = NUMBER) -> str:
    return f"/admin/telephony/number/{e164}/"


@pytest.fixture
def off():
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.save()
    return config


def test_only_administrators_open_orchestration(client, agent, caller, administrator):
    for user, status in ((agent, 403), (caller, 302), (administrator, 200)):
        client.force_login(user)
        assert client.get(PAGE).status_code == status, user
        assert client.get(PROGRESS).status_code == status, user


def test_before_switching_on_the_page_previews_count_cost_and_what_the_cap_allows(
    client, administrator, off, settings
):
    settings.LINE_TYPE_LOOKUP_PRICE = Decimal("0.008")
    settings.LINE_TYPE_PROVIDER = "telephony.providers.twilio.TwilioLineTypeProvider"
    for i in range(5):
        hold(f"+1404555010{i}", "other")
    hold("+14045550200", "home")
    LineTypeLookup.objects.create(
        number="+14045550104",
        line_type="landline",
        cost=Decimal("0.008"),
        provider="twilio",
        purpose="backfill",
    )
    off.lookup_monthly_cap = Decimal("0.02")
    off.save()
    client.force_login(administrator)

    html = client.get(PAGE).content.decode()

    assert 'id="cost-preview"' in html
    assert 'data-figure="lookups">4<' in html
    assert 'data-figure="price">$0.008<' in html
    assert 'data-figure="cost">$0.03<' in html
    assert 'data-figure="cached">1<' in html
    assert 'data-figure="cap-allows">2 lookups<' in html
    assert 'id="cap-warning"' in html


def test_the_page_says_when_the_cap_stops_lookups_with_the_months_spend(client, administrator):
    from telephony.identification.ledger import month_start

    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("1.00")
    config.save()
    LookupSpend.objects.create(month=month_start(), committed=Decimal("0.995"))
    LineTypeLookup.objects.create(
        number=NUMBER,
        line_type="mobile",
        cost=Decimal("0.995"),
        provider="twilio",
        purpose="backfill",
    )
    client.force_login(administrator)

    html = client.get(PAGE).content.decode()

    assert 'id="cap-reached"' in html
    assert "$1.00 of the $1.00 cap is counted" in html


def test_the_page_says_why_the_provider_stopped_lookups(client, administrator):
    config = OrchestrationSettings.load()
    config.lookups_stopped_reason = "Twilio refused the credentials."
    config.save()
    client.force_login(administrator)
    html = client.get(PAGE).content.decode()
    assert 'id="lookups-stopped"' in html
    assert "Twilio refused the credentials." in html


def test_the_progress_endpoint_reports_the_running_backfill(client, administrator):
    running = BackfillRun.objects.create(
        trigger="switched_on",
        price=Decimal("0.008"),
        planned_numbers=200,
        planned_cost=Decimal("1.6"),
        numbers_done=50,
        turned_mobile=30,
        spent=Decimal("0.4"),
    )
    ledger_rows(running, 50)
    client.force_login(administrator)

    run = client.get(PROGRESS).json()["run"]

    assert (run["status"], run["done"], run["total"], run["percent"]) == ("running", 50, 200, 25)
    assert (run["turned_mobile"], run["spent"]) == (30, "0.40")
    assert run["time_left"] != "-"
    html = client.get(PAGE).content.decode()
    assert 'id="backfill-progress"' in html
    assert 'value="25"' in html


def test_saving_the_page_goes_through_the_service_and_records_the_switch(
    client, administrator, off
):
    client.force_login(administrator)
    response = client.post(
        PAGE, {"mobile_identification": "on", "lookup_monthly_cap": "50", "lookup_cache_days": "90"}
    )
    assert response.status_code == 302
    config = OrchestrationSettings.load()
    assert (config.mobile_identification, config.lookup_monthly_cap) == (True, Decimal("50"))
    assert BackfillRun.objects.get().trigger == "switched_on"
    html = client.get(PAGE).content.decode()
    assert "administrator-user" in html  # the switch history


def test_bad_settings_input_gets_a_clear_error(client, administrator):
    client.force_login(administrator)
    response = client.post(PAGE, {"lookup_monthly_cap": "-5", "lookup_cache_days": "0"})
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert OrchestrationSettings.load().lookup_cache_days == 180


# --- The number view ------------------------------------------------------------------------


@pytest.fixture
def busy_number():
    mine = hold(NUMBER, "other", name="Ada Lovelace")
    hold(NUMBER, "home", name="Charles Babbage")
    LineTypeLookup.objects.create(
        number=NUMBER,
        line_type="mobile",
        carrier="Verizon",
        cost=Decimal("0.008"),
        provider="twilio",
        purpose="backfill",
    )
    CallFactory(customer=mine.customer, from_number=NUMBER, reason="Billing question")
    MessageFactory(customer=mine.customer, from_number=NUMBER, body="Hello from Ada")
    contact = ContactFactory(name="Ada at Acme")
    phone = CampaignPhoneFactory(campaign=contact.campaign, number=NUMBER)
    contact.phone = phone
    contact.save()
    return mine


def test_the_number_view_shows_profiles_lookups_calls_messages_and_leads(
    client, administrator, busy_number
):
    client.force_login(administrator)
    html = client.get(number_url()).content.decode()
    assert "Ada Lovelace" in html
    assert "Charles Babbage" in html
    assert 'data-type="other"' in html
    assert 'data-type="home"' in html
    assert "Verizon" in html
    assert "0.00800" in html
    assert "Billing question" in html
    assert "Hello from Ada" in html
    assert 'id="number-leads"' in html
    assert "Ada at Acme" in html
    assert 'data-lead-status="active"' in html


def test_a_do_not_call_number_shows_its_leads_as_do_not_call(client, administrator, busy_number):
    DoNotCallNumber.objects.create(number=NUMBER, reason="asked")
    client.force_login(administrator)
    html = client.get(number_url()).content.decode()
    assert 'data-lead-status="do-not-call"' in html


def test_agents_see_the_number_view_without_costs_or_leads(client, agent, busy_number):
    client.force_login(agent)
    response = client.get(number_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace" in html
    assert "Verizon" in html
    assert "Billing question" in html
    assert "0.00800" not in html
    assert 'id="number-leads"' not in html


def test_callers_and_strangers_do_not_see_the_number_view(client, caller, busy_number):
    assert client.get(number_url()).status_code == 302  # to the login page
    client.force_login(caller)
    assert client.get(number_url()).status_code == 302


def test_a_number_typed_any_way_opens_its_view_and_garbage_is_a_404(client, administrator):
    hold(NUMBER, "other", name="Ada Lovelace")
    client.force_login(administrator)
    assert "Ada Lovelace" in client.get(number_url("(404) 555-0001")).content.decode()
    assert client.get(number_url("not-a-number")).status_code == 404


def test_the_admin_links_numbers_to_their_view(client, administrator, busy_number):
    client.force_login(administrator)
    link = number_url()
    for page in (
        "/admin/crm/customer/",
        f"/admin/crm/customer/{busy_number.customer_id}/change/",
        "/admin/crm/phonenumber/",
        "/admin/telephony/call/",
        "/admin/telephony/message/",
        "/admin/campaigns/campaignphone/",
        "/admin/telephony/linetypelookup/",
    ):
        assert link in client.get(page).content.decode(), page


@pytest.mark.parametrize("cap", ["\x00", "12\x00", "abc", "1e400", "NaN", "Infinity", "١٢", "-1"])
def test_an_unreadable_cap_is_refused_and_the_cap_unchanged(client, administrator, cap):
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("25.00")
    config.save()
    client.force_login(administrator)
    response = client.post(
        PAGE, {"mobile_identification": "on", "lookup_monthly_cap": cap, "lookup_cache_days": "180"}
    )
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert OrchestrationSettings.load().lookup_monthly_cap == Decimal("25.00")


# --- One source for each figure (issue: "the Orchestration page's figures must agree") ---


def test_a_runs_lookups_and_spend_are_the_ledgers_even_before_its_chunk_closes(
    client, administrator
):
    # Paused in its first chunk: its counters (moved with the cursor) still say 0.
    paused = BackfillRun.objects.create(
        trigger="switched_on", price=Decimal("0.008"), status="paused", planned_numbers=500
    )
    ledger_rows(paused, 25)
    ledger_rows(paused, 2, at_risk=True)
    ledger_rows(None, 3)  # new callers' lookups: the month's, not the run's
    client.force_login(administrator)

    progress = client.get(PROGRESS).json()
    html = client.get(PAGE).content.decode()

    run = progress["run"]
    assert (run["lookups"], run["spent"], run["at_risk"]) == (25, "0.20", "0.02")
    assert progress["month"]["spent"] == "0.22"
    assert progress["month"]["at_risk"] == "0.02"
    row = html[html.index(f'data-run="{paused.pk}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-run-field="lookups">25<' in row
    assert 'data-run-field="spent">0.20<' in row
    assert 'data-month="spent">0.22<' in html


def test_the_months_figures_are_labelled_and_add_up_to_what_the_cap_counts(client, administrator):
    from telephony.identification.ledger import month_start

    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("1.00")
    config.save()
    ledger_rows(None, 30)  # $0.24 answered
    ledger_rows(None, 1, at_risk=True)  # $0.008 timed out
    LookupSpend.objects.create(month=month_start(), committed=Decimal("0.264"))  # + 2 in flight
    client.force_login(administrator)

    month = client.get(PROGRESS).json()["month"]
    html = client.get(PAGE).content.decode()

    assert month == {"spent": "0.24", "at_risk": "0.01", "in_flight": "0.02", "committed": "0.26"}
    for label in ("Spent this month", "At risk", "In flight", "Counted against the cap"):
        assert label in html
    assert 'id="cap-reached"' not in html
