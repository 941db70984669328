"""Erasure against merges and webhooks (issue: erasure on request erases, and only whom it
should). Erasure and merge take the same locks in the same order (the numbers' linking
locks, then the profiles' rows by id) and read the person again under them."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from crm import services
from crm.models import Customer, CustomerErasure, CustomerMerge, PhoneNumber
from telephony import services as telephony_services
from telephony.models import Call
from tests.crm.concurrency import Worker, pause_before_first, until
from tests.telephony.factories import CallFactory

NUMBER = "+16785550123"
THEIRS = "+14045550188"
LOCKING = ("FOR UPDATE", "pg_advisory_xact_lock")


def _person():
    c = services.customer_create(
        name="Carol Erased",
        email="carol@example.com",
        numbers=[services.NewNumber(NUMBER, type=PhoneNumber.Type.MOBILE, sms=True)],
    )
    CallFactory(customer=c, from_number=NUMBER, transcript="Carol here, card ends 4242")
    e = services.customer_create(
        name="Eve Kept", numbers=[services.NewNumber(THEIRS, type=PhoneNumber.Type.HOME)]
    )
    return c, e


def _nothing_of_carol_survives(kept: Customer) -> None:
    assert not PhoneNumber.objects.filter(number=NUMBER).exists()
    assert not Call.objects.filter(from_number=NUMBER).exists()
    assert not Call.objects.exclude(transcript="").exists()
    assert not Customer.objects.filter(email="carol@example.com").exists()
    assert not Customer.objects.filter(name="Carol Erased").exists()
    kept.refresh_from_db()
    assert "Carol" not in kept.name


def _call_from(number: str, sid: str):
    return telephony_services.call_record(
        external_id="CA" + sid * 32,
        direction="inbound",
        from_number=number,
        to_number="+18005550100",
        channel="voice",
        facts=telephony_services.CallFacts(status="ringing"),
    ).record


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_merge_committing_while_the_erasure_reads_leaves_nothing_of_the_person(
    on_postgresql, administrator, agent
):
    """C is merged into E after the erasure of C has read who C is and before it locks:
    the erasure must follow C into E, not erase an empty C and leave C's data on E."""
    c, e = _person()
    about_to_lock, merged = threading.Event(), threading.Event()

    def erase():
        with connection.execute_wrapper(pause_before_first(LOCKING, merged, about_to_lock)):
            return services.customer_erase(customer=c, actor=administrator)

    eraser = Worker(erase)
    eraser.start()
    assert about_to_lock.wait(timeout=20)
    services.customer_merge(keep=e, merge=c, actor=agent)
    merged.set()
    eraser.join(timeout=30)

    assert eraser.error is None, eraser.error
    assert eraser.result.customer_id == e.pk  # the person is E now: E was erased
    _nothing_of_carol_survives(e)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_merge_waiting_on_the_erasure_is_refused_after_it(on_postgresql, administrator, agent):
    c, e = _person()
    locked, merge_waits = threading.Event(), threading.Event()

    def erase():
        # Pauses at its second lock statement: the first is held, the merge must wait.
        seen = []

        def wrapper(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if any(m in str(sql) for m in LOCKING) and not seen:
                seen.append(sql)
                locked.set()
                assert merge_waits.wait(timeout=30)
            return result

        with connection.execute_wrapper(wrapper):
            return services.customer_erase(customer=c, actor=administrator)

    eraser = Worker(erase)
    eraser.start()
    assert locked.wait(timeout=20)
    merger = Worker(lambda: services.customer_merge(keep=e, merge=c, actor=agent))
    merger.start()
    until(lambda: merger.done_or_waiting(), "the merge waits for the erasure")
    merge_waits.set()
    eraser.join(timeout=30)
    merger.join(timeout=30)

    assert eraser.error is None, eraser.error
    assert isinstance(merger.error, ValidationError)
    assert "erased on request" in " ".join(merger.error.messages)
    assert not CustomerMerge.objects.exists()
    _nothing_of_carol_survives(e)
    assert PhoneNumber.objects.filter(customer=e, number=THEIRS).exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_read_the_holders_before_the_erasure_never_leaves_the_number_on_it(
    on_postgresql, administrator, monkeypatch
):
    """The webhook holds the number's linking lock and has read that C holds it; the
    erasure waits for that lock (or, before the fix, committed at once and the call
    landed on the erased profile with the whole number)."""
    c, _e = _person()
    holders_read, go_on = threading.Event(), threading.Event()
    read_holders = telephony_services._holders

    def holders_then_wait(e164):
        found = read_holders(e164)
        if not holders_read.is_set():
            holders_read.set()
            assert go_on.wait(timeout=30)
        return found

    monkeypatch.setattr(telephony_services, "_holders", holders_then_wait)
    webhook = Worker(lambda: _call_from(NUMBER, "7"))
    webhook.start()
    assert holders_read.wait(timeout=20)
    eraser = Worker(lambda: services.customer_erase(customer=c, actor=administrator))
    eraser.start()
    until(lambda: eraser.done_or_waiting(), "the erasure commits or waits")
    go_on.set()
    webhook.join(timeout=30)
    eraser.join(timeout=30)

    assert webhook.error is None, webhook.error
    assert eraser.error is None, eraser.error
    call = Call.objects.get(external_id="CA" + "7" * 32)
    assert call.from_number != NUMBER or call.customer_id != c.pk
    assert not Call.objects.filter(customer=c).exclude(from_number="").exists()
    assert not Call.objects.filter(customer=c).exclude(transcript="").exists()


def test_linking_rechecks_the_holder_read_before_an_erasure(db, administrator, monkeypatch):
    """Holders read before the erasure committed (stale): the link re-checks under the
    number lock, finds the number gone from C, and files the caller as a new profile."""
    c, _e = _person()
    count = c.interaction_count
    stale = telephony_services._holders(NUMBER)
    services.customer_erase(customer=c, actor=administrator)
    reads = iter([stale])
    real = telephony_services._holders
    monkeypatch.setattr(
        telephony_services, "_holders", lambda e164: next(reads, None) or real(e164)
    )

    call = _call_from(NUMBER, "8")

    assert call.customer_id != c.pk
    assert PhoneNumber.objects.get(number=NUMBER).customer_id == call.customer_id
    c.refresh_from_db()
    assert c.interaction_count == count  # nothing counted on the erased shell


# --- merging into (or from) an erased profile is refused ----------------------------------


@pytest.fixture
def erased_and_live(db, administrator):
    c, e = _person()
    services.customer_erase(customer=c, actor=administrator)
    return c, e


def test_merging_a_live_profile_into_an_erased_one_is_refused(erased_and_live, agent):
    erased, live = erased_and_live
    with pytest.raises(ValidationError, match="erased on request"):
        services.customer_merge(keep=erased, merge=live, actor=agent)
    with pytest.raises(ValidationError, match="erased on request"):
        services.customer_merge(keep=live, merge=erased, actor=agent)
    assert not CustomerMerge.objects.exists()
    live.refresh_from_db()
    assert live.merged_into_id is None


def test_the_api_refuses_it_with_409_and_the_reason(erased_and_live, agent, api_client):
    erased, live = erased_and_live
    api_client.force_authenticate(agent)
    response = api_client.post(
        f"/api/customers/{live.pk}/merge/", {"into": erased.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Customer #{erased.pk} was erased on request: nothing may be merged into it."
    )
    assert not CustomerMerge.objects.exists()


def test_the_admin_refuses_it_with_the_reason(erased_and_live, agent, client):
    from crm.models import MatchSuggestion

    erased, live = erased_and_live
    low, high = sorted([erased, live], key=lambda p: p.pk)
    suggestion = MatchSuggestion.objects.create(
        customer=low, other=high, reason="shared_email", detail="x"
    )
    client.force_login(agent)
    url = reverse("admin:crm_matchsuggestion_merge", args=[suggestion.pk])
    response = client.post(url, {"keep": erased.pk, "action": "merge"}, follow=True)
    assert "erased on request" in response.content.decode()
    assert not CustomerMerge.objects.exists()
    assert not CustomerErasure.objects.filter(customer=live).exists()
