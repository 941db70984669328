"""Mobile identification: the backfill's rules, the ledger and its cache, the cap, failures,
the switch, and new callers looked up after the linking transaction commits."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from crm.models import MatchSuggestion, PhoneNumber, PhoneNumberChange
from telephony import services
from telephony.identification import pool
from telephony.identification import services as identification
from telephony.identification.services import backfill_run
from telephony.models import (
    BackfillRun,
    LineTypeLookup,
    LookupSpend,
    OrchestrationSettings,
    OrchestrationSwitch,
)
from telephony.providers.base import LineTypeRefused, LineTypeUnavailable
from tests.telephony.factories import call_sid, hold

pytestmark = pytest.mark.django_db(transaction=True)


def backfill(concurrency: int = 4) -> BackfillRun:
    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    return backfill_run(run_id=run.pk, concurrency=concurrency)


def types(number: str) -> list[tuple[str, bool, str]]:
    return sorted((p.type, p.sms, p.type_source) for p in PhoneNumber.objects.filter(number=number))


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(pool, "BACKOFF_SECONDS", 0.01)


def test_the_backfill_changes_the_right_numbers_and_looks_up_no_others(scripted):
    alone = hold("+14045550001", "other")
    shared_line = hold("+14045550002", "other")
    hold("+14045550002", "home")
    hold("+14045550002", "office")
    hold("+14045550003", "other")  # Other on two profiles: nobody can choose
    hold("+14045550003", "other")
    hold("+14045550004", "mobile")
    hold("+14045550005", "home")
    hold("+14045550006", "office")
    hold("+14045550007", "mobile")  # Mobile on one, Other on another: identified
    hold("+14045550007", "other")
    hold("+14045550008", "other")  # answered landline: stays Other
    scripted.default = "mobile"
    scripted.answers["+14045550008"] = "landline"

    run = backfill()

    assert sorted(scripted.calls) == ["+14045550001", "+14045550002", "+14045550008"]
    assert types("+14045550001") == [("mobile", False, "backfill")]
    assert types("+14045550002") == [
        ("home", False, "manual"),
        ("mobile", False, "backfill"),
        ("office", False, "manual"),
    ]
    assert types("+14045550003") == [("other", False, "manual")] * 2
    assert types("+14045550007") == [("mobile", False, "manual"), ("other", False, "manual")]
    assert types("+14045550008") == [("other", False, "manual")]
    assert LineTypeLookup.objects.count() == 3
    assert set(LineTypeLookup.objects.values_list("cost", "provider", "purpose")) == {
        (Decimal("0.01000"), "scripted", "backfill")
    }
    assert (run.status, run.planned_numbers, run.planned_lookups, run.planned_cost) == (
        "completed",
        3,
        3,
        Decimal("0.03000"),
    )
    assert (run.numbers_done, run.lookups, run.turned_mobile, run.failed, run.spent) == (
        3,
        3,
        2,
        0,
        Decimal("0.03000"),
    )
    change = PhoneNumberChange.objects.get(phone_number=alone, action="type_changed")
    lookup = LineTypeLookup.objects.get(number="+14045550001")
    assert change.cause == f"carrier lookup #{lookup.pk}: mobile (Scripted Wireless)"
    assert (change.old_type, change.new_type, change.type_source) == ("other", "mobile", "backfill")
    assert PhoneNumberChange.objects.filter(phone_number=shared_line).exists()


def test_a_number_is_not_paid_for_twice_within_the_cache_period(scripted):
    hold("+14045550011", "other")
    hold("+14045550012", "other")
    backfill()
    assert len(scripted.calls) == 2

    again = backfill()

    assert len(scripted.calls) == 2
    assert (again.lookups, again.answered_from_cache, again.spent) == (0, 2, Decimal(0))
    assert LineTypeLookup.objects.count() == 2
    # Past the cache period, an answer is no longer trusted.
    LineTypeLookup.objects.update(looked_up_at=timezone.now() - timedelta(days=181))
    backfill()
    assert len(scripted.calls) == 4


def test_the_cap_stops_lookups_before_it_would_be_passed_and_raising_it_resumes(
    scripted, eager_tasks, administrator
):
    for i in range(5):
        hold(f"+1404555002{i}", "other")
    scripted.default = "mobile"
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("0.03")
    config.save()

    run = backfill()

    assert (run.status, len(scripted.calls), run.turned_mobile) == ("paused", 3, 3)
    assert "cap" in run.message
    assert LookupSpend.objects.get().committed == Decimal("0.03")
    # A new caller now is filed as Other without a lookup.
    other = hold("+14045550099", "other")
    assert identification.caller_number_identify(phone_id=other.pk) == "capped"
    assert len(scripted.calls) == 3

    config.lookup_monthly_cap = Decimal("1.00")
    identification.orchestration_settings_save(config=config, actor=administrator)

    run.refresh_from_db()
    assert run.status == "completed"
    assert PhoneNumber.objects.filter(number__startswith="+1404555002", type="mobile").count() == 5
    assert LineTypeLookup.objects.filter(number__startswith="+1404555002").count() == 5
    # The caller filed while capped was Other, so the resumed backfill identified it too.
    assert types("+14045550099") == [("mobile", False, "backfill")]
    assert sum(LineTypeLookup.objects.values_list("cost", flat=True)) <= Decimal("1.00")


def test_the_dry_run_prints_the_count_and_cost_and_spends_nothing(scripted, capsys):
    for i in range(3):
        hold(f"+1404555003{i}", "other")
    hold("+14045550039", "home")

    call_command("identify_mobile_numbers", "--dry-run")

    out = capsys.readouterr().out
    assert "Numbers whose type could change: 3" in out
    assert "Lookups: 3 at $0.01 = $0.03" in out
    assert scripted.calls == []
    assert not LineTypeLookup.objects.exists()
    assert not BackfillRun.objects.exists()


class SlowMobile:
    """A provider answer that takes 10 ms and counts how many calls were at it at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, e164: str) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01)
        with self.lock:
            self.now -= 1
        return "mobile"


def test_the_command_runs_the_backfill_with_at_most_n_lookups_in_flight(scripted, capsys):
    for i in range(40):
        hold(f"+140455501{i:02d}", "other")
    in_flight = scripted.default = SlowMobile()

    call_command("identify_mobile_numbers", "--concurrency", "3")

    assert PhoneNumber.objects.filter(type="mobile").count() == 40
    assert 1 < in_flight.most <= 3
    assert "40 numbers, 40 lookups" in capsys.readouterr().out


def test_the_provider_concurrency_caps_requests_waiting_on_the_provider(scripted, settings):
    settings.LINE_TYPE_PROVIDER_CONCURRENCY = 2
    for i in range(30):
        hold(f"+140455502{i:02d}", "other")
    at_provider = scripted.default = SlowMobile()

    call_command("identify_mobile_numbers", "--concurrency", "5")

    assert PhoneNumber.objects.filter(type="mobile").count() == 30
    assert at_provider.most == 2


def test_the_command_refuses_when_identification_is_off(scripted):
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.save()
    with pytest.raises(Exception, match="switch it on first"):
        call_command("identify_mobile_numbers")


def test_a_failure_for_one_number_changes_nothing_for_it_and_does_not_stop_the_others(scripted):
    hold("+14045550041", "other")
    broken = hold("+14045550042", "other")
    hold("+14045550043", "other")
    scripted.default = "mobile"
    scripted.answers["+14045550042"] = LineTypeUnavailable("503")

    run = backfill()

    assert (run.status, run.lookups, run.failed, run.turned_mobile) == ("completed", 2, 1, 2)
    broken.refresh_from_db()
    assert broken.type == "other"
    assert not LineTypeLookup.objects.filter(number="+14045550042").exists()
    assert scripted.calls.count("+14045550042") == pool.UNAVAILABLE_TRIES
    # The failed number is retried later, by another pass.
    retry = BackfillRun.objects.get(trigger="retry")
    assert (retry.attempt, retry.planned_lookups) == (2, 1)
    assert LookupSpend.objects.get().committed == Decimal("0.02")


def test_a_refusing_provider_stops_lookups_with_its_message_until_the_page_is_saved(
    scripted, eager_tasks, administrator
):
    hold("+14045550051", "other")
    scripted.default = LineTypeRefused("60606", "The package is not enabled.")

    run = backfill()

    assert run.status == "halted"
    assert run.message == "The package is not enabled."
    config = OrchestrationSettings.load()
    assert config.lookups_stopped_reason == "The package is not enabled."
    assert not LineTypeLookup.objects.exists()
    assert PhoneNumber.objects.get().type == "other"

    scripted.default = "mobile"
    identification.orchestration_settings_save(config=config, actor=administrator)

    run.refresh_from_db()
    assert run.status == "completed"
    assert OrchestrationSettings.load().lookups_stopped_reason == ""
    assert PhoneNumber.objects.get().type == "mobile"


def test_switching_on_starts_the_backfill_and_off_stops_it_both_recorded(
    scripted, eager_tasks, administrator
):
    hold("+14045550061", "other")
    scripted.default = "mobile"
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    identification.orchestration_settings_save(config=config, actor=administrator)

    config.mobile_identification = True
    identification.orchestration_settings_save(config=config, actor=administrator)

    run = BackfillRun.objects.get()
    assert (run.trigger, run.status, run.started_by) == ("switched_on", "completed", administrator)
    assert PhoneNumber.objects.get().type == "mobile"
    assert list(OrchestrationSwitch.objects.order_by("id").values_list("enabled", "by")) == [
        (False, administrator.pk),
        (True, administrator.pk),
    ]


def test_switching_off_stops_a_running_backfill_at_its_next_chunk(scripted, administrator):
    for i in range(30):
        hold(f"+140455507{i:02d}", "other")
    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    identification.orchestration_settings_save(config=config, actor=administrator)

    left = backfill_run(run_id=run.pk)

    assert left.status == "stopped"
    assert scripted.calls == []


def test_a_backfill_whose_worker_died_is_queued_again(scripted, eager_tasks):
    hold("+14045550081", "other")
    scripted.default = "mobile"
    run = BackfillRun.objects.create(trigger="command", price=Decimal("0.01"), planned_numbers=1)
    BackfillRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert identification.backfill_resume_stalled() == 1

    run.refresh_from_db()
    assert run.status == "completed"
    assert PhoneNumber.objects.get().type == "mobile"


def test_first_install_starts_the_backfill_since_the_setting_is_on_by_default(
    scripted, eager_tasks
):
    hold("+14045550091", "other")
    scripted.default = "mobile"

    identification.backfill_resume_stalled()

    assert BackfillRun.objects.get().trigger == "install"
    assert PhoneNumber.objects.get().type == "mobile"


# --- New callers --------------------------------------------------------------------------


def ring(number: str) -> services.Recorded:
    return services.call_record(
        external_id=call_sid(),
        direction="inbound",
        from_number=number,
        to_number="+18005550100",
        channel="twilio",
        facts=services.CallFacts(status="ringing"),
    )


def test_a_new_mobile_caller_is_looked_up_after_the_linking_commit_and_gets_mobile_sms(
    scripted, eager_tasks
):
    scripted.default = "mobile"

    with transaction.atomic():
        ring("+14155550123")
        # Still inside the transaction: nothing has been looked up.
        assert scripted.calls == []
        assert types("+14155550123") == [("other", False, "inbound_call")]

    assert scripted.calls == ["+14155550123"]
    assert types("+14155550123") == [("mobile", True, "lookup")]
    lookup = LineTypeLookup.objects.get()
    assert lookup.purpose == "new_caller"
    change = PhoneNumberChange.objects.get(action="type_changed")
    assert change.cause == f"carrier lookup #{lookup.pk}: mobile (Scripted Wireless)"


def test_a_new_landline_caller_stays_other_and_the_answer_is_recorded(scripted, eager_tasks):
    ring("+14155550124")
    assert types("+14155550124") == [("other", False, "inbound_call")]
    assert LineTypeLookup.objects.get().line_type == "landline"


def test_with_identification_off_a_new_caller_is_not_looked_up(scripted, eager_tasks):
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.save()
    ring("+14155550125")
    assert scripted.calls == []
    assert types("+14155550125") == [("other", False, "inbound_call")]


def test_a_new_caller_already_answered_within_the_cache_period_is_not_paid_again(
    scripted, eager_tasks
):
    LineTypeLookup.objects.create(
        number="+14155550126", line_type="mobile", cost=Decimal("0.01"), provider="x", purpose="x"
    )
    ring("+14155550126")
    assert scripted.calls == []
    assert types("+14155550126") == [("mobile", True, "lookup")]


def test_a_mobile_answer_for_a_number_another_profile_holds_as_mobile_makes_a_suggestion(
    scripted,
):
    caller = hold("+14155550127", "other")
    owner = hold("+14155550127", "mobile")
    scripted.default = "mobile"

    assert identification.caller_number_identify(phone_id=caller.pk) == "mobile elsewhere"

    assert types("+14155550127") == [("mobile", False, "manual"), ("other", False, "manual")]
    suggestion = MatchSuggestion.objects.get()
    assert {suggestion.customer_id, suggestion.other_id} == {caller.customer_id, owner.customer_id}


def test_a_lookup_is_never_made_inside_a_transaction(scripted):
    caller = hold("+14155550128", "other")
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside"):
        identification.caller_number_identify(phone_id=caller.pk)
    assert scripted.calls == []
