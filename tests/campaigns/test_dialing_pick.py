"""The next lead handed in one statement on PostgreSQL (campaigns/dialing_pick.py) and
by the portable path on SQLite: what a held lead that went bad meanwhile gives, and
what a lead turned away leaves behind (docs/dialing.md, "Next lead")."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import dialing, services
from campaigns.models import Account, Campaign, Contact, DoNotCallNumber, LeadLease, Status
from tests.campaigns.dialing_helpers import lead, night_zone

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    return campaign


def next_id(campaign, user):
    found = dialing.lead_next(campaign=campaign, caller=user, now=timezone.now())
    return None if isinstance(found, dialing.NoLead) else found.contact.pk


@pytest.mark.parametrize("goes_bad", ["disqualified", "account", "listed", "asleep", "wrong"])
def test_a_held_lead_gone_bad_gives_the_next_and_its_lease_goes(campaign, caller, goes_bad):
    account = Account.objects.create(campaign=campaign, name="Acme")
    held = lead(campaign, "Held", number="+16785551001", account=account)
    after = lead(campaign, "After", number="+16785551002")
    assert next_id(campaign, caller) == held.pk
    if goes_bad == "disqualified":
        Contact.objects.filter(pk=held.pk).update(status=Status.DISQUALIFIED)
    elif goes_bad == "account":
        services.account_disqualify(account=account, by=caller, reason="closed")
    elif goes_bad == "listed":
        # Listed without its campaign row (as a row written before the listing committed).
        DoNotCallNumber.objects.create(number="+16785551001", reason="asked")
    elif goes_bad == "asleep":
        Contact.objects.filter(pk=held.pk).update(time_zone=night_zone())
    else:
        Contact.objects.filter(pk=held.pk).update(phone_wrong=True)
    assert next_id(campaign, caller) == after.pk
    assert list(LeadLease.objects.values_list("contact_id", flat=True)) == [after.pk]


def test_a_lead_turned_away_after_the_pick_keeps_no_lease(campaign, caller):
    asleep = lead(campaign, "Stale key", number="+16785551002")
    assert next_id(campaign, caller) == asleep.pk  # its key worked out: awake
    LeadLease.objects.all().delete()
    # Its zone changes behind the key's back; the other lead's only number gets listed.
    Contact.objects.filter(pk=asleep.pk).update(time_zone=night_zone())
    lead(campaign, "Listed", number="+16785551001")
    DoNotCallNumber.objects.create(number="+16785551001", reason="asked")
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.NoLead)
    assert not LeadLease.objects.exists()
    assert Contact.objects.get(pk=asleep.pk).dial_zone == night_zone()


def test_the_lead_has_its_account_numbers_and_fields_loaded(campaign, caller):
    account = Account.objects.create(campaign=campaign, name="Acme")
    made = lead(campaign, "Ann Lee", number="+16785551001", mobile="+16785551002", account=account)
    Contact.objects.filter(pk=made.pk).update(extra={"Notes": "ask for Ann"})
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.Lead)
    payload = dialing.lead_payload(found)
    assert payload["account"] == {"id": account.pk, "name": "Acme"}
    assert [n["number"] for n in payload["numbers"]] == ["+16785551001", "+16785551002"]
    assert payload["contact"]["email"] == "ann.lee@example.com"
    assert found.contact.extra == {"Notes": "ask for Ann"}
    assert found.expires_at == LeadLease.objects.get(contact_id=made.pk).expires_at


# SQLite takes the portable path: a transaction of several statements.
@pytest.mark.postgresql
def test_one_ask_is_two_statements_on_postgresql(campaign, caller):
    lead(campaign, "First", number="+16785551001")
    lead(campaign, "Second", number="+16785551002")
    dialing.lead_next(campaign=campaign, caller=caller)  # works the zone keys out
    LeadLease.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.Lead)
    # The campaign's zone keys, then the pick, the lease and the lead in one statement.
    assert len(queries.captured_queries) == 2


@pytest.mark.postgresql
def test_the_pick_s_placeholders_are_parsed_once_per_process(campaign, caller):
    from psycopg import _queries

    from campaigns import dialing_pick

    # Over psycopg's limit the statement is parsed again on every ask.
    assert len(dialing_pick._SQL.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    lead(campaign, "First", number="+16785551001")
    lead(campaign, "Second", number="+16785551002")
    assert next_id(campaign, caller) is not None
    LeadLease.objects.all().delete()
    parsed = _queries._query2pg.cache_info()
    assert next_id(campaign, caller) is not None
    after = _queries._query2pg.cache_info()
    assert after.misses == parsed.misses
    assert after.hits > parsed.hits


def test_a_lease_left_by_a_contact_deleted_underneath_holds_nothing_back(campaign, caller):
    gone = lead(campaign, "Gone", number="+16785551001")
    after = lead(campaign, "After", number="+16785551002")
    assert next_id(campaign, caller) == gone.pk
    # Deleted by a set-based statement, which leaves its lease (no database constraint).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_contact WHERE id = %s", [gone.pk])
    assert next_id(campaign, caller) == after.pk
