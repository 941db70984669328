"""Resting flagged numbers (docs/dialing.md, "Caller ID"): a number flagged SPAM leaves
the caller-ID pool, still owned and monitored, and comes back once its checks have found
it clean for three days. At most ``ReputationSettings.resting_share`` of the pool rests
at once: beyond it, the numbers clean longest come back early; a number still SPAM never
does (caller-ID choice refuses SPAM whatever the share)."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from reputation.models import MonitoredNumber, ReputationSettings, Verdict
from telephony.models import OwnedNumber

RESTING_CLEAN_DAYS = 3


@dataclass
class RestingCounts:
    rested: int = 0
    returned: int = 0
    resting: int = 0
    cap: int = 0


@transaction.atomic
def resting_refresh(*, now: datetime | None = None) -> RestingCounts:
    """Rest the numbers flagged since the last run, return those clean for three days,
    and keep the resting share under the cap. Nothing while the add-on is off."""
    counts = RestingCounts()
    config = ReputationSettings.load()
    if not config.addon_enabled:
        return counts
    now = now or timezone.now()
    monitored = MonitoredNumber.objects.select_for_update()
    flagged = monitored.filter(status=Verdict.SPAM)
    counts.rested = flagged.filter(resting_since__isnull=True).update(resting_since=now)
    flagged.exclude(clean_since=None).update(clean_since=None)
    # Clean again: the clock starts at the first clean check seen. One statement (a row
    # read and saved each was most of this refresh, which the daily check's end waits for).
    monitored.filter(resting_since__isnull=False, clean_since__isnull=True).exclude(
        status=Verdict.SPAM
    ).update(clean_since=Coalesce(F("checked_at"), Value(now)))
    back = now - timedelta(days=RESTING_CLEAN_DAYS)
    counts.returned = (
        monitored.filter(resting_since__isnull=False, clean_since__lte=back)
        .exclude(status=Verdict.SPAM)
        .update(resting_since=None, clean_since=None)
    )
    pool = OwnedNumber.objects.filter(status=OwnedNumber.Status.ACTIVE).count()
    counts.cap = math.floor(pool * float(config.resting_share))
    resting = monitored.filter(resting_since__isnull=False)
    counts.resting = resting.count()
    over = counts.resting - counts.cap
    if over > 0:
        early = list(
            resting.exclude(status=Verdict.SPAM)
            .order_by("clean_since", "pk")
            .values_list("pk", flat=True)[:over]
        )
        back_early = MonitoredNumber.objects.filter(pk__in=early).update(
            resting_since=None, clean_since=None
        )
        counts.returned += back_early
        counts.resting -= back_early
    return counts
