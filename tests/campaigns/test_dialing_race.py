"""Many callers asking for their next lead at the same moment, on PostgreSQL with real
transactions: no lead is handed to two of them."""

import threading
from collections import Counter

import pytest
from django.db import connection

from campaigns import dialing
from campaigns.models import Campaign, LeadLease
from tests.campaigns.dialing_helpers import lead

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

CALLERS = 16
LEADS = 10


def test_callers_asking_at_once_never_share_a_lead(on_postgresql, make_user):
    campaign = Campaign.objects.create(name="Race")
    users = [make_user("Caller", f"racer{i}") for i in range(CALLERS)]
    campaign.callers.add(*users)
    for i in range(LEADS):
        lead(campaign, f"Lead {i}", number=f"+1678555{1000 + i:04d}")
    barrier = threading.Barrier(CALLERS)
    handed: list[int | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def ask(user) -> None:
        try:
            barrier.wait(timeout=30)
            found = dialing.lead_next(campaign=campaign, caller=user)
            with lock:
                handed.append(None if isinstance(found, dialing.NoLead) else found.contact.pk)
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    given = [pk for pk in handed if pk is not None]
    assert len(handed) == CALLERS
    assert [pk for pk, n in Counter(given).items() if n > 1] == []
    # Every lead went to someone: skipping locked rows never leaves one unasked-for.
    assert len(given) == LEADS
    assert LeadLease.objects.count() == LEADS
    assert LeadLease.objects.values("caller").distinct().count() == LEADS
