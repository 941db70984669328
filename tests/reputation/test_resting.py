"""Resting (reputation/resting.py): a flagged number leaves the caller-ID pool until clean
for 3 days, at most a share of the pool rests at once, only while the add-on is on; and
the per-carrier threshold K decides SPAM."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reputation import resting
from reputation.caller_ids import reputation_filter
from reputation.models import MonitoredNumber, ReputationSettings, Verdict

pytestmark = pytest.mark.django_db


def _monitored(owned, status=Verdict.SAFE, **fields):
    return MonitoredNumber.objects.create(owned_number=owned(), status=status, **fields)


def test_a_flagged_number_rests_and_returns_after_three_clean_days(addon, owned):
    pool = [owned() for _ in range(7)]  # 8 active numbers with the flagged one: cap 2
    assert len(pool) == 7
    flagged = _monitored(owned, Verdict.SPAM)
    now = timezone.now()
    counts = resting.resting_refresh(now=now)
    flagged.refresh_from_db()
    assert counts.rested == 1
    assert flagged.resting_since == now
    # Clean again: still resting, with the reason caller-ID choice gives.
    MonitoredNumber.objects.filter(pk=flagged.pk).update(status=Verdict.SAFE, checked_at=now)
    resting.resting_refresh(now=now)
    assert reputation_filter([flagged.owned_number]) == {
        flagged.owned_number_id: "resting until clean for 3 days"
    }
    resting.resting_refresh(now=now + timedelta(days=2, hours=23))
    flagged.refresh_from_db()
    assert flagged.resting_since is not None
    counts = resting.resting_refresh(now=now + timedelta(days=3))
    flagged.refresh_from_db()
    assert counts.returned == 1
    assert flagged.resting_since is None
    assert reputation_filter([flagged.owned_number]) == {}


def test_flagged_again_while_resting_restarts_the_clean_days(addon, owned):
    now = timezone.now()
    number = _monitored(owned, Verdict.SAFE, resting_since=now, clean_since=now)
    MonitoredNumber.objects.filter(pk=number.pk).update(status=Verdict.SPAM)
    resting.resting_refresh(now=now + timedelta(days=1))
    number.refresh_from_db()
    assert number.clean_since is None
    assert number.resting_since == now


def test_at_most_the_share_rests_clean_longest_back_first_spam_never(addon, owned):
    now = timezone.now()
    addon.resting_share = "0.30"
    addon.save()
    spam = [_monitored(owned, Verdict.SPAM) for _ in range(2)]
    clean_old = _monitored(owned, resting_since=now, clean_since=now - timedelta(days=2))
    clean_new = _monitored(owned, resting_since=now, clean_since=now - timedelta(hours=1))
    for _ in range(6):
        owned()
    counts = resting.resting_refresh(now=now)  # 10 numbers: cap 3, 4 would rest
    assert counts.cap == 3
    assert counts.resting == 3
    clean_old.refresh_from_db()
    clean_new.refresh_from_db()
    assert clean_old.resting_since is None
    assert clean_new.resting_since is not None
    # Over the cap with only SPAM numbers: they still rest (never dialled while SPAM).
    addon.resting_share = "0.00"
    addon.save()
    counts = resting.resting_refresh(now=now)
    assert counts.resting == 2
    assert all(MonitoredNumber.objects.get(pk=m.pk).resting_since for m in spam)


def test_nothing_rests_while_the_addon_is_off(owned):
    config = ReputationSettings.load()
    config.addon_enabled = False
    config.save()
    flagged = _monitored(owned, Verdict.SPAM)
    assert resting.resting_refresh().rested == 0
    flagged.refresh_from_db()
    assert flagged.resting_since is None
    assert reputation_filter([flagged.owned_number]) == {}


def test_spam_threshold_k_defaults_to_most_carriers_and_can_be_set(addon):
    assert [addon.threshold_for(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    addon.spam_threshold = 1
    assert addon.threshold_for(5) == 1
