"""Two calls racing for a caller ID's last slot of the day, on PostgreSQL with real
transactions and a forced order: the second waits for the first's counter row, then
finds the limit reached and takes the next number (docs/dialing.md, "Caller ID")."""

import threading

import pytest
from django.db import connection, transaction

from telephony import caller_ids, outbound
from telephony.models import Call, CallerIdUsage, OwnedNumber
from tests.waiting import wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

LEAD = "+16785551234"  # 678: Atlanta


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_two_calls_never_take_a_numbers_last_slot_together(on_postgresql, settings):
    settings.CALLER_ID_DAILY_CALL_LIMIT = 1
    local = OwnedNumber.objects.create(number="+16785550100")
    far = OwnedNumber.objects.create(number="+12125550100")
    pool = [local, far]
    first_claimed, first_may_commit = threading.Event(), threading.Event()
    second_done = threading.Event()
    chosen: dict[str, str] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                choice = caller_ids.caller_id_take(lead_e164=LEAD, pool=pool)
                outbound.outbound_call_create(from_e164=choice.e164, lead_e164=LEAD)
                chosen["first"] = choice.e164
                first_claimed.set()
                assert first_may_commit.wait(timeout=30)
        except BaseException as exc:  # reported below
            errors.append(exc)
            first_claimed.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            assert first_claimed.wait(timeout=30)
            with transaction.atomic():
                choice = caller_ids.caller_id_take(lead_e164=LEAD, pool=pool)
                outbound.outbound_call_create(from_e164=choice.e164, lead_e164=LEAD)
                chosen["second"] = choice.e164
        except BaseException as exc:
            errors.append(exc)
        finally:
            second_done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    # The second call is inside its claim, waiting for the first's row (or, without the
    # row lock, already done): only then may the first commit.
    assert first_claimed.wait(timeout=30)
    wait_for(lambda: second_done.is_set() or _waiting_on_a_lock(), timeout=30, interval=0.01)
    first_may_commit.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert chosen == {"first": "+16785550100", "second": "+12125550100"}
    assert Call.objects.filter(from_number="+16785550100").count() == 1
    assert CallerIdUsage.objects.get(owned_number=local).calls == 1
    assert CallerIdUsage.objects.get(owned_number=far).calls == 1
