"""Whatever a feed answers for one number affects only that number, and the day's check
counts numbers, not attempts, and checks (and bills) no number twice a day."""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from reputation import services
from reputation.models import DailyCheckRun, MonitoredNumber, SourceCheck
from tests.reputation.fakes import ScriptedReputation

pytestmark = pytest.mark.django_db


def monitor(owned, count):
    numbers = [owned() for _ in range(count)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    ScriptedReputation.calls.clear()
    return [str(n.number) for n in numbers]


def result(carrier="AT&T", label="", score=10, flagged=False):
    return SimpleNamespace(carrier=carrier, label=label, score=score, flagged=flagged)


LONG = "Carrier with a very long name, forty characters and more"
MALFORMED = {
    "two results for one carrier": [
        result("AT&T"),
        result("AT&T", flagged=True),
        result("Verizon"),
    ],
    "two carriers equal in their first 40 characters": [result(LONG + " A"), result(LONG + " B")],
    "a score of 2**31": [result(score=2**31), result("Verizon")],
    "a negative score beyond 32 bits": [result(score=-(2**40))],
    "a carrier that is a number": [result(carrier=42)],
    "an empty carrier": [result(carrier="")],
    "flagged as a string": [result(flagged="yes")],
    "a score as text": [result(score="high")],
    "results that are not a list": "AT&T: clean",
    "a result that is not an object": [None],
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_answer_for_one_number_fails_only_that_number(addon, owned, case):
    bad, *_ = monitor(owned, 4)
    ScriptedReputation.answers = {bad: MALFORMED[case]}
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.numbers_failed) == ("incomplete", 3, 1)
    failed = MonitoredNumber.objects.get(owned_number__number=bad)
    assert failed.status == "safe"  # the pre-screen's verdict stands
    assert failed.daily_checked_on is None
    assert failed.last_error
    assert MonitoredNumber.objects.filter(daily_checked_on=timezone.localdate()).count() == 3
    assert not SourceCheck.objects.filter(number=bad, kind="daily").exists()


def test_long_labels_nul_characters_and_dict_results_are_kept_clipped(addon, owned):
    number, _ = monitor(owned, 2)
    ScriptedReputation.answers = {
        number: [
            {
                "carrier": "AT&T\x00",
                "label": "Spam\x00 Likely " + "x" * 500,
                "score": 87,
                "flagged": True,
            },
            result("Verizon", label=None, score=None),
            result("T-Mobile", label=12345, flagged=True),
        ]
    }
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.numbers_failed) == ("done", 2, 0)
    checked = MonitoredNumber.objects.get(owned_number__number=number)
    assert checked.status == "spam"
    assert [r["carrier"] for r in checked.results] == ["AT&T", "Verizon", "T-Mobile"]
    assert checked.results[0]["label"].startswith("Spam Likely xx")
    assert len(checked.results[0]["label"]) == 80
    assert checked.results[2]["label"] == "12345"
    assert SourceCheck.objects.filter(number=number).count() == 3


@pytest.mark.parametrize("answer", [None, ["+1"], "text", {"+1": 1}])
def test_an_answer_that_is_not_a_mapping_fails_the_batch_and_the_run_finishes(
    addon, owned, answer, monkeypatch
):
    monitor(owned, 3)
    monkeypatch.setattr(ScriptedReputation, "check", lambda self, e164s: answer)
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.numbers_failed) == ("incomplete", 0, 3)


def test_counters_count_numbers_not_attempts(addon, owned):
    addon.blocks = 2
    addon.save()
    numbers = monitor(owned, 30)
    ScriptedReputation.down = True
    for _ in range(3):  # the beat fires three times a day: each finds the outage
        run = services.daily_check_run()
    assert (run.numbers_checked, run.numbers_failed, run.state) == (0, 30, "incomplete")
    ScriptedReputation.down = False
    ScriptedReputation.answers = {numbers[0]: [result(score=2**31)]}
    run = services.daily_check_run()
    assert (run.numbers_checked, run.numbers_failed) == (29, 1)
    ScriptedReputation.answers = {}
    run = services.daily_check_run()
    assert (run.numbers_checked, run.numbers_failed, run.state) == (30, 0, "done")
    assert DailyCheckRun.objects.count() == 1


def test_numbers_checked_today_are_not_checked_again_by_a_later_fire(addon, owned):
    first, second = monitor(owned, 2)
    ScriptedReputation.answers = {second: "not a list"}  # the run stays incomplete
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked) == ("incomplete", 1)
    ScriptedReputation.answers = {}
    ScriptedReputation.calls.clear()
    services.daily_check_run()
    assert [batch for batch, _ in ScriptedReputation.calls] == [[second]]  # not [first, second]
    assert MonitoredNumber.objects.get(owned_number__number=first).checked_at is not None


def test_an_unexpected_error_while_applying_never_leaves_the_run_running(addon, owned, monkeypatch):
    monitor(owned, 2)
    from reputation import checks

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(checks, "_save_verdicts", broken)
    run = services.daily_check_run()
    assert run.state == "incomplete"
    assert run.numbers_failed == 2
    assert DailyCheckRun.objects.get().state == "incomplete"
