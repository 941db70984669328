"""Replacing a number: buy a new one, make it active, move monitoring and the slot, then
release the old one (``docs/reputation.md``, "Auto-replacement").

A :class:`NumberReplacement` row carries the work from step to step, each step its own
commit, so a replacement interrupted halfway is finished or undone by the next run:
bought but not active -> activated (or the bought number released when the old one is
gone); active but the old one not released -> released. At no point is a number left
without an active successor, nor does a number get two.
"""

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_try_lock
from crm.providers import get_provider
from reputation.area_codes import area_code, same_state_area_codes, state_of
from reputation.errors import ReputationRefused
from reputation.models import MonitoredNumber, NumberReplacement, SlotClaim, Verdict
from telephony.models import OwnedNumber
from telephony.providers.inventory import BoughtNumber, NumberUnavailable

logger = logging.getLogger(__name__)

State = NumberReplacement.State
UNFINISHED = (State.STARTED, State.BOUGHT, State.ACTIVATED)
# A sandbox or a race can hand us a number we already own: try again this many times.
BUY_ATTEMPTS = 3


def replacements_run(*, today: date | None = None) -> list[NumberReplacement]:
    """Finish interrupted replacements, then replace every SPAM number not replaced today
    (only when auto-replacement is on; the caller checks the setting)."""
    done = [
        replacement_resume(replacement=r)
        for r in NumberReplacement.objects.filter(state__in=UNFINISHED)
    ]
    today = today or timezone.localdate()
    replaced_today = NumberReplacement.objects.filter(day=today).exclude(state=State.FAILED)
    spam = (
        MonitoredNumber.objects.filter(
            status=Verdict.SPAM, owned_number__status=OwnedNumber.Status.ACTIVE
        )
        .exclude(owned_number__number__in=replaced_today.values("old_number"))
        .select_related("owned_number")
    )
    for monitored in spam:
        try:
            done.append(number_replace(owned_number=monitored.owned_number, by=None, today=today))
        except ReputationRefused as exc:
            logger.info("replacement of %s skipped: %s", monitored.owned_number.number, exc)
    return done


def _verdict(owned_number: OwnedNumber) -> dict:
    monitored = MonitoredNumber.objects.filter(owned_number=owned_number).first()
    if monitored is None:
        return {}
    return {
        "status": monitored.status,
        "flagged_sources": monitored.flagged_sources,
        "sources": monitored.sources,
        "checked_at": monitored.checked_at.isoformat() if monitored.checked_at else None,
        "results": monitored.results,
    }


def number_replace(
    *, owned_number: OwnedNumber, by: Actor, today: date | None = None
) -> NumberReplacement:
    """Replace ``owned_number`` now (automatically when ``by`` is None, else by hand).

    Raises :class:`ReputationRefused` when it is not active, was replaced today already,
    or another worker is replacing it.
    """
    if owned_number.status != OwnedNumber.Status.ACTIVE:
        raise ReputationRefused(f"{owned_number.number} is released: nothing to replace.")
    today = today or timezone.localdate()
    with advisory_try_lock(LockNamespace.NUMBER_REPLACEMENT, owned_number.pk) as mine:
        if not mine:
            raise ReputationRefused(f"{owned_number.number} is being replaced right now.")
        try:
            with transaction.atomic():
                replacement = NumberReplacement.objects.create(
                    day=today,
                    old=owned_number,
                    old_number=str(owned_number.number),
                    automatic=by is None,
                    by=acting_user(by),
                    verdict=_verdict(owned_number),
                )
        except IntegrityError as exc:
            raise ReputationRefused(
                f"{owned_number.number} was already replaced today: at most once a day."
            ) from exc
        _buy(replacement)
        if replacement.state == State.BOUGHT:
            _activate_or_undo(replacement)
        if replacement.state == State.ACTIVATED:
            _release_old(replacement)
    return replacement


def _candidates(e164: str) -> tuple[list[str | None], str]:
    npa = area_code(e164)
    if npa is None:
        return [], "it is not a North American number"
    state = state_of(npa)
    where = f"area code {npa}" + (f" or elsewhere in {state}" if state else "")
    return [npa, *same_state_area_codes(npa)], where


def _buy(replacement: NumberReplacement) -> None:
    """Buy the successor (same area code, else same state) and record it at once: money."""
    provider = get_provider("NUMBER_INVENTORY_PROVIDER")
    candidates, where = _candidates(replacement.old_number)
    bought: BoughtNumber | None = None
    try:
        for npa in candidates:
            for _ in range(BUY_ATTEMPTS):
                try:
                    offer = provider.buy(npa)
                except NumberUnavailable:
                    break
                if OwnedNumber.objects.filter(
                    number=offer.number, status=OwnedNumber.Status.ACTIVE
                ).exists():
                    provider.release(offer.provider_id)
                    continue
                bought = offer
                break
            if bought:
                break
    except Exception as exc:  # a failed call: nothing bought is recorded, retried later
        logger.warning("buying a replacement for %s failed: %s", replacement.old_number, exc)
        _set(replacement, State.FAILED, reason=f"The number provider failed: {exc}"[:300])
        return
    if bought is None:
        # Nothing is bought; the Administrator sees this on the Phone numbers page.
        logger.warning("no replacement number for %s in %s", replacement.old_number, where)
        _set(
            replacement,
            State.REFUSED,
            reason=f"No number available in {where}: nothing was bought."[:300],
        )
        return
    replacement.new_number, replacement.new_provider_id = bought.number, bought.provider_id
    _set(replacement, State.BOUGHT)


def _set(replacement: NumberReplacement, state: str, *, reason: str = "") -> None:
    replacement.state = state
    if reason:
        replacement.reason = reason
    replacement.save()


def _activate_or_undo(replacement: NumberReplacement) -> None:
    if not _activate(replacement):
        _undo(replacement.pk)
        replacement.refresh_from_db()


@transaction.atomic
def _activate(replacement: NumberReplacement) -> bool:
    """The new number becomes active and takes over monitoring and the slot; campaigns
    dialling from the old one resolve to it through ``replaced_by``."""
    old = (
        OwnedNumber.objects.select_for_update().filter(pk=replacement.old_id).first()
        if replacement.old_id
        else None
    )
    if old is None or old.status != OwnedNumber.Status.ACTIVE or old.replaced_by_id:
        return False  # the caller gives the bought number back, outside this transaction
    new = OwnedNumber.objects.create(
        number=replacement.new_number,
        label=old.label,
        provider_id=replacement.new_provider_id,
        status=OwnedNumber.Status.ACTIVE,
    )
    old.replaced_by = new
    old.save(update_fields=["replaced_by"])
    MonitoredNumber.objects.filter(owned_number=old).update(
        owned_number=new,
        status=Verdict.PENDING,
        results=[],
        flagged_sources=0,
        sources=0,
        checked_at=None,
        flagged_at=None,
        daily_checked_on=None,
        at_risk=False,
    )
    # The slot passes to the replacement: the old number's claim becomes the new one's.
    SlotClaim.objects.filter(number=replacement.old_number, owned_number=old).update(
        number=replacement.new_number, owned_number=new, passed_from=replacement.old_number
    )
    replacement.new = new
    replacement.state = State.ACTIVATED
    replacement.save()
    return True


def _undo(replacement_id: int) -> None:
    """The old number is gone (released or replaced meanwhile): give back what we bought."""
    replacement = NumberReplacement.objects.get(pk=replacement_id)
    try:
        get_provider("NUMBER_INVENTORY_PROVIDER").release(replacement.new_provider_id)
    except Exception as exc:  # still ours at the provider: the next run tries again
        logger.warning("releasing bought %s failed: %s", replacement.new_number, exc)
        return
    _set(replacement, State.UNDONE, reason="The old number was no longer active: undone.")


def _release_old(replacement: NumberReplacement) -> None:
    old = OwnedNumber.objects.filter(pk=replacement.old_id).first() if replacement.old_id else None
    if old is not None and old.status == OwnedNumber.Status.ACTIVE:
        if old.provider_id:
            try:
                get_provider("NUMBER_INVENTORY_PROVIDER").release(old.provider_id)
            except Exception as exc:  # it stays active (replaced_by set); retried next run
                logger.warning("releasing replaced %s failed: %s", old.number, exc)
                return
        with transaction.atomic():
            OwnedNumber.objects.filter(pk=old.pk, status=OwnedNumber.Status.ACTIVE).update(
                status=OwnedNumber.Status.RELEASED, released_at=timezone.now()
            )
            _set(replacement, State.DONE)
    else:
        _set(replacement, State.DONE)


def replacement_resume(*, replacement: NumberReplacement) -> NumberReplacement:
    """Finish or undo a replacement an earlier run left halfway."""
    lock_key = replacement.old_id or 0
    with advisory_try_lock(LockNamespace.NUMBER_REPLACEMENT, lock_key) as mine:
        if not mine:
            return replacement
        replacement.refresh_from_db()
        if replacement.state == State.STARTED:
            # Stopped before a purchase was recorded: nothing of ours to finish or undo.
            _set(replacement, State.FAILED, reason="Interrupted before a number was bought.")
        elif replacement.state == State.BOUGHT:
            _activate_or_undo(replacement)
        if replacement.state == State.ACTIVATED:
            _release_old(replacement)
    return replacement
