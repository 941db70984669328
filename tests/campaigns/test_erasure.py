"""Erasure on request reaches the campaign leads that carry the person's numbers."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from campaigns import services as campaign_services
from campaigns.models import CampaignPhone, Contact, Disposition
from crm import selectors, services
from crm.models import PhoneNumber

JOHN_MOBILE = "+16789998212"  # John Smith's and John R. Smith's mobile in SEED_CSV
OFFICE = "+12127612846"  # Keller Williams' office line: John Smith and Priya Patel


@pytest.fixture
def john(seeded):
    return services.customer_create(
        name="John Smith",
        email="john.smith@kw.example.com",
        numbers=[services.NewNumber(JOHN_MOBILE, type=PhoneNumber.Type.MOBILE)],
    )


def _leads_part(customer):
    _, _, parts = selectors.customer_erasure_plan(customer)
    return next(p for p in parts if p.kind == "campaign leads")


def test_every_lead_carrying_a_number_or_the_email_is_offered(john):
    part = _leads_part(john)
    offered = {Contact.objects.get(pk=int(c.key)).email for c in part.choices}
    # Both leads with the mobile (two emails: two people to the upload, maybe one person),
    # nobody who only shares the office line with John's lead.
    assert offered == {"john.smith@kw.example.com", "jrsmith@kwrealty.example.com"}
    assert all(c.label.startswith("Atlanta realtors: ") for c in part.choices)


def test_only_ticked_leads_are_erased_and_phone_counts_follow(john, administrator):
    part = _leads_part(john)
    ticked = next(c for c in part.choices if "john.smith@" in c.detail)
    mobile = CampaignPhone.objects.get(number=JOHN_MOBILE)
    office = CampaignPhone.objects.get(number=OFFICE)
    assert (mobile.contact_count, office.contact_count) == (2, 2)

    erasure = services.customer_erase(
        customer=john, actor=administrator, chosen=[f"campaigns:{ticked.key}"]
    )

    lead = Contact.objects.get(pk=int(ticked.key))
    assert (lead.name, lead.first_name, lead.last_name, lead.email, lead.title) == ("",) * 5
    assert (lead.phone_id, lead.mobile_id, lead.extra, lead.phone_raw) == (None, None, {}, "")
    other = Contact.objects.get(email="jrsmith@kwrealty.example.com")
    assert other.mobile.number == JOHN_MOBILE  # unticked: left alone
    mobile.refresh_from_db()
    office.refresh_from_db()
    assert (mobile.contact_count, office.contact_count) == (1, 1)
    assert erasure.erased["campaign leads"] == 1
    # The campaign still counts the lead (an empty contact), so its totals stay true.
    assert Contact.objects.filter(campaign=lead.campaign).count() == 5


def test_a_number_no_lead_carries_any_more_leaves_the_phone_counts(seeded, administrator):
    jane = services.customer_create(
        name="Jane Doe",
        numbers=[services.NewNumber("+18327234097", type=PhoneNumber.Type.MOBILE)],
    )
    keys = [f"campaigns:{c.key}" for c in _leads_part(jane).choices]
    assert len(keys) == 2  # Jane's mobile is also Mark's pet shop phone

    services.customer_erase(customer=jane, actor=administrator, chosen=keys)

    assert not CampaignPhone.objects.filter(number="+18327234097").exists()


def test_a_disqualified_number_stays_so_nobody_calls_again(john, administrator):
    mobile = CampaignPhone.objects.get(number=JOHN_MOBILE)
    campaign_services.campaign_phone_disqualify(
        phone=mobile, by=administrator, reason="asked not to be called"
    )
    keys = [f"campaigns:{c.key}" for c in _leads_part(john).choices]

    first = services.customer_erase(customer=john, actor=administrator, chosen=keys)

    mobile.refresh_from_db()
    assert mobile.status == "disqualified"
    assert mobile.contact_count == 0
    assert Disposition.objects.filter(phone=mobile).exists()
    # Erased leads are not offered again; a second run erases nothing.
    assert _leads_part(john).count == 0
    again = services.customer_erase(customer=john, actor=administrator, chosen=keys)
    assert again.pk == first.pk  # nothing left: the first erasure stands, none is added


def test_a_forged_choice_erases_nothing(john, administrator):
    stranger = Contact.objects.get(email="priya.patel@kw.example.com")
    services.customer_erase(
        customer=john, actor=administrator, chosen=[f"campaigns:{stranger.pk}", "campaigns:x"]
    )
    stranger.refresh_from_db()
    assert stranger.first_name == "Priya"


def test_confirmation_page_lists_each_lead_with_a_checkbox(client, john, administrator):
    client.force_login(administrator)
    url = reverse("admin:crm_customer_erase", args=[john.pk])
    page = client.get(url).content.decode()
    for choice in _leads_part(john).choices:
        assert f'value="campaigns:{choice.key}"' in page
    response = client.post(
        url, {"choice": [f"campaigns:{c.key}" for c in _leads_part(john).choices]}
    )
    assert response.status_code == 302
    assert not Contact.objects.filter(
        email__in=["john.smith@kw.example.com", "jrsmith@kwrealty.example.com"]
    ).exists()


def test_export_includes_the_leads(john):
    out = StringIO()
    call_command("export_customer", str(john.pk), stdout=out)
    leads = json.loads(out.getvalue())["campaigns"]["leads"]
    assert {lead["email"] for lead in leads} == {
        "john.smith@kw.example.com",
        "jrsmith@kwrealty.example.com",
    }
    assert {lead["campaign__name"] for lead in leads} == {"Atlanta realtors"}


def test_only_leads_that_are_this_person_are_ticked_and_others_say_why(client, john, administrator):
    # John's profile also holds the office switchboard, which Priya's lead carries too.
    services.phone_number_add(customer=john, number=OFFICE, type=PhoneNumber.Type.OFFICE)
    choices = {Contact.objects.get(pk=int(c.key)).email: c for c in _leads_part(john).choices}
    assert set(choices) == {
        "john.smith@kw.example.com",
        "jrsmith@kwrealty.example.com",
        "priya.patel@kw.example.com",
    }
    assert choices["john.smith@kw.example.com"].ticked  # the same email
    assert choices["jrsmith@kwrealty.example.com"].ticked  # John's Mobile
    assert "Mobile" in choices["jrsmith@kwrealty.example.com"].why
    priya = choices["priya.patel@kw.example.com"]
    assert not priya.ticked
    assert priya.why == "Shares (212) 761-2846, Office on this profile: maybe a shared line."

    client.force_login(administrator)
    page = client.get(reverse("admin:crm_customer_erase", args=[john.pk])).content.decode()
    ticked = re.findall(r'<input type="checkbox" name="choice" value="([^"]+)" checked>', page)
    assert sorted(ticked) == sorted(
        f"campaigns:{choices[e].key}"
        for e in ("john.smith@kw.example.com", "jrsmith@kwrealty.example.com")
    )
    assert f'value="campaigns:{priya.key}">' in page
    assert "maybe a shared line" in page
