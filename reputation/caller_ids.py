"""Reputation's say in caller-ID choice (docs/dialing.md, "Caller ID"): while the add-on
is on, a number flagged SPAM, resting (reputation/resting.py) or at risk is not dialled
from. Registered into telephony's filter registry, so telephony and campaigns never
import reputation."""

from django.db.models import Q

from reputation.models import MonitoredNumber, ReputationSettings, Verdict
from telephony.models import OwnedNumber


def reputation_filter(numbers: list[OwnedNumber]) -> dict[int, str]:
    if not ReputationSettings.load().addon_enabled:
        return {}
    excluded: dict[int, str] = {}
    # The few numbers that are not clean, matched in Python: a thousand candidates as
    # bound parameters cost more than reading them.
    wanted = {n.id for n in numbers}
    rows = MonitoredNumber.objects.filter(
        Q(status=Verdict.SPAM) | Q(resting_since__isnull=False) | Q(at_risk=True)
    ).values_list("owned_number_id", "status", "at_risk", "resting_since")
    for owned_id, verdict, at_risk, resting_since in rows:
        if owned_id not in wanted:
            continue
        if verdict == Verdict.SPAM:
            excluded[owned_id] = "flagged SPAM"
        elif resting_since is not None:
            excluded[owned_id] = "resting until clean for 3 days"
        elif at_risk:
            excluded[owned_id] = "at risk of being flagged"
    return excluded
