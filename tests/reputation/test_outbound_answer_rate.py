"""At-risk reads the outbound calls the dial flow places (telephony/outbound.py): a
number whose leads stop answering is at risk before any carrier flags it."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from reputation import services
from reputation.models import MonitoredNumber
from telephony.outbound import Progress, outbound_call_create, outbound_call_progress

pytestmark = pytest.mark.django_db


def _dial(owned, *, days_ago: int, connected: int, unanswered: int) -> None:
    when = timezone.now() - timedelta(days=days_ago)
    for i in range(connected + unanswered):
        with mock.patch("django.utils.timezone.now", return_value=when):
            call = outbound_call_create(from_e164=str(owned.number), lead_e164="+16785551001")
        call.external_id = f"CA{call.pk:032d}"
        call.save(update_fields=["external_id"])
        # An unanswered bridge still "completes" (the caller's leg), at 0 s.
        seconds = 45 if i < connected else 0
        outbound_call_progress(
            external_id=call.external_id,
            progress=Progress(status="completed", duration_seconds=seconds, ended_at=when),
        )


def test_outbound_dial_calls_feed_the_at_risk_answer_rate(addon, owned):
    falling, steady = owned(), owned()
    services.numbers_monitor(owned_number_ids=[falling.pk, steady.pk], by=None)
    _dial(falling, days_ago=8, connected=8, unanswered=2)  # 80% before
    _dial(falling, days_ago=1, connected=2, unanswered=8)  # 20% now
    _dial(steady, days_ago=8, connected=8, unanswered=2)
    _dial(steady, days_ago=1, connected=8, unanswered=2)
    assert services.monitored_risk_refresh() == 1
    risky = MonitoredNumber.objects.get(owned_number=falling)
    assert risky.at_risk
    assert round(risky.answer_rate_recent, 2) == 0.2
    assert not MonitoredNumber.objects.get(owned_number=steady).at_risk


def test_a_number_whose_calls_left_the_window_is_cleared(addon, owned):
    # The refresh reads only numbers with calls or with a value to clear: one at risk
    # whose calls are all older than the 17-day window must come back clean.
    old, quiet = owned(), owned()
    services.numbers_monitor(owned_number_ids=[old.pk, quiet.pk], by=None)
    _dial(old, days_ago=30, connected=1, unanswered=9)
    MonitoredNumber.objects.filter(owned_number=old).update(
        at_risk=True, answer_rate_recent=0.1, answer_rate_before=0.8
    )
    assert services.monitored_risk_refresh() == 0
    cleared = MonitoredNumber.objects.get(owned_number=old)
    assert (cleared.at_risk, cleared.answer_rate_recent, cleared.answer_rate_before) == (
        False,
        None,
        None,
    )
    untouched = MonitoredNumber.objects.get(owned_number=quiet)
    assert (untouched.at_risk, untouched.answer_rate_recent) == (False, None)
