"""Concurrency on real PostgreSQL connections: one profile, one call, whatever the timing."""

import threading

import pytest
from django.db import connection

from crm.models import Customer
from telephony import services
from telephony.models import Call, Message
from tests.telephony.factories import call_sid, message_sid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

THREADS = 8
NUMBER = "+14155550999"


def run_together(work) -> list[BaseException]:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def call(sid: str) -> None:
    services.call_record(
        external_id=sid,
        direction="inbound",
        from_number=NUMBER,
        to_number="+18005550100",
        channel="twilio",
        facts=services.CallFacts(status="ringing"),
    )


def test_simultaneous_first_calls_from_one_new_number_make_one_profile():
    sids = [call_sid() for _ in range(THREADS)]

    assert run_together(lambda i: call(sids[i])) == []

    customer = Customer.objects.get()
    assert customer.phone_numbers.count() == 1
    assert Call.objects.filter(customer=customer).count() == THREADS
    assert customer.interaction_count == THREADS


def test_simultaneous_retries_of_one_callsid_make_one_call():
    sid = call_sid()

    assert run_together(lambda i: call(sid)) == []

    assert Customer.objects.count() == 1
    assert Call.objects.count() == 1
    assert Customer.objects.get().interaction_count == 1


def test_simultaneous_calls_and_texts_from_one_new_number_stay_one_person():
    sids = [call_sid() if i % 2 else message_sid() for i in range(THREADS)]

    def work(i: int) -> None:
        if i % 2:
            call(sids[i])
        else:
            services.message_record(
                external_id=sids[i],
                direction="inbound",
                from_number=NUMBER,
                to_number="+18005550100",
                body="hello",
            )

    assert run_together(work) == []

    customer = Customer.objects.get()
    assert Call.objects.count() + Message.objects.count() == THREADS
    assert customer.interaction_count == THREADS
    phone = customer.phone_numbers.get()
    assert (phone.type, phone.sms) == ("mobile", True)
