"""One signed-in caller's `GET /api/campaigns/{id}/next/` as a browser sends it (session
cookie): what it reads and how few statements it takes (docs/profiles/dialing.md), with
the role checks it keeps."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Campaign, Outcome
from campaigns.outcomes import DEFAULT_OUTCOMES
from crm.permissions import permissions_load
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    return campaign


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(campaign) -> str:
    return f"/api/campaigns/{campaign.pk}/next/"


# SQLite takes the portable pick: a transaction of several statements.
@pytest.mark.postgresql
def test_a_signed_in_caller_s_ask_is_five_statements(campaign, caller):
    first = lead(campaign, "First", number="+16785551001")
    second = lead(campaign, "Second", number="+16785551002")
    client = signed_in(caller)
    assert client.get(url(campaign)).json()["contact"]["id"] == first.pk  # keys, outcomes
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(campaign))
    assert response.status_code == 200
    assert response.json()["contact"]["id"] == first.pk  # asked again: the lead it holds
    # The session, the user with their permissions (their own and their groups'), the
    # campaign with whether its outcomes exist, the zone keys, and the pick with its
    # lease. Before: 8 (the user, two permission reads, the outcomes apart), then 6.
    assert len(queries.captured_queries) == 5, [q["sql"] for q in queries.captured_queries]
    assert second.pk != first.pk


def test_the_first_ask_seeds_the_outcomes(campaign, caller):
    lead(campaign, "First", number="+16785551001")
    assert not Outcome.objects.filter(campaign=campaign).exists()
    assert signed_in(caller).get(url(campaign)).status_code == 200
    assert Outcome.objects.filter(campaign=campaign).exists()


def test_roles_over_a_session(campaign, caller, agent, administrator, make_user):
    mine = lead(campaign, "Mine", number="+16785551001")
    other = Campaign.objects.create(name="Not yours")
    theirs = lead(other, "Theirs", number="+16785551002")
    client = signed_in(caller)
    assert client.get(url(campaign)).json()["contact"]["id"] == mine.pk
    response = client.get(url(other))
    assert response.status_code == 404
    assert response.json() == {"detail": "No Campaign matches the given query."}
    assert client.get("/api/campaigns/999999/next/").status_code == 404
    assert signed_in(agent).get(url(campaign)).status_code == 403
    assert signed_in(make_user(None, "nobody")).get(url(campaign)).status_code == 403
    assert Client().get(url(campaign)).status_code == 403  # not signed in
    # Administrators work every campaign, assigned or not.
    assert signed_in(administrator).get(url(other)).json()["contact"]["id"] == theirs.pk
    # A caller whose role is taken away is refused on the next ask.
    caller.groups.clear()
    assert client.get(url(campaign)).status_code == 403


def test_an_expired_session_signs_the_caller_out(campaign, caller):
    lead(campaign, "Mine", number="+16785551001")
    client = signed_in(caller)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(url(campaign)).status_code == 403
    client = signed_in(caller)
    assert client.get(url(campaign)).status_code == 200


def test_permissions_read_in_one_statement_answer_as_django_does(caller, make_user):
    User = get_user_model()
    own = Permission.objects.get(codename="add_donotcallnumber")
    caller.user_permissions.add(own)
    inactive = make_user(None, "inactive", is_active=False)
    inactive.user_permissions.add(own)
    superuser = make_user(None, "root", is_superuser=True)
    asked = [
        "campaigns.work_campaign",
        "campaigns.add_donotcallnumber",
        "campaigns.change_campaign",
        "crm.view_customer",
    ]
    for user in (caller, inactive, superuser, make_user(None, "nobody")):
        loaded = User.objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as queries:
            permissions_load(loaded)
            answers = [loaded.has_perm(p) for p in asked]
            all_perms = loaded.get_all_permissions()
        plain = User.objects.get(pk=user.pk)
        assert answers == [plain.has_perm(p) for p in asked], user.username
        assert all_perms == plain.get_all_permissions()
        if user.is_active and not user.is_superuser:
            assert len(queries.captured_queries) == 1
    assert User.objects.get(pk=caller.pk).has_perm("campaigns.add_donotcallnumber")


def test_campaign_to_dial_scopes_as_campaigns_for_user(campaign, caller, agent, administrator):
    from django.contrib.auth.models import AnonymousUser

    other = Campaign.objects.create(name="Not yours")
    for user in (caller, agent, administrator, AnonymousUser()):
        for target in (campaign, other):
            found = selectors.campaign_to_dial(user, target.pk)
            expected = selectors.campaigns_for_user(user).filter(pk=target.pk).first()
            assert found == expected, (user, target)
    found = selectors.campaign_to_dial(caller, campaign.pk)
    assert found is not None
    assert not found.outcomes_seeded
    assert found.call_window_start == campaign.call_window_start
    # Every field as the ORM loads it (the backend's converters: times, dates, booleans).
    loaded = Campaign.objects.get(pk=campaign.pk)
    for field in Campaign._meta.concrete_fields:
        mine, theirs = getattr(found, field.attname), getattr(loaded, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert not found._state.adding
    found.name = "Realtors 2"
    found.save(update_fields=["name"])
    assert Campaign.objects.get(pk=campaign.pk).name == "Realtors 2"
    Outcome.objects.create(campaign=campaign, position=0, **DEFAULT_OUTCOMES[0])
    assert selectors.campaign_to_dial(caller, campaign.pk).outcomes_seeded
