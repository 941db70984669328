"""The webhook's hot path: what linking a new caller writes, retries, the lookup queued
per process, and a signature check that agrees with Twilio's library."""

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from crm.models import Customer, PhoneNumber, PhoneNumberChange
from telephony import services
from telephony.models import Call
from telephony.webhooks import signature_matches
from tests.telephony.factories import call_sid

OUR_LINE = "+18005550100"


def ring(number: str, sid: str | None = None, **facts) -> services.Recorded:
    return services.call_record(
        external_id=sid or call_sid(),
        direction="inbound",
        from_number=number,
        to_number=OUR_LINE,
        channel="twilio",
        facts=services.CallFacts(status="ringing", **facts),
        caller_name="ANA GARCIA",
    )


@pytest.fixture
def queued(monkeypatch):
    """Phone ids whose lookup was queued (the broker is not what is counted here)."""
    ids: list[int] = []
    monkeypatch.setattr(
        services.identification,
        "caller_number_identify_queue",
        lambda *, phone_id: ids.append(phone_id),
    )
    return ids


@pytest.mark.django_db
def test_the_rows_of_a_new_caller(queued):
    recorded = ring("+14155550162", voicemail=True)
    call = Call.objects.get()
    assert call.pk == recorded.record.pk
    assert (call.status, call.voicemail, call.direction, call.channel) == (
        "ringing",
        True,
        "inbound",
        "twilio",
    )
    assert (call.from_number, call.to_number) == ("+14155550162", OUR_LINE)
    assert call.created_at is not None
    assert call.updated_at is not None
    customer = Customer.objects.get()
    assert (customer.name, customer.source, customer.interaction_count) == (
        "ANA GARCIA",
        "call",
        1,
    )
    assert customer.first_interaction_at == customer.last_interaction_at == call.started_at
    phone = PhoneNumber.objects.get()
    assert (phone.customer_id, str(phone.number), phone.type, phone.sms, phone.type_source) == (
        customer.pk,
        "+14155550162",
        "other",
        False,
        "inbound_call",
    )
    change = PhoneNumberChange.objects.get()
    assert (change.customer_id, change.phone_number_id, change.action, change.new_type) == (
        customer.pk,
        phone.pk,
        "added",
        "other",
    )
    assert change.cause == f"inbound call {call.external_id}"
    assert (change.new_sms, change.old_sms, change.old_type, change.actor_id) == (
        False,
        None,
        "",
        None,
    )


@pytest.mark.django_db
def test_a_retry_changes_nothing_but_the_facts_it_brings(queued):
    sid = call_sid()
    ring("+14155550163", sid)
    retried = ring("+14155550163", sid, voicemail=True)
    assert not retried.created
    assert Call.objects.get().voicemail is True
    assert Customer.objects.get().interaction_count == 1


@pytest.mark.django_db
def test_a_call_sid_already_stored_under_another_number_makes_nothing_new(queued):
    sid = call_sid()
    ring("+14155550164", sid)
    again = ring("+14155550165", sid)
    assert not again.created
    assert Call.objects.count() == 1
    assert Customer.objects.count() == 1


# --- The signature check -----------------------------------------------------------------

TOKEN = "12345abcdef"


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        (
            "https://crm.example.com/webhooks/twilio/voice/",
            "https://crm.example.com/webhooks/twilio/voice/",
        ),
        (
            "https://crm.example.com:443/webhooks/twilio/voice/",
            "https://crm.example.com/webhooks/twilio/voice/",
        ),
        (
            "https://crm.example.com/webhooks/twilio/voice/",
            "https://crm.example.com:443/webhooks/twilio/voice/",
        ),
        (
            "http://127.0.0.1:8000/webhooks/twilio/voice/?x=1",
            "http://127.0.0.1:8000/webhooks/twilio/voice/?x=1",
        ),
        ("http://127.0.0.1/webhooks/twilio/sms/", "http://127.0.0.1:80/webhooks/twilio/sms/"),
    ],
)
def test_the_signature_check_accepts_what_twilio_signs(signed_url, checked_url):
    params = QueryDict(mutable=True)
    params.update({"CallSid": "CA" + "1" * 32, "From": "+14155550100", "Body": "héllo & 1+1"})
    params.setlist("Multi", ["b", "a", "b"])
    signature = RequestValidator(TOKEN).compute_signature(signed_url, params)
    assert signature_matches(TOKEN, checked_url, params, signature)
    assert RequestValidator(TOKEN).validate(checked_url, params, signature)


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "x",
        "forged" + RequestValidator(TOKEN).compute_signature("https://a.example/", {}),
        RequestValidator("another-token").compute_signature("https://a.example/", {"A": "1"}),
        RequestValidator(TOKEN).compute_signature("https://b.example/", {"A": "1"}),
        RequestValidator(TOKEN).compute_signature("https://a.example/", {"A": "2"}),
        "ünïcode",
    ],
)
def test_the_signature_check_refuses_what_twilio_refuses(forged):
    params = QueryDict("A=1")
    assert not signature_matches(TOKEN, "https://a.example/", params, forged)
    assert not RequestValidator(TOKEN).validate("https://a.example/", params, forged)


def test_a_port_out_of_range_is_refused_not_a_500():
    params = QueryDict("A=1")
    url = "http://127.0.0.1:99999/webhooks/twilio/voice/"
    assert not signature_matches(TOKEN, url, params, "x")


# --- New callers' lookups, gathered per process ----------------------------------------


def test_new_callers_are_published_together_by_the_queue_thread(monkeypatch):
    from telephony.identification import services as identification

    published: list[list[int]] = []
    monkeypatch.setattr(
        identification.tasks.caller_numbers_identify, "delay", lambda ids: published.append(ids)
    )
    queue = identification._LookupQueue()
    for phone_id in (1, 2, 3):
        queue.put(phone_id)
    queue._wake.set()
    for _ in range(500):
        if published:
            break
        queue._thread.join(0.01)  # the thread publishes after its gathering window
    assert published == [[1, 2, 3]]
    queue.put(4)
    queue.flush()  # what a stopping process does (atexit)
    assert published[-1] == [4]


@pytest.mark.django_db
def test_a_batch_looks_each_caller_up_and_requeues_one_whose_lookup_failed(monkeypatch):
    from telephony.identification import services as identification
    from telephony.providers.base import LineTypeLookupFailed

    def identify(*, phone_id):
        if phone_id == 2:
            raise LineTypeLookupFailed("busy")
        if phone_id == 3:
            raise RuntimeError("boom")
        return "mobile"

    retried: list[tuple] = []
    monkeypatch.setattr(identification, "caller_number_identify", identify)
    monkeypatch.setattr(
        identification.tasks.caller_number_identify,
        "apply_async",
        lambda **kwargs: retried.append(kwargs["args"]),
    )
    results = identification.caller_numbers_identify(phone_ids=[1, 2, 3, 4])
    assert results == ["mobile", "retrying", "failed", "mobile"]
    assert retried == [[2]]


@pytest.mark.django_db
def test_the_sweep_queues_the_new_callers_whose_task_was_lost(monkeypatch):
    """The ids wait in a web process's memory: one killed there (or a broker refusing the
    publish) leaves an Other number with no ledger row, which the sweep finds and queues."""
    from datetime import timedelta

    from django.utils import timezone

    from telephony.identification import services as identification
    from telephony.models import LineTypeLookup, OrchestrationSettings

    published: list[list[int]] = []
    monkeypatch.setattr(
        identification.tasks.caller_numbers_identify, "delay", lambda ids: published.append(ids)
    )
    customer = Customer.objects.create(name="Sweep")
    now = timezone.now()

    def number(e164, *, age, type_=PhoneNumber.Type.OTHER, source="inbound_call"):
        row = PhoneNumber.objects.create(
            customer=customer, number=e164, type=type_, type_source=source
        )
        PhoneNumber.objects.filter(pk=row.pk).update(created_at=now - age)
        return row.pk

    lost = number("+14045550101", age=timedelta(minutes=10))
    number("+14045550102", age=timedelta(seconds=30))  # its task may still be on its way
    answered = number("+14045550103", age=timedelta(minutes=10))
    LineTypeLookup.objects.create(
        number="+14045550103", line_type="landline", cost=0, provider="x", purpose="new_caller"
    )
    number("+14045550104", age=timedelta(minutes=10), source="manual")
    number("+14045550105", age=timedelta(hours=2))  # beyond the window: the backfill's
    number("+14045550106", age=timedelta(minutes=10), type_=PhoneNumber.Type.MOBILE)

    assert identification.new_callers_sweep() == 1
    assert published == [[lost]]
    assert answered not in published[0]

    config = OrchestrationSettings.load()
    config.mobile_identification = False
    config.save()
    assert identification.new_callers_sweep() == 0
    assert published == [[lost]]
