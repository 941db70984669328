"""The add-on's writes that are not a check or a replacement, and what ties them together.

The rules (``docs/reputation.md``): monitoring claims a slot for the billing cycle and starts
with a pre-screening check (``reputation/checks.py``); after every check one rule,
:func:`after_check`, decides whether numbers are replaced (``reputation/replacements.py``).
Each task runs one service of this module.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import CharField, Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_xact_lock
from reputation import checks, replacements, resting
from reputation.checks import CheckCounts
from reputation.errors import ReputationRefused
from reputation.models import (
    NUMBERS_PER_BLOCK,
    CheckKind,
    DailyCheckRun,
    MonitoredNumber,
    NumberReplacement,
    ReputationSettings,
    SlotClaim,
    Verdict,
    billing_cycle,
)
from reputation.selectors import slots_used
from telephony.models import Call, Direction, OwnedNumber
from telephony.selectors import team_today

# Importable from here as before errors.py and checks.py existed.
__all__ = ["CheckCounts", "ReputationRefused"]

# Early warning: the recent window against the one before it, and the fewest calls in each
# for a rate to mean anything.
RECENT_DAYS = 3
BEFORE_DAYS = 14
MIN_RECENT_CALLS = 5
MIN_BEFORE_CALLS = 10


def current_cycle(config: ReputationSettings, today: date | None = None) -> tuple[date, date]:
    today = today or team_today()
    return billing_cycle(config.cycle_anchor or today, today)


def blocks_refusal(*, blocks: int, config: ReputationSettings | None = None) -> str | None:
    """Why ``blocks`` cannot be saved, with the figures: fewer slots than this cycle uses
    (a slot stays used until the cycle ends, ``docs/reputation.md``)."""
    config = config or ReputationSettings.load()
    start, end = current_cycle(config)
    used = slots_used(cycle_start=start)
    if blocks * NUMBERS_PER_BLOCK >= used:
        return None
    least = -(-used // NUMBERS_PER_BLOCK)
    return (
        f"{used} monitoring slots are in use this cycle (until {end:%b} {end.day}); "
        f"{blocks} block{'s' * (blocks != 1)} hold {blocks * NUMBERS_PER_BLOCK}. Keep at least "
        f"{least} block{'s' * (least != 1)} ({least * NUMBERS_PER_BLOCK} numbers) this cycle."
    )


@transaction.atomic
def reputation_settings_save(*, config: ReputationSettings) -> ReputationSettings:
    """Save the Add-on page; switching the add-on on the first time starts the billing.

    Refuses blocks below the slots in use. Switching auto-replacement on replaces, at once,
    what a check that succeeded today found SPAM (the page showed which, and asked).
    """
    if config.addon_enabled and config.cycle_anchor is None:
        config.cycle_anchor = team_today()
    advisory_xact_lock(LockNamespace.REPUTATION_SLOTS, 0)
    if refusal := blocks_refusal(blocks=config.blocks, config=config):
        raise ReputationRefused(refusal)
    was = ReputationSettings.objects.filter(pk=config.pk).values_list("auto_replace", flat=True)
    switched_on = config.auto_replace and not any(was)
    config.save()
    if switched_on and config.addon_enabled:
        from reputation import tasks

        transaction.on_commit(tasks.auto_replace_now.delay)
    return config


# --- Slots and monitoring ----------------------------------------------------------------


def _claimed_numbers(cycle_start: date, numbers: list[str]) -> set[str]:
    return set(
        SlotClaim.objects.filter(cycle_start=cycle_start, number__in=numbers).values_list(
            "number", flat=True
        )
    )


@transaction.atomic
def slots_rollover(*, today: date | None = None) -> int:
    """Claim this cycle's slots for every monitored number (a new cycle frees the rest)."""
    config = ReputationSettings.load()
    start, _ = current_cycle(config, today)
    advisory_xact_lock(LockNamespace.REPUTATION_SLOTS, 0)
    missing = MonitoredNumber.objects.exclude(
        Exists(SlotClaim.objects.filter(cycle_start=start, number=OuterRef("owned_number__number")))
    ).values_list("owned_number_id", "owned_number__number")
    claims = [SlotClaim(cycle_start=start, number=n, owned_number_id=pk) for pk, n in missing]
    SlotClaim.objects.bulk_create(claims, ignore_conflicts=True)
    return len(claims)


@dataclass
class MonitorOutcome:
    monitored: list[MonitoredNumber] = field(default_factory=list)
    already: int = 0


@transaction.atomic
def _monitor_claim(*, owned_number_ids: list[int], by: Actor) -> MonitorOutcome:
    config = ReputationSettings.load()
    if not config.addon_enabled:
        raise ReputationRefused(
            "Advanced Phone Reputation is off: switch it on on the Add-on page first."
        )
    start, end = current_cycle(config)
    # One claim decision at a time, so two admins cannot both take the last slot.
    advisory_xact_lock(LockNamespace.REPUTATION_SLOTS, 0)
    numbers = list(OwnedNumber.objects.filter(pk__in=owned_number_ids).order_by("number"))
    released = [str(n.number) for n in numbers if n.status != OwnedNumber.Status.ACTIVE]
    if released:
        raise ReputationRefused(f"Released numbers cannot be monitored: {', '.join(released)}.")
    already = set(
        MonitoredNumber.objects.filter(owned_number__in=numbers).values_list(
            "owned_number_id", flat=True
        )
    )
    wanted = [n for n in numbers if n.pk not in already]
    claimed = _claimed_numbers(start, [str(n.number) for n in wanted])
    needed = sum(1 for n in wanted if str(n.number) not in claimed)
    free = config.capacity - slots_used(cycle_start=start)
    if needed > free:
        raise ReputationRefused(
            f"No free monitoring slot: {needed} needed, {max(free, 0)} free of "
            f"{config.capacity} this cycle (until {end:%b} {end.day}). Buy another block "
            "of 15 on the Add-on page, or replace a number instead of adding one."
        )
    user = acting_user(by)
    SlotClaim.objects.bulk_create(
        [
            SlotClaim(cycle_start=start, number=str(n.number), owned_number=n, claimed_by=user)
            for n in wanted
            if str(n.number) not in claimed
        ]
    )
    # A number monitored, stopped and monitored again this cycle keeps its one claim.
    for n in wanted:
        if str(n.number) in claimed:
            SlotClaim.objects.filter(cycle_start=start, number=str(n.number)).update(owned_number=n)
    monitored = MonitoredNumber.objects.bulk_create(
        [MonitoredNumber(owned_number=n, monitored_by=user) for n in wanted]
    )
    return MonitorOutcome(monitored=monitored, already=len(already))


def numbers_monitor(*, owned_number_ids: list[int], by: Actor) -> MonitorOutcome:
    """Start monitoring these numbers (all or none: a slot each), then pre-screen them.

    Raises :class:`ReputationRefused` when the add-on is off or too few slots are free.
    """
    outcome = _monitor_claim(owned_number_ids=owned_number_ids, by=by)
    if outcome.monitored:
        numbers_prescreen(monitored_ids=[m.pk for m in outcome.monitored])
        fresh = {
            m.pk: m
            for m in MonitoredNumber.objects.filter(pk__in=[m.pk for m in outcome.monitored])
        }
        outcome.monitored = [fresh.get(m.pk, m) for m in outcome.monitored]
    return outcome


@transaction.atomic
def numbers_unmonitor(*, owned_number_ids: list[int], by: Actor) -> int:
    """Stop monitoring. The slot stays used until the cycle ends (its claim remains)."""
    deleted, _ = MonitoredNumber.objects.filter(owned_number_id__in=owned_number_ids).delete()
    return deleted


# --- Checks, and the rule that follows them ---------------------------------------------


def numbers_prescreen(*, monitored_ids: list[int]) -> CheckCounts:
    """Pre-screen these numbers (monitoring starts, or a retry task), then :func:`after_check`.

    Numbers the provider could not check stay pending and are tried again by a task.
    """
    counts = checks.numbers_prescreen(monitored_ids=monitored_ids)
    if counts.failed:
        _prescreen_retry_later(monitored_ids)
    after_check(counts=counts)
    return counts


def _prescreen_retry_later(monitored_ids: list[int]) -> None:
    still = list(
        MonitoredNumber.objects.filter(pk__in=monitored_ids, status=Verdict.PENDING).values_list(
            "pk", flat=True
        )
    )
    if still:
        from reputation import tasks

        transaction.on_commit(lambda: tasks.numbers_prescreen.apply_async((still,), countdown=300))


def daily_check_run(*, force: bool = False, today: date | None = None) -> DailyCheckRun | None:
    """The day's check (``checks.daily_check``), the early warning, then :func:`after_check`.

    Returns the run, or None when the add-on is off or another worker is running it.
    """
    config = ReputationSettings.load()
    if not config.addon_enabled:
        return None
    today = today or team_today()

    def upkeep() -> None:
        # Neither reads a verdict, so both run while the first requests are out: before
        # the check they delayed its first request, after it its end (bench/reputation.py).
        slots_rollover(today=today)
        monitored_risk_refresh()

    done = checks.daily_check(today=today, force=force, meanwhile=upkeep)
    if done is None:
        return None
    if done.counts is not None:
        resting.resting_refresh()
    after_check(counts=done.counts, today=today)
    return done.run


def after_check(
    *, counts: CheckCounts | None, today: date | None = None
) -> list[NumberReplacement]:
    """The one rule for what follows a check: when the Administrator allows it, replace
    what a check that succeeded today found SPAM (``selectors.spam_checked_today``; a
    failed check finds nothing, so an outage replaces nothing)."""
    config = ReputationSettings.load()
    if not (config.addon_enabled and config.auto_replace):
        return []
    if counts is not None and counts.kind == CheckKind.PRESCREEN and not counts.spam:
        return []
    return replacements_run(today=today)


def auto_replace_now() -> list[NumberReplacement]:
    """Auto-replacement was just switched on: the rule that follows a check, applied to the
    checks that succeeded today (the Add-on page listed these numbers and asked)."""
    return after_check(counts=None)


# --- Replacements ---------------------------------------------------------------------------


def replacements_run(*, today: date | None = None) -> list[NumberReplacement]:
    """Finish interrupted replacements and replace SPAM numbers, then pre-screen the new
    numbers (their first verdict, retried by a task when the provider is down)."""
    done = replacements.replacements_run(today=today)
    _prescreen_new(done)
    return done


def number_replace(*, owned_number: OwnedNumber, by: Actor) -> NumberReplacement:
    """Replace one number by hand (row action); raises :class:`ReputationRefused`."""
    done = replacements.number_replace(owned_number=owned_number, by=by)
    _prescreen_new([done])
    return done


def _prescreen_new(done: list[NumberReplacement]) -> None:
    """A replacement pre-screens its new number; one the provider could not check is
    tried again later, like any pre-screen."""
    new_ids = [r.new_id for r in done if r.new_id and r.state == NumberReplacement.State.DONE]
    if new_ids:
        _prescreen_retry_later(
            list(
                MonitoredNumber.objects.filter(owned_number_id__in=new_ids).values_list(
                    "pk", flat=True
                )
            )
        )


# --- Early warning ------------------------------------------------------------------------


def _rate(answered: int, total: int) -> float | None:
    return answered / total if total else None


# More numbers with calls than this and every row is read instead (one parameter a number).
MAX_NUMBERS_IN_A_QUERY = 5000


@transaction.atomic
def monitored_risk_refresh(*, now: datetime | None = None) -> int:
    """Mark monitored numbers at risk: outbound answer rate of the last 3 days below the
    configured fraction of the 14 days before (our own calls, before carriers flag it).

    One grouped query over the calls of the monitored numbers; returns how many are at risk.
    """
    now = now or timezone.now()
    config = ReputationSettings.load()
    recent_from = now - timedelta(days=RECENT_DAYS)
    before_from = recent_from - timedelta(days=BEFORE_DAYS)
    recent = Q(started_at__gte=recent_from)
    before = Q(started_at__lt=recent_from)
    # Answered: completed and connected for more than 0 s (a bridge the lead never picked
    # up completes at 0 s); the dial flow's outbound calls (telephony/outbound.py) count.
    answered = Q(status="completed") & ~Q(duration_seconds=0)
    monitored_numbers = MonitoredNumber.objects.values("owned_number__number")
    stats = {
        row["from_number"]: row
        for row in Call.objects.filter(
            direction=Direction.OUTBOUND,
            from_number__in=Subquery(monitored_numbers),
            started_at__gte=before_from,
            started_at__lt=now,
            status__in=Call.FINAL_STATUSES,
        )
        .values("from_number")
        .annotate(
            recent_total=Count("id", filter=recent),
            recent_answered=Count("id", filter=recent & answered),
            before_total=Count("id", filter=before),
            before_answered=Count("id", filter=before & answered),
        )
    }
    fraction = float(config.at_risk_fraction)
    changed = []
    at_risk = 0
    # A number without calls in the window has no rates and is not at risk: only those with
    # calls, or with a value to clear, are read (at 10k numbers and few calls, reading every
    # row was most of this refresh, which the daily check waits for).
    rows = MonitoredNumber.objects.annotate(e164=Cast("owned_number__number", CharField()))
    if len(stats) <= MAX_NUMBERS_IN_A_QUERY:
        rows = rows.filter(
            Q(at_risk=True)
            | Q(answer_rate_recent__isnull=False)
            | Q(answer_rate_before__isnull=False)
            | Q(e164__in=list(stats))
        )
    for monitored in rows.only("id", "at_risk", "answer_rate_recent", "answer_rate_before"):
        row = stats.get(monitored.e164, {})
        recent_rate = _rate(row.get("recent_answered", 0), row.get("recent_total", 0))
        before_rate = _rate(row.get("before_answered", 0), row.get("before_total", 0))
        risky = bool(
            row.get("recent_total", 0) >= MIN_RECENT_CALLS
            and row.get("before_total", 0) >= MIN_BEFORE_CALLS
            and recent_rate is not None
            and before_rate
            and recent_rate < fraction * before_rate
        )
        at_risk += risky
        values = (risky, recent_rate, before_rate)
        if values != (
            monitored.at_risk,
            monitored.answer_rate_recent,
            monitored.answer_rate_before,
        ):
            monitored.at_risk, monitored.answer_rate_recent, monitored.answer_rate_before = values
            changed.append(monitored)
    MonitoredNumber.objects.bulk_update(
        changed, ["at_risk", "answer_rate_recent", "answer_rate_before"], batch_size=1000
    )
    return at_risk
