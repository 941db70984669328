"""Caller-ID choice per call (docs/dialing.md, "Caller ID")."""

import pytest
from django.utils import timezone

from reputation.models import MonitoredNumber, ReputationSettings, Verdict
from telephony import caller_ids
from telephony.models import Call, CallerIdUsage, OwnedNumber
from tests.telephony.factories import CallFactory

pytestmark = pytest.mark.django_db

LEAD_ATLANTA = "+16785551234"  # 678: Georgia


def owned(number: str, **extra) -> OwnedNumber:
    return OwnedNumber.objects.create(number=number, **extra)


def calls_from(number: str, count: int) -> None:
    for _ in range(count):
        CallFactory(direction="outbound", from_number=number, started_at=timezone.now())


def choose(pool, default=None, lead=LEAD_ATLANTA):
    return caller_ids.caller_id_choose(lead_e164=lead, pool=pool, default=default)


def test_same_area_code_first_then_the_least_used_of_them():
    other_state = owned("+12125550100")
    busy_local = owned("+16785550100")
    quiet_local = owned("+16785550101")
    calls_from("+16785550100", 3)
    calls_from("+16785550101", 1)
    choice = choose([other_state, busy_local, quiet_local])
    assert choice.e164 == "+16785550101"
    assert choice.reason.startswith("Same area code (678)")
    assert "1 of 100" in choice.reason


def test_same_state_when_no_area_code_matches():
    new_york = owned("+12125550100")
    georgia = owned("+14045550100")  # 404: Atlanta, Georgia
    choice = choose([new_york, georgia])
    assert choice.e164 == "+14045550100"
    assert "Same state (Georgia)" in choice.reason


def test_the_campaign_default_when_neither_matches():
    new_york = owned("+12125550100")
    california = owned("+14155550100")
    choice = choose([new_york], default=california)
    assert choice.e164 == "+14155550100"
    assert "default" in choice.reason


def test_least_used_of_the_pool_when_nothing_matches_and_no_default():
    a, b = owned("+12125550100"), owned("+14155550100")
    calls_from("+12125550100", 2)
    assert choose([a, b]).e164 == "+14155550100"


def test_released_numbers_are_never_offered():
    released = owned("+16785550100", status=OwnedNumber.Status.RELEASED)
    kept = owned("+12125550100")
    assert choose([released, kept]).e164 == "+12125550100"
    with pytest.raises(caller_ids.NoCallerId, match="no active number"):
        choose([released], default=released)


def test_numbers_at_the_daily_limit_are_passed_by(settings):
    settings.CALLER_ID_DAILY_CALL_LIMIT = 2
    local = owned("+16785550100")
    far = owned("+12125550100")
    calls_from("+16785550100", 2)
    assert choose([local, far]).e164 == "+12125550100"
    calls_from("+12125550100", 2)
    with pytest.raises(caller_ids.NoCallerId, match="2 calls today"):
        choose([local, far])


def test_yesterdays_calls_do_not_count():
    local = owned("+16785550100")
    CallFactory(
        direction="outbound",
        from_number="+16785550100",
        started_at=caller_ids.day_start() - timezone.timedelta(minutes=1),
    )
    assert choose([local]).calls_today == 0


def test_reputation_counts_only_while_the_addon_is_on():
    flagged = owned("+16785550100")
    at_risk = owned("+16785550101")
    clean = owned("+12125550100")
    MonitoredNumber.objects.create(owned_number=flagged, status=Verdict.SPAM)
    MonitoredNumber.objects.create(owned_number=at_risk, status=Verdict.SAFE, at_risk=True)
    settings_row = ReputationSettings.load()
    settings_row.addon_enabled = False
    settings_row.save()
    assert choose([flagged, at_risk, clean]).e164 == "+16785550100"
    settings_row.addon_enabled = True
    settings_row.save()
    from crm import singletons

    singletons.clear_cache()
    assert choose([flagged, at_risk, clean]).e164 == "+12125550100"
    with pytest.raises(caller_ids.NoCallerId, match="flagged SPAM"):
        choose([flagged])


def test_state_data_covers_the_area_codes():
    assert caller_ids.state_of("+14045550100") == "Georgia"
    assert caller_ids.state_of("+12125550100") == "New York"
    assert caller_ids.state_of("+442071234567") is None
    assert Call.objects.count() == 0


def test_caller_id_choice_reads_the_apps_one_area_code_table():
    """One table for the whole app (telephony/data): the state a lead's number is placed in
    comes from the shared loader, not from a copy of the file read by caller ID choice."""
    from telephony import data

    data.area_code_states.cache_clear()
    assert caller_ids.state_of("+14045550100") == "Georgia"
    assert data.area_code_states.cache_info().currsize == 1


def test_held_numbers_are_never_offered():
    held = owned("+16785550100", status=OwnedNumber.Status.HELD)
    kept = owned("+12125550100")
    assert choose([held, kept]).e164 == "+12125550100"
    with pytest.raises(caller_ids.NoCallerId, match="no active number"):
        choose([held], default=held)


def take(pool, lead=LEAD_ATLANTA):
    return caller_ids.caller_id_take(lead_e164=lead, pool=pool)


def test_each_call_takes_a_slot_and_a_full_number_is_passed_by(settings):
    settings.CALLER_ID_DAILY_CALL_LIMIT = 2
    local = owned("+16785550100")
    far = owned("+12125550100")
    calls_from("+16785550100", 1)  # placed before the counter existed: it counts
    assert take([local, far]).e164 == "+16785550100"
    assert CallerIdUsage.objects.get(owned_number=local).calls == 2
    assert take([local, far]).e164 == "+12125550100"
    assert take([local, far]).e164 == "+12125550100"
    with pytest.raises(caller_ids.NoCallerId, match="2 calls today"):
        take([local, far])
    assert sorted(CallerIdUsage.objects.values_list("calls", flat=True)) == [2, 2]


def test_a_claim_for_a_number_already_at_its_limit_is_refused(settings):
    settings.CALLER_ID_DAILY_CALL_LIMIT = 1
    local = owned("+16785550100")
    choice = choose([local])
    assert caller_ids.caller_id_claim(choice) is True
    # A second call that chose before the first claimed: its claim fails.
    assert caller_ids.caller_id_claim(choice) is False
    assert CallerIdUsage.objects.get(owned_number=local).calls == 1
