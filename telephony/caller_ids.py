"""Choosing the caller ID of an outbound call (docs/dialing.md, "Caller ID").

For each call: an owned number in the lead's area code, else in the lead's state, else
the campaign's default; only active numbers (never held or released ones) that no
registered filter excludes (the reputation add-on registers one while it is on: SAFE
only, not resting, not at risk); among them the least used today, under
``CALLER_ID_DAILY_CALL_LIMIT``. The choice says why.

Today's use of each number is a counter row (``CallerIdUsage``), started from the calls
the number already placed today; a call takes its slot with one conditional update of
that row (``caller_id_take``), so two calls racing for a number's last slot cannot both
have it: the second waits for the first's row lock, then finds the limit reached and
takes the next number.

Upper apps never teach telephony about themselves: they register a filter here
(``register_caller_id_filter``) from their ``AppConfig.ready()``.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F

from telephony.data import area_code, area_code_state
from telephony.models import Call, CallerIdUsage, Direction, OwnedNumber
from telephony.selectors import team_day_start, team_today

# Given the candidate numbers, answers {owned number id: why it may not be used now}.
CallerIdFilter = Callable[[list[OwnedNumber]], dict[int, str]]
_filters: dict[str, CallerIdFilter] = {}


def register_caller_id_filter(key: str, check: CallerIdFilter) -> None:
    _filters[key] = check


class NoCallerId(Exception):
    """No owned number may dial this lead now; the message says why."""


@dataclass(frozen=True)
class CallerIdChoice:
    number: OwnedNumber
    e164: str
    reason: str
    calls_today: int


def state_of(e164: str) -> str | None:
    npa = area_code(e164)
    return area_code_state(npa) if npa else None


def _facts(number: OwnedNumber) -> tuple[str, str | None, str | None]:
    """The number in E.164, its area code and its state, kept on the instance: working
    them out was most of the cost of choosing among a thousand numbers."""
    value = number.number
    cached = number.__dict__.get("_caller_id_facts")
    if cached is not None and cached[0] is value:
        return cached[1]
    e164 = value.as_e164 if hasattr(value, "as_e164") else str(value)
    facts = (e164, area_code(e164), state_of(e164))
    number.__dict__["_caller_id_facts"] = (value, facts)
    return facts


def e164_of(number: OwnedNumber) -> str:
    return _facts(number)[0]


def day_start(now: datetime | None = None) -> datetime:
    """The start of the team's day (Telephony settings' zone): the daily limit counts from here."""
    return team_day_start(now)


# Above this many numbers, today's rows are read whole and matched in Python: a thousand
# bound parameters cost more to send than the rows they would leave out.
_FEW = 100


def calls_today(e164s: Iterable[str], *, now: datetime | None = None) -> dict[str, int]:
    """Outbound calls placed from each of these numbers since the team's day began."""
    wanted = set(e164s)
    if not wanted:
        return {}
    rows = Call.objects.filter(direction=Direction.OUTBOUND, started_at__gte=day_start(now))
    if len(wanted) <= _FEW:
        rows = rows.filter(from_number__in=sorted(wanted))
    counted = rows.order_by().values_list("from_number").annotate(n=Count("id"))
    return {number: n for number, n in counted if number in wanted}


def usage_today(numbers: list[OwnedNumber], *, now: datetime | None = None) -> dict[int, int]:
    """Calls each number placed today: its counter when it has one, else its calls."""
    ids = {n.id for n in numbers}
    rows = CallerIdUsage.objects.filter(day=team_today(now))
    if len(ids) <= _FEW:
        rows = rows.filter(owned_number_id__in=sorted(ids))
    usage = {pk: calls for pk, calls in rows.values_list("owned_number_id", "calls") if pk in ids}
    missing = {n.id: e164_of(n) for n in numbers if n.id not in usage}
    if missing:
        counts = calls_today(missing.values(), now=now)
        usage.update({pk: counts.get(e164, 0) for pk, e164 in missing.items()})
    return usage


def usage_start(numbers: list[OwnedNumber], *, now: datetime | None = None) -> None:
    """Today's counter rows for these numbers, each started from the calls it already
    placed today (one insert; rows another call created meanwhile are kept)."""
    today = team_today(now)
    have = set(
        CallerIdUsage.objects.filter(
            day=today, owned_number_id__in=[n.pk for n in numbers]
        ).values_list("owned_number_id", flat=True)
    )
    missing = [n for n in numbers if n.pk not in have]
    if not missing:
        return
    counts = calls_today([e164_of(n) for n in missing], now=now)
    CallerIdUsage.objects.bulk_create(
        [
            CallerIdUsage(owned_number=n, day=today, calls=counts.get(e164_of(n), 0))
            for n in missing
        ],
        ignore_conflicts=True,
    )


def caller_id_claim(choice: "CallerIdChoice", *, now: datetime | None = None) -> bool:
    """Count one call from the chosen number if it is still under the daily limit.

    One conditional update of the number's counter row: a concurrent claim waits for the
    row and then reads the count it left. Call inside the transaction that records the
    call, so a call that is not placed gives its slot back."""
    usage_start([choice.number], now=now)
    claimed = CallerIdUsage.objects.filter(
        owned_number_id=choice.number.pk,
        day=team_today(now),
        calls__lt=int(settings.CALLER_ID_DAILY_CALL_LIMIT),
    ).update(calls=F("calls") + 1)
    return claimed == 1


def caller_id_take(
    *,
    lead_e164: str,
    pool: list[OwnedNumber],
    default: OwnedNumber | None = None,
    now: datetime | None = None,
) -> "CallerIdChoice":
    """Choose the caller ID and claim its slot; a number that reached its limit meanwhile
    (another call took its last slot) is passed by for the next choice. Raises
    NoCallerId."""
    pool = list(pool)
    while True:
        choice = caller_id_choose(lead_e164=lead_e164, pool=pool, default=default, now=now)
        if caller_id_claim(choice, now=now):
            return choice
        pool = [n for n in pool if n.pk != choice.number.pk]
        if default is not None and default.pk == choice.number.pk:
            default = None


def caller_id_choose(
    *,
    lead_e164: str,
    pool: list[OwnedNumber],
    default: OwnedNumber | None = None,
    now: datetime | None = None,
) -> CallerIdChoice:
    """The caller ID for a call to ``lead_e164`` from ``pool``; raises NoCallerId."""
    limit = int(settings.CALLER_ID_DAILY_CALL_LIMIT)
    candidates = [n for n in pool if n.status == OwnedNumber.Status.ACTIVE]
    if (
        default is not None
        and default.status == OwnedNumber.Status.ACTIVE
        and all(n.id != default.id for n in candidates)
    ):
        candidates.append(default)
    if not candidates:
        raise NoCallerId("No usable caller ID: the campaign has no active number to dial from.")
    excluded: dict[int, str] = {}
    for check in _filters.values():
        for pk, why in check(candidates).items():
            excluded.setdefault(pk, why)
    usage = usage_today(candidates, now=now)
    usable = [n for n in candidates if n.id not in excluded and usage.get(n.id, 0) < limit]
    if not usable:
        reasons = sorted(set(excluded.values())) or [f"each placed {limit} calls today"]
        raise NoCallerId("No usable caller ID: " + "; ".join(reasons) + ".")

    def least_used(numbers: list[OwnedNumber]) -> OwnedNumber:
        return min(numbers, key=lambda n: (usage.get(n.id, 0), n.id))

    npa, state = area_code(lead_e164), state_of(lead_e164)
    local = [n for n in usable if npa and _facts(n)[1] == npa]
    in_state = [n for n in usable if state and _facts(n)[2] == state]
    if local:
        chosen, why = least_used(local), f"Same area code ({npa}) as the lead; least used today"
    elif in_state:
        chosen, why = least_used(in_state), f"Same state ({state}) as the lead; least used today"
    elif default is not None and any(n.id == default.id for n in usable):
        chosen, why = default, "The campaign's default caller ID (none in the lead's area or state)"
    else:
        chosen = least_used(usable)
        why = "None in the lead's area code or state and no usable default; least used today"
    used = usage.get(chosen.id, 0)
    reason = f"{why} ({used} of {limit} calls today)"
    return CallerIdChoice(number=chosen, e164=e164_of(chosen), reason=reason, calls_today=used)
