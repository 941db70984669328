"""Replacing a number: buy a new one, make it active, move monitoring and the slot, then
release the old one (``docs/reputation.md``, "Auto-replacement").

A :class:`NumberReplacement` row carries the work from step to step, each step its own
commit, so a replacement interrupted halfway is finished or undone by the next run:
started (a purchase whose answer never came) -> looked up at the vendor by its request key;
bought but not active -> activated (or the bought number released when the old one is
gone); active but the old one not released -> released. At no point is a number left
without an active successor, nor does a number get two.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_try_lock
from crm.providers import get_provider
from reputation import checks
from reputation.errors import ReputationRefused
from reputation.models import (
    MonitoredNumber,
    NumberReplacement,
    ReplacementArea,
    ReputationSettings,
    SlotClaim,
    Verdict,
)
from telephony.data import area_code, area_code_state, same_state_area_codes
from telephony.models import OwnedNumber
from telephony.providers.inventory import (
    AvailabilityInventory,
    BoughtNumber,
    NumberInventoryProvider,
    NumberUnavailable,
    ReconcilingInventory,
    takes_request_key,
)
from telephony.selectors import team_today

logger = logging.getLogger(__name__)

State = NumberReplacement.State
UNFINISHED = (State.STARTED, State.BOUGHT, State.ACTIVATED)
# A sandbox or a race can hand us a number we already own: try again this many times.
BUY_ATTEMPTS = 3


def replacements_run(*, today: date | None = None) -> list[NumberReplacement]:
    """Finish interrupted replacements, then replace every number a check that succeeded
    today found SPAM and that was not replaced today (only when auto-replacement is on;
    the caller checks the setting). One replacement's failure never stops the others."""
    today = today or team_today()
    done = []
    for unfinished in NumberReplacement.objects.filter(state__in=UNFINISHED):
        try:
            done.append(replacement_resume(replacement=unfinished))
        except Exception:
            logger.exception("resuming replacement %s failed", unfinished.pk)
    for monitored in _to_replace(today=today):
        try:
            done.append(number_replace(owned_number=monitored.owned_number, by=None, today=today))
        except ReputationRefused as exc:
            logger.info("replacement of %s skipped: %s", monitored.owned_number.number, exc)
        except Exception:
            logger.exception("replacing %s failed", monitored.owned_number.number)
    return done


def _to_replace(*, today: date) -> QuerySet[MonitoredNumber]:
    """SPAM from a check that succeeded today; numbers replaced today, or bought today by a
    replacement (a purchase loop on a bad pool), are left for tomorrow."""
    today_rows = NumberReplacement.objects.filter(day=today)
    return (
        checks.spam_checked_today(today=today)
        .exclude(
            owned_number__number__in=today_rows.exclude(state=State.FAILED).values("old_number")
        )
        .exclude(owned_number_id__in=today_rows.filter(new__isnull=False).values("new_id"))
        .select_related("owned_number")
    )


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

    An unfinished replacement of it is finished instead (a purchase whose answer was lost
    is looked up first). Raises :class:`ReputationRefused` when it is not active, was
    replaced today already, or another worker is replacing it.
    """
    if owned_number.status != OwnedNumber.Status.ACTIVE:
        raise ReputationRefused(f"{owned_number.number} is released: nothing to replace.")
    today = today or team_today()
    with advisory_try_lock(LockNamespace.NUMBER_REPLACEMENT, owned_number.pk) as mine:
        if not mine:
            raise ReputationRefused(f"{owned_number.number} is being replaced right now.")
        unfinished = NumberReplacement.objects.filter(old=owned_number, state__in=UNFINISHED)
        if (replacement := unfinished.first()) is not None:
            _advance(replacement, reconcile=True)
            return replacement
        try:
            with transaction.atomic():
                replacement = NumberReplacement.objects.create(
                    day=today,
                    old=owned_number,
                    old_number=str(owned_number.number),
                    automatic=by is None,
                    by=acting_user(by),
                    verdict=_verdict(owned_number),
                    request_key=uuid.uuid4().hex,
                )
        except IntegrityError as exc:
            raise ReputationRefused(
                f"{owned_number.number} was already replaced today: at most once a day."
            ) from exc
        _buy(replacement)
        _advance(replacement, reconcile=False)
    return replacement


def _advance(replacement: NumberReplacement, *, reconcile: bool) -> None:
    if replacement.state == State.STARTED and reconcile:
        _reconcile(replacement)
    if replacement.state == State.BOUGHT:
        _activate_or_undo(replacement)
    if replacement.state == State.ACTIVATED:
        _release_old(replacement)


# --- Where the new number may come from -----------------------------------------------------


@dataclass(frozen=True)
class Area:
    """The area codes to ask for, in order (None: anywhere), and the allowed area in words."""

    npa: str | None
    candidates: list[str | None]
    where: str
    anywhere: bool

    def allows(self, e164: str) -> bool:
        return self.anywhere or area_code(e164) in self.candidates

    def placement(self, e164: str) -> str:
        npa = area_code(e164)
        if npa == self.npa:
            return f"area code {npa}, as the old number"
        state = area_code_state(npa) if npa else None
        if npa and state and state == area_code_state(self.npa or ""):
            return f"area code {npa}, elsewhere in {state}: none left in {self.npa}"
        return f"{e164}, outside {self.where}: none left there (allowed: anywhere)"


def _area(e164: str, allowed: str) -> Area:
    npa = area_code(e164)
    anywhere = allowed == ReplacementArea.ANY
    if npa is None:
        return Area(None, [None] if anywhere else [], "North America", anywhere)
    state = area_code_state(npa) if allowed != ReplacementArea.AREA_CODE else None
    others = same_state_area_codes(npa) if state else []
    where = f"area code {npa}" + (f" or elsewhere in {state}" if state else "")
    return Area(npa, [npa, *others, *([None] if anywhere else [])], where, anywhere)


# --- Buying ----------------------------------------------------------------------------------


def _read_offer(offer: Any) -> BoughtNumber | None:
    """What ``buy`` answered, as the contract promises it (an object, or a mapping)."""

    def get(name: str) -> Any:
        return offer.get(name) if isinstance(offer, dict) else getattr(offer, name, None)

    number, provider_id = get("number"), get("provider_id")
    if not isinstance(provider_id, str) or not provider_id or len(provider_id) > 64:
        return None
    if not isinstance(number, str) or not number.startswith("+") or not number[1:].isdigit():
        return None
    cost = get("cost") if get("cost") is not None else get("price")
    return BoughtNumber(number=number[:16], provider_id=provider_id, cost=cost)


def _purchase(provider: NumberInventoryProvider, npa: str | None, key: str) -> Any:
    if takes_request_key(provider):
        return provider.buy(npa, request_key=key)  # type: ignore[call-arg]
    return provider.buy(npa)


def _offered(provider: NumberInventoryProvider, area: Area) -> list[str | None]:
    """The candidates to buy in: those ``available`` lists numbers for, when it can say."""
    if not isinstance(provider, AvailabilityInventory):
        return area.candidates
    offered = []
    for npa in area.candidates:
        try:
            numbers = provider.available(npa)
        except NumberUnavailable:
            continue
        except Exception as exc:  # it cannot say: ask to buy there as without it
            logger.warning("asking the inventory for numbers in %s failed: %s", npa, exc)
            offered.append(npa)
            continue
        if any(isinstance(n, str) and area.allows(n) for n in numbers or []):
            offered.append(npa)
    return offered


def _buy(replacement: NumberReplacement) -> None:
    """Buy the successor where the Administrator allows it, and record it at once: money."""
    provider: NumberInventoryProvider = get_provider("NUMBER_INVENTORY_PROVIDER")
    config = ReputationSettings.load()
    area = _area(replacement.old_number, config.replacement_area)
    for npa in _offered(provider, area):
        for _ in range(BUY_ATTEMPTS):
            try:
                offer = _purchase(provider, npa, replacement.request_key)
            except NumberUnavailable:
                break
            except Exception as exc:  # the vendor may still have sold it: look it up
                logger.warning(
                    "buying a replacement for %s failed: %s", replacement.old_number, exc
                )
                _lost_answer(provider, replacement, exc)
                return
            bought = _read_offer(offer)
            if bought is None:
                _set(
                    replacement,
                    State.FAILED,
                    reason=f"The number provider answered {offer!r}"[:300],
                )
                return
            if OwnedNumber.objects.filter(
                number=bought.number, status=OwnedNumber.Status.ACTIVE
            ).exists():
                provider.release(bought.provider_id)
                continue
            if not area.allows(bought.number):
                _release_outside(provider, replacement, bought, area, asked=npa)
                return
            _bought(replacement, bought, area)
            return
    # Nothing is bought; the Administrator sees this on the Phone numbers page.
    logger.warning("no replacement number for %s in %s", replacement.old_number, area.where)
    _set(
        replacement,
        State.REFUSED,
        reason=f"No number available in {area.where}: nothing was bought."[:300],
    )


def _bought(replacement: NumberReplacement, bought: BoughtNumber, area: Area) -> None:
    replacement.new_number, replacement.new_provider_id = bought.number, bought.provider_id
    replacement.placement = area.placement(bought.number)[:200]
    _set(replacement, State.BOUGHT)


def _release_outside(
    provider: NumberInventoryProvider,
    replacement: NumberReplacement,
    bought: BoughtNumber,
    area: Area,
    *,
    asked: str | None,
) -> None:
    """Sold a number outside the allowed area: record it with its cost, give it back at
    once, and wait (the next day's check tries again)."""
    entry = {
        "number": bought.number,
        "provider_id": bought.provider_id,
        "cost": None if bought.cost is None else str(bought.cost),
        "asked_for": asked,
        "released": False,
    }
    replacement.released_unused = [*replacement.released_unused, entry]
    replacement.save(update_fields=["released_unused", "updated_at"])
    try:
        provider.release(bought.provider_id)
        entry["released"] = True
    except Exception as exc:
        logger.warning("releasing %s (outside %s) failed: %s", bought.number, area.where, exc)
    replacement.released_unused = [*replacement.released_unused[:-1], entry]
    what = "released at once" if entry["released"] else "to be released (the release failed)"
    _set(
        replacement,
        State.WAITING,
        reason=(
            f"The inventory sold {bought.number} when asked for "
            f"{'area code ' + asked if asked else 'any number'}: outside {area.where}, "
            f"{what}. Waiting for a number in {area.where}."
        )[:300],
    )


def _lost_answer(
    provider: NumberInventoryProvider, replacement: NumberReplacement, exc: Exception
) -> None:
    """The purchase call failed: it may have completed. Where the vendor can be asked by
    the request key, ask now and again before any new purchase; elsewhere it failed."""
    if isinstance(provider, ReconcilingInventory) and _reconcile(replacement, final=False):
        return
    if isinstance(provider, ReconcilingInventory):
        _set(
            replacement,
            State.STARTED,
            reason=f"The purchase's answer was lost ({exc}); looked up before buying again."[:300],
        )
        return
    _set(replacement, State.FAILED, reason=f"The number provider failed: {exc}"[:300])


def _reconcile(replacement: NumberReplacement, *, final: bool = True) -> bool:
    """Find a started purchase at the vendor by its request key: bought, or failed (nothing
    bought, so the next run may buy). True when it was found."""
    provider = get_provider("NUMBER_INVENTORY_PROVIDER")
    if not isinstance(provider, ReconcilingInventory) or not replacement.request_key:
        _set(
            replacement,
            State.FAILED,
            reason="Interrupted during the purchase: if a number was bought, it shows in the "
            "provider's console.",
        )
        return False
    try:
        found = _read_offer(provider.purchased(replacement.request_key))
    except Exception as exc:  # still unknown: stays started, asked again next run
        logger.warning("looking up purchase %s failed: %s", replacement.request_key, exc)
        return False
    if found is None:
        if final:
            _set(
                replacement, State.FAILED, reason="The vendor has no such purchase: nothing bought."
            )
        return False
    config = ReputationSettings.load()
    _bought(replacement, found, _area(replacement.old_number, config.replacement_area))
    return True


def _set(replacement: NumberReplacement, state: str, *, reason: str = "") -> None:
    replacement.state = state
    if reason:
        replacement.reason = reason
    replacement.save()


# --- Taking over, then letting the old number go ----------------------------------------------


def _activate_or_undo(replacement: NumberReplacement) -> None:
    try:
        activated = _activate(replacement)
        reason = "The old number was no longer active: undone."
    except IntegrityError as exc:  # e.g. the number is ours already: give it back
        logger.warning("activating %s failed: %s", replacement.new_number, exc)
        activated, reason = False, f"The new number could not take over: {exc}"[:300]
    if not activated:
        _undo(replacement.pk, reason=reason)
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
    # The day's check of this slot is done (the old number's): the new number is
    # pre-screened, and checked daily from tomorrow, not billed twice today.
    MonitoredNumber.objects.filter(owned_number=old).update(
        owned_number=new,
        status=Verdict.PENDING,
        results=[],
        flagged_sources=0,
        sources=0,
        checked_at=None,
        flagged_at=None,
        at_risk=False,
    )
    _pass_slots(replacement, old, new)
    replacement.new = new
    replacement.state = State.ACTIVATED
    replacement.save()
    return True


def _pass_slots(replacement: NumberReplacement, old: OwnedNumber, new: OwnedNumber) -> None:
    """The slot passes to the replacement: the old number's claim becomes the new one's. A
    number bought back in a cycle it already held a slot in takes that slot again (the old
    number's claim then stays the old number's, used until the cycle ends)."""
    for claim in SlotClaim.objects.filter(number=replacement.old_number, owned_number=old):
        own = SlotClaim.objects.filter(cycle_start=claim.cycle_start, number=new.number)
        if own.update(owned_number=new):
            continue
        SlotClaim.objects.filter(pk=claim.pk).update(
            number=replacement.new_number, owned_number=new, passed_from=replacement.old_number
        )


def _undo(replacement_id: int, *, reason: str) -> None:
    """The old number is gone (or the new one cannot take over): give back what we bought."""
    replacement = NumberReplacement.objects.get(pk=replacement_id)
    try:
        get_provider("NUMBER_INVENTORY_PROVIDER").release(replacement.new_provider_id)
    except Exception as exc:  # still ours at the provider: the next run tries again
        logger.warning("releasing bought %s failed: %s", replacement.new_number, exc)
        return
    _set(replacement, State.UNDONE, reason=reason)


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
    # The new number's first verdict (a failure leaves it pending: services retries it).
    pending = MonitoredNumber.objects.filter(
        owned_number_id=replacement.new_id, status=Verdict.PENDING
    ).values_list("pk", flat=True)
    if ids := list(pending):
        checks.numbers_prescreen(monitored_ids=ids)


def replacement_resume(*, replacement: NumberReplacement) -> NumberReplacement:
    """Finish or undo a replacement an earlier run left halfway."""
    lock_key = replacement.old_id or 0
    with advisory_try_lock(LockNamespace.NUMBER_REPLACEMENT, lock_key) as mine:
        if not mine:
            return replacement
        replacement.refresh_from_db()
        _advance(replacement, reconcile=True)
    return replacement
