"""One payer per number: the backfill and a new caller's lookup never both pay for it.

Each claims a number before it reads the ledger and keeps the claim until the answer is
recorded, so the second to come either waits or finds the first one's answer.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import PhoneNumber
from telephony.identification import ledger
from telephony.identification import services as identification
from telephony.identification.services import backfill_run
from telephony.models import BackfillRun, LineTypeLookup, LookupClaim
from telephony.providers.base import LineTypeLookupFailed
from tests.telephony.factories import hold


def wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.django_db
def test_a_claim_is_one_owners_until_released_or_stale():
    take = ledger.lookup_claims_take

    assert take(numbers=["+14045550001", "+14045550002"], owner="backfill:1") == {
        "+14045550001",
        "+14045550002",
    }
    assert take(numbers=["+14045550002", "+14045550003"], owner="caller:7") == {"+14045550003"}
    # Its own claim is its own again (a resumed run takes its chunk back at once).
    assert take(numbers=["+14045550002"], owner="backfill:1") == {"+14045550002"}

    ledger.lookup_claims_release(owner="backfill:1", through="+14045550001")
    assert take(numbers=["+14045550001", "+14045550002"], owner="caller:7") == {"+14045550001"}

    # A worker that died leaves its claim; once stale, another may pay instead.
    LookupClaim.objects.filter(owner="backfill:1").update(
        claimed_at=timezone.now() - ledger.CLAIM_STALE_AFTER - timedelta(seconds=1)
    )
    assert take(numbers=["+14045550002"], owner="caller:7") == {"+14045550002"}
    assert dict(LookupClaim.objects.values_list("number", "owner")) == {
        "+14045550001": "caller:7",
        "+14045550002": "caller:7",
        "+14045550003": "caller:7",
    }
    ledger.lookup_claims_release(owner="caller:7")
    assert not LookupClaim.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_new_callers_lookup_waits_while_the_backfill_pays_for_the_number(scripted):
    caller = hold("+14155550140")
    scripted.default = "mobile"
    ledger.lookup_claims_take(numbers=["+14155550140"], owner="backfill:99")

    with pytest.raises(LineTypeLookupFailed, match="being looked up already"):
        identification.caller_number_identify(phone_id=caller.pk)
    assert scripted.calls == []

    # The backfill's answer lands in the ledger and its claim is given up: the retried
    # task reads the answer instead of paying for it.
    LineTypeLookup.objects.create(
        number="+14155550140", line_type="mobile", cost=Decimal("0.01"), provider="scripted",
        purpose="backfill",
    )  # fmt: skip
    ledger.lookup_claims_release(owner="backfill:99")
    assert identification.caller_number_identify(phone_id=caller.pk) == "mobile"
    assert scripted.calls == []
    assert PhoneNumber.objects.get().type == "mobile"
    assert not LookupClaim.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_the_backfill_waits_for_a_callers_lookup_in_flight_and_pays_for_it_once(scripted):
    caller = hold("+14045550010")
    for n in range(11, 15):
        hold(f"+140455500{n}")
    released = threading.Event()

    def slow_mobile(e164: str) -> str:
        released.wait(20)
        return "mobile"

    scripted.default = "landline"
    scripted.answers["+14045550010"] = slow_mobile
    results: list[str] = []
    ringing = threading.Thread(
        target=lambda: results.append(identification.caller_number_identify(phone_id=caller.pk))
    )
    ringing.start()
    wait_for(lambda: "+14045550010" in scripted.calls, "the caller's lookup to be sent")

    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    filling = threading.Thread(target=backfill_run, kwargs={"run_id": run.pk, "concurrency": 2})
    filling.start()
    # The backfill looks up the others while the caller's number waits for its claim.
    wait_for(lambda: len(scripted.calls) == 5, "the backfill's other lookups")
    wait_for(
        lambda: LineTypeLookup.objects.filter(purpose="backfill").count() == 4,
        "the backfill's other answers in the ledger",
    )
    assert BackfillRun.objects.get().status == "running"
    released.set()
    ringing.join(20)
    filling.join(20)

    assert results == ["mobile"]
    assert sorted(scripted.calls) == [f"+140455500{n}" for n in range(10, 15)]
    assert LineTypeLookup.objects.filter(number="+14045550010").count() == 1
    run.refresh_from_db()
    assert (run.status, run.numbers_done, run.lookups, run.answered_from_cache, run.failed) == (
        "completed",
        5,
        4,
        1,
        0,
    )
    assert PhoneNumber.objects.get(number="+14045550010").type == "mobile"
    assert not LookupClaim.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_backfill_records_and_applies_its_answers_on_either_database(scripted):
    # The embedded default (SQLite) records from a thread of its own, PostgreSQL from the
    # lookups' event loop: both end with every answer in the ledger once.
    for n in range(20, 32):
        hold(f"+140455500{n}")
    scripted.default = "mobile"
    scripted.answers["+14045550020"] = "landline"

    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    run = backfill_run(run_id=run.pk, concurrency=3)

    assert (run.status, run.lookups, run.turned_mobile, run.failed) == ("completed", 12, 11, 0)
    assert sorted(LineTypeLookup.objects.values_list("number", flat=True)) == [
        f"+140455500{n}" for n in range(20, 32)
    ]
    assert PhoneNumber.objects.filter(type="mobile").count() == 11
    assert not LookupClaim.objects.exists()
