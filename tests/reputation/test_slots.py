"""Slots are counted from claims: release, deletion, replacement, cycle rollover."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from reputation import replacements, selectors, services
from reputation.errors import ReputationRefused
from reputation.models import MonitoredNumber, SlotClaim, billing_cycle
from telephony.models import OwnedNumber
from tests.reputation.fakes import ScriptedInventory

pytestmark = pytest.mark.django_db


def used() -> int:
    return selectors.usage().used


def test_billing_cycles_start_on_the_anchor_day_and_short_months_clamp():
    assert billing_cycle(date(2026, 1, 31), date(2026, 2, 27)) == (
        date(2026, 1, 31),
        date(2026, 2, 28),
    )
    assert billing_cycle(date(2026, 1, 31), date(2026, 2, 28)) == (
        date(2026, 2, 28),
        date(2026, 3, 31),
    )
    assert billing_cycle(date(2026, 3, 15), date(2026, 12, 20)) == (
        date(2026, 12, 15),
        date(2027, 1, 15),
    )


def test_monitoring_beyond_capacity_is_refused_all_or_nothing(addon, owned):
    numbers = [owned() for _ in range(16)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers[:14]], by=None)
    with pytest.raises(ReputationRefused, match="2 needed, 1 free of 15"):
        services.numbers_monitor(owned_number_ids=[n.pk for n in numbers[14:]], by=None)
    assert MonitoredNumber.objects.count() == 14
    services.numbers_monitor(owned_number_ids=[numbers[14].pk], by=None)
    assert (used(), selectors.usage().capacity) == (15, 15)


def test_a_released_or_deleted_number_keeps_its_slot_until_the_cycle_ends(addon, owned):
    addon.blocks = 1
    addon.save()
    numbers = [owned() for _ in range(15)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    gone, released = numbers[0], numbers[1]
    gone.delete()
    OwnedNumber.objects.filter(pk=released.pk).update(status=OwnedNumber.Status.RELEASED)
    services.numbers_unmonitor(owned_number_ids=[released.pk], by=None)
    assert used() == 15
    assert SlotClaim.objects.filter(number=str(gone.number), owned_number=None).exists()
    newcomer = owned()
    with pytest.raises(ReputationRefused, match="No free monitoring slot"):
        services.numbers_monitor(owned_number_ids=[newcomer.pk], by=None)


def test_monitoring_again_in_the_same_cycle_reuses_the_numbers_own_claim(addon, owned):
    number = owned()
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    services.numbers_unmonitor(owned_number_ids=[number.pk], by=None)
    services.numbers_monitor(owned_number_ids=[number.pk], by=None)
    assert used() == 1
    assert SlotClaim.objects.count() == 1


def test_a_replacement_passes_the_slot_to_the_new_number(addon, owned):
    numbers = [owned() for _ in range(15)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    ScriptedInventory.stock = {"415": ["+14155559001"]}
    done = replacements.number_replace(owned_number=numbers[0], by=None)
    assert done.state == "done"
    assert used() == 15
    claim = SlotClaim.objects.get(number="+14155559001")
    assert claim.passed_from == str(numbers[0].number)
    assert MonitoredNumber.objects.filter(owned_number__number="+14155559001").exists()


def test_cycle_rollover_frees_the_slots_of_numbers_no_longer_monitored(addon, owned):
    numbers = [owned() for _ in range(15)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    numbers[0].delete()
    services.numbers_unmonitor(owned_number_ids=[numbers[1].pk], by=None)
    assert used() == 15
    next_cycle_day = services.current_cycle(addon)[1]
    services.slots_rollover(today=next_cycle_day)
    start, _ = billing_cycle(addon.cycle_anchor, next_cycle_day)
    assert start == next_cycle_day
    assert selectors.slots_used(cycle_start=start) == 13
    assert timezone.localdate() < next_cycle_day <= timezone.localdate() + timedelta(days=31)


def test_monitoring_needs_the_addon_switched_on(db, owned):
    number = owned()
    with pytest.raises(ReputationRefused, match="switch it on"):
        services.numbers_monitor(owned_number_ids=[number.pk], by=None)
