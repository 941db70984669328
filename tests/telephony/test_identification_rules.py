"""Rules of mobile identification that each hold one line of code (the type filter of a
new caller's lookup, the cap's conditional reservation, the cache period in days): each
test here fails if that line is changed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import PhoneNumber
from telephony.identification import ledger
from telephony.identification import services as identification
from telephony.identification.ledger import month_start
from telephony.models import BackfillRun, LineTypeLookup, LookupSpend, OrchestrationSettings
from tests.telephony.factories import hold

pytestmark = pytest.mark.django_db(transaction=True)


# --- A new caller's number is looked up only while it is Other -----------------------------


@pytest.mark.parametrize("typed", ["home", "office", "mobile"])
def test_a_number_an_agent_typed_before_the_task_ran_is_not_looked_up(scripted, typed):
    caller = hold("+14155550150", "other")
    PhoneNumber.objects.filter(pk=caller.pk).update(type=typed)  # an agent, meanwhile
    scripted.default = "mobile"

    assert identification.caller_number_identify(phone_id=caller.pk) == "nothing to identify"

    assert scripted.calls == []
    assert not LineTypeLookup.objects.exists()
    assert not LookupSpend.objects.filter(committed__gt=0).exists()


# --- The cap: of two workers racing for its last dollars, one wins -------------------------


def test_a_reservation_racing_another_that_reached_the_cap_exactly_is_refused(
    scripted, monkeypatch
):
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("0.03")
    config.save()
    LookupSpend.objects.create(month=month_start(), committed=Decimal("0.02"))
    read = ledger._committed
    raced = []

    def read_then_lose_the_race(spend):
        seen = read(spend)
        if not raced:  # another worker reserves the last lookup after this one's read
            raced.append(True)
            assert ledger.lookup_budget_reserve(lookups=1, price=Decimal("0.01")) == 1
        return seen

    monkeypatch.setattr(ledger, "_committed", read_then_lose_the_race)

    assert ledger.lookup_budget_reserve(lookups=1, price=Decimal("0.01")) == 0

    # Exactly at the cap, never past it.
    assert LookupSpend.objects.get().committed == Decimal("0.03")


def test_the_last_lookup_that_fits_exactly_under_the_cap_is_allowed(scripted):
    config = OrchestrationSettings.load()
    config.lookup_monthly_cap = Decimal("0.03")
    config.save()
    LookupSpend.objects.create(month=month_start(), committed=Decimal("0.02"))
    assert ledger.lookup_budget_reserve(lookups=5, price=Decimal("0.01")) == 1
    assert ledger.lookup_budget_reserve(lookups=1, price=Decimal("0.01")) == 0
    assert LookupSpend.objects.get().committed == Decimal("0.03")


# --- The cache period is in days -----------------------------------------------------------

# (cache days, age of the answer): each answer is within the period, so never bought again.
WITHIN = [(1, timedelta(hours=23, minutes=59)), (2, timedelta(days=1)), (180, timedelta(days=8))]


def trust_answers_for(days: int) -> None:
    config = OrchestrationSettings.load()
    config.lookup_cache_days = days
    config.save()


def answered(number: str, age: timedelta) -> LineTypeLookup:
    return LineTypeLookup.objects.create(
        number=number,
        line_type="mobile",
        carrier="Cached Mobile",
        cost=Decimal("0.01"),
        provider="scripted",
        purpose="backfill",
        looked_up_at=timezone.now() - age,
    )


@pytest.mark.parametrize(("days", "age"), WITHIN)
def test_a_new_caller_answered_a_day_ago_is_not_bought_again(scripted, days, age):
    trust_answers_for(days)
    caller = hold("+14155550160", "other")
    cached = answered("+14155550160", age)

    assert identification.caller_number_identify(phone_id=caller.pk) == "mobile"

    assert scripted.calls == []
    assert LineTypeLookup.objects.get() == cached


@pytest.mark.parametrize(("days", "age"), WITHIN)
def test_the_backfill_does_not_buy_again_an_answer_a_day_old(scripted, days, age):
    trust_answers_for(days)
    hold("+14045550060", "other")
    answered("+14045550060", age)

    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    assert (run.planned_numbers, run.planned_lookups) == (1, 0)
    run = identification.backfill_run(run_id=run.pk, concurrency=1)

    assert scripted.calls == []
    assert (run.answered_from_cache, run.lookups) == (1, 0)


def test_an_answer_older_than_the_period_is_bought_again(scripted):
    trust_answers_for(1)
    caller = hold("+14155550161", "other")
    answered("+14155550161", timedelta(days=1, minutes=1))
    identification.caller_number_identify(phone_id=caller.pk)
    assert scripted.calls == ["+14155550161"]
