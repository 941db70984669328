"""The line-type provider contract is the minimum (docs/providers.md): a provider with only
what the table promises works for new callers and the backfill, and whatever it answers
is recorded once as what was paid for, affecting only that number."""

from decimal import Decimal
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from crm import providers
from crm.models import PhoneNumber
from telephony import services
from telephony.identification import pool, selectors
from telephony.identification import services as identification
from telephony.identification.ledger import month_start
from telephony.models import (
    BackfillRun,
    LineTypeLookup,
    LookupSpend,
    OrchestrationSettings,
)
from telephony.providers.base import LineTypeRefused, LineTypeUnavailable
from tests.telephony.factories import call_sid, hold

pytestmark = pytest.mark.django_db(transaction=True)

PRICE = Decimal("0.008")
DOTTED = "tests.telephony.test_provider_contract.MinimalProvider"


class MinimalProvider:
    """Exactly the contract: built with no arguments; ``lookup(e164)`` answers an object
    with ``line_type``, ``carrier`` and ``cost``. No name, no price, no async client."""

    answers: ClassVar[dict[str, Any]] = {}
    default: ClassVar[Any] = "landline"
    calls: ClassVar[list[str]] = []

    def lookup(self, e164):
        self.calls.append(e164)
        answer = self.answers.get(e164, type(self).default)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, str):
            return SimpleNamespace(line_type=answer, carrier="Minimal Wireless", cost=PRICE)
        return answer


@pytest.fixture
def minimal(settings):
    settings.LINE_TYPE_PROVIDER = DOTTED
    settings.LINE_TYPE_LOOKUP_PRICE = PRICE
    settings.LINE_TYPE_LOOKUP_RATE = 100_000
    MinimalProvider.answers, MinimalProvider.default, MinimalProvider.calls = {}, "landline", []
    providers.clear_providers()
    yield MinimalProvider
    providers.clear_providers()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(pool, "BACKOFF_SECONDS", 0.01)


def backfill() -> BackfillRun:
    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    return identification.backfill_run(run_id=run.pk, concurrency=1)


def ring(number: str) -> None:
    services.call_record(
        external_id=call_sid(),
        direction="inbound",
        from_number=number,
        to_number="+18005550100",
        channel="twilio",
        facts=services.CallFacts(status="ringing"),
    )


def types(number: str) -> list[tuple[str, bool]]:
    return sorted((p.type, p.sms) for p in PhoneNumber.objects.filter(number=number))


def committed() -> Decimal:
    row = LookupSpend.objects.filter(month=month_start()).first()
    return row.committed if row else Decimal(0)


# --- The minimum works everywhere -----------------------------------------------------------


def test_a_contract_only_provider_identifies_a_new_caller(minimal, eager_tasks):
    minimal.default = "mobile"

    ring("+14155550123")

    assert types("+14155550123") == [("mobile", True)]
    lookup = LineTypeLookup.objects.get()
    assert (lookup.provider, lookup.valid, lookup.error, lookup.cost) == (DOTTED, True, "", PRICE)
    assert lookup.carrier == "Minimal Wireless"
    assert committed() == PRICE


def test_a_contract_only_provider_runs_the_backfill(minimal):
    for i in range(3):
        hold(f"+1404555000{i}", "other")
    minimal.answers["+14045550001"] = "mobile"

    run = backfill()

    assert (run.status, run.lookups, run.failed, run.turned_mobile) == ("completed", 3, 0, 1)
    assert types("+14045550001") == [("mobile", False)]
    assert set(LineTypeLookup.objects.values_list("provider", flat=True)) == {DOTTED}
    assert committed() == 3 * PRICE


# --- Any answer is recorded as paid, only that number affected ---------------------------

ODD_ANSWERS = {
    "a long carrier with an error code": SimpleNamespace(
        line_type="unknown", carrier="Carrier " * 40, cost=PRICE, error_code=60600
    ),
    "a numeric carrier": SimpleNamespace(line_type="mobile", carrier=310260, cost=PRICE),
    "a carrier with a NUL": SimpleNamespace(line_type="mobile", carrier="Veri\x00zon", cost=PRICE),
    "a carrier of bytes": SimpleNamespace(line_type="mobile", carrier=b"\xffAT&T", cost=PRICE),
    "no carrier and no cost": SimpleNamespace(line_type="mobile"),
    "extra fields": SimpleNamespace(
        line_type="mobile", carrier="A", cost=PRICE, valid="yes", extra={"x": 1}, name=None
    ),
    "a line type we do not know": SimpleNamespace(line_type="satellite", carrier=None, cost=PRICE),
    "a line type that is no text": SimpleNamespace(line_type=7, carrier=None, cost=PRICE),
    "a cost that is no money": SimpleNamespace(line_type="mobile", carrier=None, cost="free"),
    "a cost too large": SimpleNamespace(line_type="mobile", carrier=None, cost=10**12),
    "a cost that is NaN": SimpleNamespace(line_type="mobile", carrier=None, cost=Decimal("NaN")),
    "a long error code": SimpleNamespace(
        line_type="mobile", carrier=None, cost=PRICE, error="E" * 500
    ),
    "a mapping": {"line_type": "mobile", "carrier": "Dict Mobile", "cost": "0.008"},
    "nothing": None,
}


@pytest.mark.parametrize("odd", ODD_ANSWERS.values(), ids=ODD_ANSWERS.keys())
def test_any_answer_in_the_backfill_is_recorded_once_and_affects_only_that_number(minimal, odd):
    for i in range(3):
        hold(f"+1404555001{i}", "other")
    minimal.default = "mobile"
    minimal.answers["+14045550011"] = odd

    run = backfill()

    assert (run.status, run.numbers_done, run.lookups, run.failed) == ("completed", 3, 3, 0)
    assert LineTypeLookup.objects.count() == 3
    row = LineTypeLookup.objects.get(number="+14045550011")
    assert len(row.carrier) <= 100
    assert "\x00" not in row.carrier
    assert len(row.error) <= 16
    assert 0 <= row.cost < 100_000
    assert types("+14045550010") == [("mobile", False)]
    assert types("+14045550012") == [("mobile", False)]
    # Recorded, so never bought again within the cache period.
    backfill()
    assert len(minimal.calls) == 3


@pytest.mark.parametrize("odd", ODD_ANSWERS.values(), ids=ODD_ANSWERS.keys())
def test_any_answer_for_a_new_caller_is_recorded_and_its_reservation_becomes_the_spend(
    minimal, odd
):
    caller = hold("+14155550130", "other")
    minimal.answers["+14155550130"] = odd

    identification.caller_number_identify(phone_id=caller.pk)

    row = LineTypeLookup.objects.get()
    assert row.purpose == "new_caller"
    assert committed() == PRICE  # reserved at the provider's price, kept: it was paid


# --- Failures: retried, released; timeouts: attempts at risk ------------------------------


def test_a_provider_exception_releases_the_reservation_and_the_task_retries(minimal):
    caller = hold("+14155550131", "other")
    minimal.answers["+14155550131"] = ValueError("the vendor's SDK broke")

    with pytest.raises(LineTypeUnavailable):  # the task's autoretry_for
        identification.caller_number_identify(phone_id=caller.pk)

    assert committed() == 0
    assert not LineTypeLookup.objects.exists()


def test_a_ledger_that_cannot_record_releases_the_reservation_and_the_task_retries(
    minimal, monkeypatch
):
    caller = hold("+14155550134", "other")

    def unreachable(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(identification, "lookups_record", unreachable)
    with pytest.raises(LineTypeUnavailable):
        identification.caller_number_identify(phone_id=caller.pk)

    assert committed() == 0


def test_a_timed_out_new_caller_lookup_is_an_attempt_at_risk_counted_against_the_cap(minimal):
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = 2 * PRICE
    config.save()
    caller = hold("+14155550132", "other")
    minimal.answers["+14155550132"] = [TimeoutError("read timed out"), "mobile"]

    with pytest.raises(LineTypeUnavailable):
        identification.caller_number_identify(phone_id=caller.pk)

    attempt = LineTypeLookup.objects.get()
    assert (attempt.at_risk, attempt.cost, attempt.line_type) == (True, PRICE, "unknown")
    assert committed() == PRICE
    month = selectors.month_figures()
    assert (month.spent, month.at_risk) == (0, PRICE)
    # The retry asks again: an attempt is no answer.
    assert identification.caller_number_identify(phone_id=caller.pk) == "mobile"
    assert len(minimal.calls) == 2
    assert committed() == 2 * PRICE
    # The cap counted the attempt: nothing is left for another caller.
    other = hold("+14155550133", "other")
    assert identification.caller_number_identify(phone_id=other.pk) == "capped"


def test_a_timed_out_backfill_lookup_is_an_attempt_at_risk_and_a_retry_pass_is_queued(minimal):
    for i in range(3):
        hold(f"+1404555002{i}", "other")
    minimal.answers["+14045550021"] = TimeoutError("read timed out")

    run = backfill()

    assert (run.status, run.failed, run.lookups) == ("completed", 1, 2)
    attempt = LineTypeLookup.objects.get(number="+14045550021")
    assert (attempt.at_risk, attempt.cost, attempt.backfill_id) == (True, PRICE, run.pk)
    assert minimal.calls.count("+14045550021") == 1  # not re-sent within the pass
    assert committed() == 3 * PRICE
    assert BackfillRun.objects.filter(trigger="retry", attempt=2).exists()


def test_after_a_refusal_the_numbers_never_sent_stay_pending(minimal, eager_tasks):
    for i in range(5):
        hold(f"+1404555003{i}", "other")
    minimal.answers["+14045550031"] = [
        LineTypeRefused("20003", "Twilio refused the credentials."),
        "landline",
    ]
    eager_tasks.conf.task_always_eager = False  # this pass here, one lookup at a time

    run = backfill()

    assert (run.status, run.failed, run.numbers_done, run.cursor) == ("halted", 0, 0, "")
    assert minimal.calls == ["+14045550030", "+14045550031"]
    assert LineTypeLookup.objects.count() == 1
    assert committed() == PRICE
    # The Administrator fixes the credentials and saves the page: the rest are looked up.
    eager_tasks.conf.task_always_eager = True
    identification.orchestration_settings_save(config=OrchestrationSettings.load())
    run.refresh_from_db()
    assert (run.status, run.failed, run.numbers_done) == ("completed", 0, 5)
    assert LineTypeLookup.objects.count() == 5


def test_a_backfill_that_fails_is_never_left_running(minimal, monkeypatch):
    from telephony.identification import backfill as runner

    hold("+14045550040", "other")
    minimal.default = "mobile"

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runner, "phone_numbers_identify_mobile", broken)
    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    with pytest.raises(RuntimeError):
        identification.backfill_run(run_id=run.pk, concurrency=1)

    run.refresh_from_db()
    assert run.status == "halted"
    assert "RuntimeError" in run.message
    assert identification.backfill_resume_stalled() == 0  # not bought again by the beat


# --- Switched on a moment ago -----------------------------------------------------------


def test_a_caller_ringing_while_other_processes_still_cache_off_is_looked_up(minimal, eager_tasks):
    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.save()
    assert OrchestrationSettings.cached().mobile_identification is False  # cached: off
    # An Administrator switches it on in another web process: this one's cache is stale.
    OrchestrationSettings.objects.filter(pk=1).update(mobile_identification=True)
    minimal.default = "mobile"

    ring("+14155550140")

    assert minimal.calls == ["+14155550140"]
    assert types("+14155550140") == [("mobile", True)]


def test_the_cap_pause_says_the_figures_the_page_shows(minimal):
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("0.04")
    config.save()
    for i in range(10):
        hold(f"+1404555005{i}", "other")

    run = backfill()

    # Every lookup the cap allowed was made; none was given back at the pause.
    assert (run.status, len(minimal.calls)) == ("paused", 5)
    assert committed() == Decimal("0.04")
    assert "$0.04 of the $0.04 cap is counted" in run.message
    assert selectors.runs_figures(run_ids=[run.pk])[run.pk].spent == Decimal("0.04")
