"""Erasure on request and the right of access (crm/erasure.py, docs/operations.md)."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm import selectors, services
from crm.models import Customer, CustomerErasure, MatchSuggestion, PhoneNumber, PhoneNumberChange
from telephony.models import Call, Direction, Message
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, MessageFactory

NUMBER = "+16789998212"
OTHER = "+14045550142"


@pytest.fixture
def person(db):
    customer = services.customer_create(
        name="Ada Lovelace",
        email="ada@example.com",
        numbers=[services.NewNumber(NUMBER, type=PhoneNumber.Type.MOBILE, sms=True)],
    )
    services.phone_number_add(customer=customer, number=OTHER, type=PhoneNumber.Type.HOME)
    CallFactory(
        customer=customer,
        from_number=NUMBER,
        transcript="Hi, this is Ada, my card ends 4242",
        reason="billing",
        satisfaction=4,
        duration_seconds=75,
    )
    CallFactory(
        customer=customer,
        direction=Direction.OUTBOUND,
        from_number="+18005550100",
        to_number=OTHER,
        transcript="Calling Ada back",
    )
    MessageFactory(customer=customer, from_number=NUMBER, body="Ada here, call me")
    customer.interaction_count = 3
    customer.save(update_fields=["interaction_count"])
    return customer


def test_erase_blanks_the_profile_and_keeps_counts_and_analytics(person, administrator):
    call_ids = set(Call.objects.filter(customer=person).values_list("id", flat=True))

    erasure = services.customer_erase(customer=person, actor=administrator, reference="T-17")

    person.refresh_from_db()
    assert (person.name, person.email) == ("", "")
    assert person.interaction_count == 3  # counts stay
    assert not PhoneNumber.objects.filter(customer=person).exists()
    assert not PhoneNumberChange.objects.filter(customer=person).exists()
    calls = list(Call.objects.filter(customer=person))
    assert {c.pk for c in calls} == call_ids  # the calls stay, for analytics
    assert all(c.transcript == "" for c in calls)
    assert {c.reason for c in calls} == {"billing", ""}
    assert any(c.satisfaction == 4 and c.duration_seconds == 75 for c in calls)
    # Our own number on the outbound call stays; the person's numbers go.
    assert {(c.from_number, c.to_number) for c in calls} == {
        ("", "+18005550100"),
        ("+18005550100", ""),
    }
    message = Message.objects.get(customer=person)
    assert (message.body, message.from_number) == ("", "")
    # The audit: who, when, how many of what; never a value.
    assert erasure.erased_by == administrator
    assert erasure.reference == "T-17"
    assert erasure.erased == {
        "call transcripts": 2,
        "message bodies": 1,
        "caller numbers on calls and messages": 3,
        "profile names and emails": 1,
        "phone numbers": 2,
        "phone number changes": 2,
    }
    stored = json.dumps(erasure.erased) + erasure.reference
    for secret in ("Ada", "ada@example.com", "4242", "8212", "0142"):
        assert secret not in stored


def test_erase_is_idempotent(person, administrator):
    first = services.customer_erase(customer=person, actor=administrator)
    second = services.customer_erase(customer=person, actor=administrator)
    assert second.pk == first.pk
    assert CustomerErasure.objects.filter(customer=person).count() == 1


def test_erase_covers_profiles_merged_into_it_and_their_suggestions(person, administrator):
    twin = CustomerFactory(name="A. Lovelace", email="ada@example.com")
    services.phone_number_add(customer=twin, number="+16785550111")
    other = CustomerFactory(email="ada@example.com")
    assert services.match_suggestions_refresh() >= 1
    services.customer_merge(keep=person, merge=twin, actor=administrator)

    # Erasing the merged-away profile erases the person: the profile it went into.
    erasure = services.customer_erase(customer=twin, actor=administrator)

    assert erasure.customer == person
    twin.refresh_from_db()
    assert (twin.name, twin.email) == ("", "")
    assert not MatchSuggestion.objects.filter(customer=person).exists()
    assert not MatchSuggestion.objects.filter(other=person).exists()
    other.refresh_from_db()
    assert other.email == "ada@example.com"  # someone else's profile is untouched


def test_erase_leaves_a_shared_number_on_other_profiles(person, administrator):
    family = CustomerFactory(name="Byron")
    services.phone_number_add(customer=family, number=OTHER, type=PhoneNumber.Type.HOME)
    family_call = CallFactory(customer=family, from_number=OTHER, transcript="Byron speaking")

    services.customer_erase(customer=person, actor=administrator)

    assert PhoneNumber.objects.filter(customer=family, number=OTHER).exists()
    family_call.refresh_from_db()
    assert (family_call.transcript, family_call.from_number) == ("Byron speaking", OTHER)


def test_plan_lists_what_would_go_without_changing_anything(person):
    _customer, numbers, parts = selectors.customer_erasure_plan(person)
    by_kind = {part.kind: part.count for part in parts}
    assert numbers == sorted([NUMBER, OTHER])
    assert by_kind["call transcripts"] == 2
    assert by_kind["message bodies"] == 1
    assert by_kind["phone numbers"] == 2
    person.refresh_from_db()
    assert person.name == "Ada Lovelace"


def test_export_customer_prints_everything_as_json(person):
    out = StringIO()
    call_command("export_customer", str(person.pk), stdout=out)
    data = json.loads(out.getvalue())
    assert data["customer"]["name"] == "Ada Lovelace"
    assert data["customer"]["email"] == "ada@example.com"
    assert sorted(n["number"] for n in data["phone_numbers"]) == sorted([NUMBER, OTHER])
    assert {c["transcript"] for c in data["telephony"]["calls"]} == {
        "Hi, this is Ada, my card ends 4242",
        "Calling Ada back",
    }
    assert [m["body"] for m in data["telephony"]["messages"]] == ["Ada here, call me"]
    assert data["campaigns"] == {"leads": [], "dispositions": [], "do_not_call": []}


def test_export_after_erasure_holds_nothing_personal(person, administrator):
    services.customer_erase(customer=person, actor=administrator)
    out = StringIO()
    call_command("export_customer", str(person.pk), stdout=out)
    text = out.getvalue()
    # Twilio's ids are random hex from the factories ("CAda13…" holds "Ada" now and then):
    # they are not the person's, so they are set aside before looking for what was.
    personal = re.sub(r'"(CA|SM|MM)[0-9a-f]{32}"', '"<sid>"', text)
    for secret in ("Ada", "ada@example.com", "4242", "9998212", "5550142"):
        assert secret not in personal
    assert json.loads(text)["erasures"][0]["erased"]["phone numbers"] == 2


def test_export_unknown_customer_is_a_clean_error(db):
    with pytest.raises(CommandError, match="No customer #999999"):
        call_command("export_customer", "999999", stdout=StringIO())


# --- the admin: Administrators erase, Agents cannot -------------------------------------


def test_administrator_sees_the_confirmation_and_erases(client, person, administrator):
    client.force_login(administrator)
    change = client.get(reverse("admin:crm_customer_change", args=[person.pk]))
    url = reverse("admin:crm_customer_erase", args=[person.pk])
    assert url in change.content.decode()

    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Call transcripts" in text
    assert "Erase this customer" in text

    response = client.post(url, {"reference": "ticket 9"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.name == ""
    assert CustomerErasure.objects.get(customer=person).erased_by == administrator


def test_agent_cannot_erase(client, person, agent):
    client.force_login(agent)
    change = client.get(reverse("admin:crm_customer_change", args=[person.pk]))
    url = reverse("admin:crm_customer_erase", args=[person.pk])
    assert change.status_code == 200
    assert url not in change.content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403
    person.refresh_from_db()
    assert person.name == "Ada Lovelace"
    assert not CustomerErasure.objects.exists()


def test_caller_and_anonymous_cannot_erase(client, person, caller):
    url = reverse("admin:crm_customer_erase", args=[person.pk])
    assert client.post(url, {}).status_code == 302  # to the login page
    client.force_login(caller)
    assert client.post(url, {}).status_code in (302, 403)
    person.refresh_from_db()
    assert person.name == "Ada Lovelace"


def test_erasures_are_listed_read_only_for_administrators(client, person, administrator):
    services.customer_erase(customer=person, actor=administrator)
    client.force_login(administrator)
    listing = client.get(reverse("admin:crm_customererasure_changelist"))
    assert listing.status_code == 200
    assert client.get(reverse("admin:crm_customererasure_add")).status_code == 403


def test_customer_shell_still_shows(client, person, administrator):
    services.customer_erase(customer=person, actor=administrator)
    client.force_login(administrator)
    assert client.get(reverse("admin:crm_customer_change", args=[person.pk])).status_code == 200
    assert Customer.objects.filter(pk=person.pk).exists()


def test_erase_keeps_the_money_in_the_lookup_ledger_but_not_the_persons_number(
    person, administrator
):
    from decimal import Decimal

    from telephony.models import LineTypeLookup

    family = CustomerFactory(name="Byron")
    services.phone_number_add(customer=family, number=OTHER, type=PhoneNumber.Type.HOME)
    for number in (NUMBER, OTHER):
        LineTypeLookup.objects.create(
            number=number,
            line_type="mobile",
            carrier="Verizon",
            cost=Decimal("0.008"),
            provider="twilio",
            purpose="backfill",
        )

    services.customer_erase(customer=person, actor=administrator)

    rows = sorted(LineTypeLookup.objects.values_list("number", "carrier", "cost"))
    # The shared line's answer still serves Byron; the person's own number is gone.
    assert rows == [("", "", Decimal("0.00800")), (OTHER, "Verizon", Decimal("0.00800"))]
