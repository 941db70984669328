"""Calling statistics: dials, connects (> 0 s), conversations (> 30 s), outcomes per
hour and day, campaign progress; staff see everyone's, a caller only their own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import stats
from campaigns.models import CallAttempt, Campaign, Contact, Outcome
from telephony.models import Call
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db


def _attempt(campaign, contact, caller, *, seconds, outcome=None, hours_ago=0):
    call = None
    if seconds is not None:
        call = Call.objects.create(
            direction="outbound",
            from_number="+16785550100",
            to_number="+16785551001",
            status="completed",
            duration_seconds=seconds,
            external_id=f"CA{Call.objects.count():032d}",
            started_at=timezone.now(),
        )
    attempt = CallAttempt.objects.create(
        campaign=campaign,
        contact=contact,
        caller=caller,
        number="+16785551001",
        call=call,
        outcome=outcome,
    )
    if hours_ago:
        CallAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - timedelta(hours=hours_ago)
        )
    return attempt


@pytest.fixture
def worked(caller, make_user):
    campaign = Campaign.objects.create(name="Realtors")
    other = make_user("Caller", "other-caller")
    ada = lead(campaign, "Ada Lovelace", number="+16785551001")
    lead(campaign, "Grace Hopper", number="+16785551002")
    Contact.objects.filter(pk=ada.pk).update(attempts=3)
    outcome = Outcome.objects.create(campaign=campaign, name="Interested", kind="final")
    _attempt(campaign, ada, caller, seconds=0)  # dialled, never connected
    _attempt(campaign, ada, caller, seconds=12, outcome=outcome)  # a connect
    _attempt(campaign, ada, caller, seconds=95, outcome=outcome)  # a conversation
    _attempt(campaign, ada, caller, seconds=None)  # failed to start: still a dial
    _attempt(campaign, ada, other, seconds=31, outcome=outcome)
    return campaign, other


def test_dials_connects_and_conversations_per_caller(worked, caller):
    _campaign, other = worked
    now = timezone.now()
    rows = {r.caller: r for r in stats.caller_rows(since=now - timedelta(days=1), until=now)}
    mine = rows[caller.get_username()]
    assert (mine.dials, mine.connects, mine.conversations) == (4, 2, 1)
    theirs = rows[other.get_username()]
    assert (theirs.dials, theirs.connects, theirs.conversations) == (1, 1, 1)
    only = stats.caller_rows(since=now - timedelta(days=1), until=now, caller_id=other.pk)
    assert [r.caller for r in only] == [other.get_username()]


def test_outcomes_per_day_and_hour_and_progress(worked):
    campaign, _ = worked
    now = timezone.now()
    day = stats.outcomes_by(period="day", since=now - timedelta(days=1), until=now)
    assert sum(n for _, name, n in day if name == "Interested") == 3
    hour = stats.outcomes_by(period="hour", since=now - timedelta(hours=2), until=now)
    assert sum(n for _, _, n in hour) == 3
    (progress,) = stats.campaign_progress(campaigns=[campaign])
    assert (progress.worked, progress.total, progress.percent) == (1, 2, 50)


def test_stats_page_for_administrators_and_agents_only(
    client, worked, administrator, agent, caller
):
    url = "/admin/campaigns/campaign/statistics/"
    for user in (administrator, agent):
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200
        assert 'data-stat="dials">4<' in page.content.decode()
    client.force_login(caller)
    assert client.get(url).status_code in (302, 403)
    bad = client.get(url + "?days=x&campaign=%00&caller=99999999999999999999")
    assert bad.status_code in (302, 403)
    client.force_login(administrator)
    assert client.get(url + "?days=x&campaign=%00&caller=99999999999999999999").status_code == 200


def test_workspace_shows_the_callers_own_figures_only(client, worked, caller):
    from django.urls import reverse

    campaign, _ = worked
    campaign.callers.add(caller)
    client.force_login(caller)
    page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert 'id="my-day"' in page
    assert 'data-stat="dials">4<' in page  # theirs, not the other caller's 1 added in
    assert 'data-stat="conversations">1<' in page


def test_hours_are_in_the_readers_zone_and_name_it(client, worked, administrator, monkeypatch):
    """The per-hour table counts and writes hours in the reader's zone, naming it as every
    page does (docs/voice.md, "Time zones"): ``04:00 JST``, not a bare ``04:00``."""
    from zoneinfo import ZoneInfo

    from telephony import middleware

    monkeypatch.setattr(middleware, "staff_time_zone", lambda user_id: "Asia/Tokyo")
    client.force_login(administrator)
    page = client.get("/admin/campaigns/campaign/statistics/?days=1").content.decode()
    hours = page[page.index('id="stats-hours"') :]
    hours = hours[: hours.index("</table>")]
    when = CallAttempt.objects.filter(outcome__isnull=False).latest("created_at").created_at
    tokyo = when.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"<td>{tokyo:%H}:00 JST</td>" in hours
