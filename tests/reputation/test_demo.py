"""seed_demo gives the add-on demo numbers once, and leaves them as the user keeps them."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client

from crm import providers
from reputation import services
from reputation.demo import DEMO_NUMBERS, HISTORY_DAYS
from reputation.models import MonitoredNumber, ReputationSettings, SourceCheck, Verdict
from telephony.models import OwnedNumber

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(settings):
    settings.REPUTATION_PROVIDER = "reputation.providers.sandbox.SandboxReputationProvider"
    providers.clear_providers()


def test_seed_demo_monitors_a_few_numbers_with_history_one_flagged(
    role_groups, tmp_path, settings, sandbox, administrator
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())

    assert ReputationSettings.load().addon_enabled
    assert OwnedNumber.objects.count() == len(DEMO_NUMBERS)
    monitored = MonitoredNumber.objects.select_related("owned_number")
    assert monitored.count() == 4
    spam = monitored.get(status=Verdict.SPAM)
    assert spam.owned_number.label == "Spring promo"
    assert spam.flagged_at is not None
    assert monitored.filter(status=Verdict.SAFE).count() == 3
    # Five past days of three carriers each, plus today's pre-screening.
    past = SourceCheck.objects.filter(kind="daily")
    assert past.values("day").distinct().count() == HISTORY_DAYS
    assert past.count() == 4 * 3 * HISTORY_DAYS
    assert SourceCheck.objects.filter(kind="prescreen").count() == 4 * 3
    promo_flags = [
        row["n"]
        for row in past.filter(owned_number=spam.owned_number, flagged=True)
        .values("day")
        .order_by("day")
        .annotate(n=Count("id"))
    ]
    assert promo_flags == [1, 2]  # growing flags before today's SPAM
    # The early warning from our own calls: answered 2 of 8 lately against 10 of 12.
    risky = monitored.get(at_risk=True)
    assert risky.owned_number.label == "Atlanta follow-ups"
    assert (risky.answer_rate_recent, round(risky.answer_rate_before, 2)) == (0.25, 0.83)

    client = Client()
    client.force_login(administrator)
    page = client.get("/admin/telephony/ownednumber/").text
    assert page.count('data-status="spam"') == 1
    assert page.count('data-status="safe"') == 3
    assert 'title="Not monitored"' in page
    assert page.count(">AT RISK</span>") == 1
    assert ">6 today</span>" in page
    chart = client.get(f"/admin/telephony/ownednumber/{spam.owned_number_id}/change/").text
    assert "Carrier flags, last 90 days" in chart


def test_seed_demo_twice_adds_nothing_and_keeps_the_users_changes(
    role_groups, tmp_path, settings, sandbox
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    stopped = MonitoredNumber.objects.filter(status=Verdict.SAFE).first()
    assert stopped is not None
    services.numbers_unmonitor(owned_number_ids=[stopped.owned_number_id], by=None)
    counts = (OwnedNumber.objects.count(), SourceCheck.objects.count())

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert "reputation: demo numbers present." in out.getvalue()
    assert (OwnedNumber.objects.count(), SourceCheck.objects.count()) == counts
    assert MonitoredNumber.objects.count() == 3
    assert not MonitoredNumber.objects.filter(owned_number_id=stopped.owned_number_id).exists()
