"""The caller workspace's contact list: keyset pages, and the search's edge cases (both
databases)."""

import pytest
from django.urls import reverse

from campaigns import contact_pages, selectors, services
from campaigns.models import Account, CampaignPhone, Contact, Disposition
from campaigns.search import find_leads, lead_ranks
from crm import search

pytestmark = pytest.mark.django_db

JOHN_SMITHS = {"John Smith", "John R. Smith"}


@pytest.fixture
def assigned(seeded, caller):
    seeded.callers.add(caller)
    return caller


def _names(client, campaign, **params):
    response = client.get(reverse("campaigns:detail", args=[campaign.pk]), params)
    assert response.status_code == 200
    return [c.name for c in response.context["page"].object_list], response


@pytest.mark.parametrize(
    "typed", ["(678)-999 8212", "+1 678 999 8212", "678.999.8212", "16789998212"]
)
def test_a_number_typed_four_ways_finds_both_contacts_carrying_it(seeded, typed):
    found = {c.name for c in selectors.campaign_contacts(campaign=seeded, search=typed)}
    assert found == JOHN_SMITHS


def test_the_last_four_digits_find_the_number_in_either_column(seeded):
    assert {c.name for c in selectors.campaign_contacts(campaign=seeded, search="8212")} == (
        JOHN_SMITHS
    )
    # Jane Doe's mobile is the pet shop's phone: the same number in the other column.
    assert {c.name for c in selectors.campaign_contacts(campaign=seeded, search="4097")} == {
        "Jane Doe",
        "Mark Doe",
    }
    # Three digits are too few to mean a number.
    assert not selectors.campaign_contacts(campaign=seeded, search="212").exists()


def test_accents_and_case_are_ignored_both_ways(campaign, upload_csv):
    upload_csv(
        campaign,
        "name,email,company,phone\n"
        "Ana García-López,ana@example.com,Café Noël,404 555 0101\n"
        "Zoë Garcia,zoe@example.com,Cafe Noel,404 555 0102\n",
    )
    for typed in ("garcia", "GARCÍA", "garc"):
        found = {c.name for c in selectors.campaign_contacts(campaign=campaign, search=typed)}
        assert found == {"Ana García-López", "Zoë Garcia"}, typed
    assert {c.name for c in selectors.campaign_contacts(campaign=campaign, search="lopez")} == {
        "Ana García-López"
    }
    by_company = selectors.campaign_contacts(campaign=campaign, search="café noel")
    assert {c.name for c in by_company} == {"Ana García-López", "Zoë Garcia"}


def test_a_nul_in_the_query_is_dropped_not_a_server_error(client, seeded, assigned):
    client.force_login(assigned)
    names, response = _names(client, seeded, q="Do\x00e")
    assert set(names) == {"Jane Doe", "Mark Doe"}
    assert "\x00" not in response.content.decode()
    names, _ = _names(client, seeded, q="\x00")
    assert len(names) == 5  # nothing left to search: the whole list


def test_a_whole_email_answers_with_its_contact_alone(seeded):
    found = selectors.campaign_contacts(campaign=seeded, search="JOHN.SMITH@KW.EXAMPLE.COM")
    assert [c.name for c in found] == ["John Smith"]
    # Part of an email finds every contact whose email holds it.
    found = selectors.campaign_contacts(campaign=seeded, search="kw.example")
    assert {c.name for c in found} == {"John Smith", "Priya Patel"}


@pytest.fixture
def sixty_leads(campaign, upload_csv, caller):
    rows = "".join(f"Lead {i:03d},lead{i}@example.com,404 {300 + i} 5678\n" for i in range(120))
    upload_csv(campaign, "name,email,phone\n" + rows)
    campaign.callers.add(caller)
    return campaign


def test_pages_follow_by_key_and_come_back(client, sixty_leads, caller):
    client.force_login(caller)
    first, response = _names(client, sixty_leads)
    assert first == [f"Lead {i:03d}" for i in range(50)]
    page = response.context["page"]
    assert page.paginator.count == 120
    assert not page.has_previous
    assert "1\u201350 of 120" in response.content.decode()  # an en dash
    after = dict(pair.split("=") for pair in page.next_query.split("&"))
    second, response = _names(client, sixty_leads, **after)
    assert second == [f"Lead {i:03d}" for i in range(50, 100)]
    page = response.context["page"]
    assert page.first_position == 51
    back = dict(pair.split("=") for pair in page.previous_query.split("&"))
    assert _names(client, sixty_leads, **back)[0] == first
    last, response = _names(client, sixty_leads, last="1")
    assert last == [f"Lead {i:03d}" for i in range(70, 120)]
    assert not response.context["page"].has_next


@pytest.mark.parametrize(
    ("page", "expected"),
    [("0", 0), ("-3", 0), ("x", 0), ("2", 50), ("3", 100), ("99", 100), ("9" * 40, 100)],
)
def test_page_numbers_outside_the_list_show_its_first_or_last_page(
    client, sixty_leads, caller, page, expected
):
    client.force_login(caller)
    names, _ = _names(client, sixty_leads, page=page)
    assert names[0] == f"Lead {expected:03d}"


@pytest.mark.parametrize(("key", "value"), [("after", "99999999"), ("before", "0")])
def test_a_cursor_past_either_end_shows_that_end(client, sixty_leads, caller, key, value):
    client.force_login(caller)
    names, _ = _names(client, sixty_leads, **{key: value})
    assert names[0] == ("Lead 070" if key == "after" else "Lead 000")
    assert _names(client, sixty_leads, after="not-a-number")[0][0] == "Lead 000"


def test_a_deep_page_number_jumps_by_key(client, sixty_leads, caller, monkeypatch):
    # Past OFFSET_PAGES a page number is a jump to about where it starts, then keyset.
    monkeypatch.setattr(contact_pages, "OFFSET_PAGES", 1)
    client.force_login(caller)
    names, response = _names(client, sixty_leads, page="2")
    assert names == [f"Lead {i:03d}" for i in range(50, 100)]
    assert response.context["page"].has_previous


def test_searched_pages_are_numbered_exactly(client, sixty_leads, caller):
    client.force_login(caller)
    names, response = _names(client, sixty_leads, q="lead", page="2")
    assert names == [f"Lead {i:03d}" for i in range(50, 100)]
    page = response.context["page"]
    assert (page.paginator.count, page.number) == (120, 2)
    assert _names(client, sixty_leads, q="lead", page="0")[0][0] == "Lead 000"
    assert _names(client, sixty_leads, q="lead", page="7")[0][0] == "Lead 100"


def test_lead_search_ranks_numbers_before_names_and_scopes_campaigns(seeded, administrator):
    ranks = lead_ranks("+1 678 999 8212", campaign_ids=[seeded.pk], limit=10)
    contacts = Contact.objects.in_bulk(list(ranks))
    assert {contacts[pk].name for pk in ranks} == JOHN_SMITHS
    assert set(ranks.values()) == {search.RANK_EXACT}
    assert lead_ranks("john", campaign_ids=[], limit=10) == {}
    hits = find_leads(search.parse("keller"), administrator, 10)
    assert {h.label for h in hits} == {
        "John Smith, Keller Williams",
        "Priya Patel, Keller Williams",
    }


def test_deleting_a_campaign_removes_its_partition_and_rows(seeded, administrator):
    contact = Contact.objects.filter(campaign=seeded).order_by("id")[0]
    services.disposition_log(contact=contact, by=administrator, outcome="voicemail")
    deleted = services.campaign_delete(campaign=seeded)
    assert deleted == {"log entries": 1, "contacts": 5, "numbers": 3, "accounts": 4}
    assert not Contact.objects.filter(campaign_id=seeded.pk).exists()
    assert not CampaignPhone.objects.filter(campaign_id=seeded.pk).exists()
    assert not Account.objects.filter(campaign_id=seeded.pk).exists()
    assert not Disposition.objects.filter(campaign_id=seeded.pk).exists()


def test_the_numbers_and_the_log_count_up_to_a_cap_and_say_so(
    client, seeded, assigned, monkeypatch
):
    """A million-lead campaign has as many numbers, and its log grows with every call:
    both pages count at most COUNT_CAP rows ("Page 1 of 200+"), never the whole list."""
    from campaigns import views
    from crm import admin_utils

    monkeypatch.setattr(admin_utils, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "CONTACTS_PER_PAGE", 1)
    monkeypatch.setattr(views, "LOG_PER_PAGE", 1)
    client.force_login(assigned)
    numbers = reverse("campaigns:phones", args=[seeded.pk])
    assert CampaignPhone.objects.filter(campaign=seeded).count() > 2
    assert "Page 1 of 2+" in client.get(numbers).content.decode()
    past = client.get(numbers, {"page": 99})  # past what was counted: its last page
    assert "Page 2 of 2+" in past.content.decode()
    assert "These are the first 2: search or filter to find the rest." in past.content.decode()
    assert len(past.context["page"].object_list) == 1

    contact = Contact.objects.filter(campaign=seeded).first()
    for _ in range(6):
        Disposition.objects.create(
            campaign=seeded,
            contact=contact,
            target=Disposition.Target.CONTACT,
            outcome=Disposition.Outcome.NO_ANSWER,
        )
    log = client.get(reverse("campaigns:log", args=[seeded.pk])).content.decode()
    assert "Page 1 of 2+" in log
    assert "These are the first" not in log  # only on the last counted page
    last = client.get(reverse("campaigns:log", args=[seeded.pk]), {"page": 2}).content.decode()
    assert "These are the first 2: the rest are older." in last
