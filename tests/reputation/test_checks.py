"""Verdicts, the once-a-day rule, outages, and the early warning from our own calls."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from reputation import services
from reputation.models import DailyCheckRun, MonitoredNumber, NumberReplacement, SourceCheck
from telephony.models import Call
from tests.reputation.fakes import ScriptedInventory, ScriptedReputation, results
from tests.telephony.factories import CallFactory

pytestmark = pytest.mark.django_db


def monitor(*numbers):
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    return [MonitoredNumber.objects.get(owned_number=n) for n in numbers]


def test_prescreening_gives_the_verdict_at_once_and_spam_needs_the_threshold(addon, owned):
    one, two, three = owned(), owned(), owned()
    ScriptedReputation.answers = {
        str(one.number): results(True, False, False),
        str(two.number): results(True, True, False),
        str(three.number): results(True, True, True),
    }
    a, b, c = monitor(one, two, three)
    assert (a.status, b.status, c.status) == ("safe", "spam", "spam")  # majority of 3 = 2
    assert b.flagged_sources == 2
    assert b.sources == 3
    assert b.flagged_at is not None
    assert [r["carrier"] for r in b.results] == ["AT&T", "Verizon", "T-Mobile"]
    addon.spam_threshold = 3
    addon.save()
    ScriptedReputation.calls.clear()
    call_command("check_reputation")
    assert MonitoredNumber.objects.get(pk=b.pk).status == "safe"
    assert MonitoredNumber.objects.get(pk=c.pk).status == "spam"
    assert len(ScriptedReputation.calls) == 1  # three numbers, one request


def test_two_beat_fires_on_one_day_check_each_number_once(addon, owned):
    numbers = [owned() for _ in range(5)]
    monitor(*numbers)
    ScriptedReputation.calls.clear()
    first = services.daily_check_run()
    second = services.daily_check_run()
    assert first.pk == second.pk
    assert len(ScriptedReputation.calls) == 1  # the prescreening did not count as the day's
    assert DailyCheckRun.objects.filter(forced=False).count() == 1
    assert DailyCheckRun.objects.get().numbers_checked == 5
    assert SourceCheck.objects.filter(kind="daily").count() == 15


def test_force_checks_again_today_asking_for_fresh_data(addon, owned, capsys):
    monitor(owned(), owned())
    call_command("check_reputation")
    ScriptedReputation.calls.clear()
    call_command("check_reputation")
    assert ScriptedReputation.calls == []
    assert "already ran" in capsys.readouterr().out
    call_command("check_reputation", "--force")
    assert len(ScriptedReputation.calls) == 1
    assert ScriptedReputation.calls[0][1] is True
    assert DailyCheckRun.objects.filter(forced=True).count() == 1


def test_the_daily_check_batches_to_the_providers_request_size(addon, owned):
    addon.blocks = 20
    addon.save()
    numbers = [owned() for _ in range(250)]
    monitor(*numbers)
    ScriptedReputation.calls.clear()
    run = services.daily_check_run()
    assert [len(batch) for batch, _ in ScriptedReputation.calls] == [100, 100, 50]
    assert (run.requests, run.numbers_checked, run.state) == (3, 250, "done")


def test_an_outage_changes_no_verdict_and_triggers_no_replacement(addon, owned):
    addon.auto_replace = True
    addon.save()
    number = owned()
    ScriptedReputation.answers = {str(number.number): results(True, True, True)}
    ScriptedInventory.stock = {}  # nothing bought either way
    spam = monitor(number)[0]
    assert spam.status == "spam"
    NumberReplacement.objects.all().delete()
    ScriptedReputation.down = True
    ScriptedInventory.calls.clear()
    addon.auto_replace = False  # only the outage is under test: no SPAM replaced meanwhile
    addon.save()
    run = services.daily_check_run()
    spam.refresh_from_db()
    assert spam.status == "spam"
    assert spam.results
    assert "outage" in spam.last_error
    assert run.state == "incomplete"
    assert run.numbers_failed == 1
    # A later fire the same day finishes what the outage left, and only that.
    ScriptedReputation.down = False
    ScriptedReputation.answers = {}
    again = services.daily_check_run()
    assert again.pk == run.pk
    assert again.state == "done"
    spam.refresh_from_db()
    assert spam.status == "safe"


def test_an_outage_during_prescreening_leaves_the_number_pending(addon, owned):
    ScriptedReputation.down = True
    addon.auto_replace = True
    addon.save()
    monitored = monitor(owned())[0]
    assert monitored.status == "pending"
    assert NumberReplacement.objects.count() == 0
    assert ScriptedInventory.calls == []


def _calls(number, *, days_ago, answered, missed):
    now = timezone.now()
    for i in range(answered + missed):
        CallFactory(
            direction="outbound",
            from_number=str(number.number),
            to_number="+16785550199",
            status=Call.Status.COMPLETED if i < answered else Call.Status.NO_ANSWER,
            started_at=now - timedelta(days=days_ago, minutes=i),
        )


def test_a_falling_answer_rate_marks_a_number_at_risk_before_any_carrier(
    addon, owned, admin_client
):
    falling, steady = owned(), owned()
    monitor(falling, steady)
    _calls(falling, days_ago=8, answered=16, missed=4)  # 80% before
    _calls(falling, days_ago=1, answered=3, missed=7)  # 30% now: below 60% of 80%
    _calls(steady, days_ago=8, answered=16, missed=4)
    _calls(steady, days_ago=1, answered=7, missed=3)  # 70%: above 48%
    assert services.monitored_risk_refresh() == 1
    risky = MonitoredNumber.objects.get(owned_number=falling)
    assert risky.at_risk
    assert risky.status == "safe"
    assert round(risky.answer_rate_recent, 2) == 0.3
    assert round(risky.answer_rate_before, 2) == 0.8
    assert not MonitoredNumber.objects.get(owned_number=steady).at_risk
    page = admin_client.get("/admin/telephony/ownednumber/").text
    assert page.count(">AT RISK</span>") == 1
    assert "Answer rate 30% over the last 3 days against 80%" in page
    assert 'data-figure="at_risk" class="sb-warn">1<' in page
    addon.at_risk_fraction = "0.30"
    addon.save()
    assert services.monitored_risk_refresh() == 0
