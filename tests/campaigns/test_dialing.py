"""The next lead, leases and what outcomes do to the queue (docs/dialing.md)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import calling, dialing, selectors, services
from campaigns.models import (
    Account,
    CallAttempt,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    DoNotCallNumber,
    LeadLease,
    Outcome,
    Queue,
    Status,
)
from crm.models import StaffProfile
from telephony.models import Call, OwnedNumber
from tests.campaigns.dialing_helpers import daytime_zone, lead, night_zone

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    dialing.campaign_outcomes_ensure(campaign=campaign)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    return campaign


def next_id(campaign, user, now=None):
    found = dialing.lead_next(campaign=campaign, caller=user, now=now or timezone.now())
    return None if isinstance(found, dialing.NoLead) else found.contact.pk


def place(campaign, user, contact, number=None):
    started = calling.call_start(
        campaign=campaign,
        contact_id=contact.pk,
        number=number or contact.phone.number,
        caller=user,
        status_callback="http://testserver/webhooks/twilio/voice/outbound/",
    )
    return started


def test_default_outcomes_are_seeded_with_kinds(campaign):
    kinds = dict(Outcome.objects.filter(campaign=campaign).values_list("name", "kind"))
    assert kinds["No answer"] == "retry"
    assert kinds["Wrong number"] == "wrong_number"
    assert kinds["Call back later"] == "callback"
    assert kinds["Meeting booked"] == "final"
    retry = Outcome.objects.get(campaign=campaign, name="No answer")
    assert retry.retry_after_minutes
    assert retry.max_attempts


def test_callbacks_due_come_first_then_fresh_then_recycled(campaign, caller, make_user):
    now = timezone.now()
    recycled = lead(campaign, "Recycled", number="+16785551001")
    fresh = lead(campaign, "Fresh", number="+16785551002")
    callback = lead(campaign, "Callback", number="+16785551003")
    later = lead(campaign, "Later", number="+16785551004")
    Contact.objects.filter(pk=recycled.pk).update(
        queue=Queue.RETRY, queue_at=now - timedelta(minutes=1)
    )
    Contact.objects.filter(pk=callback.pk).update(
        queue=Queue.CALLBACK, queue_at=now - timedelta(minutes=5)
    )
    Contact.objects.filter(pk=later.pk).update(queue=Queue.RETRY, queue_at=now + timedelta(hours=1))
    others = [make_user("Caller", f"c{i}") for i in range(3)]
    handed = [next_id(campaign, user, now) for user in [caller, *others]]
    assert handed == [callback.pk, fresh.pk, recycled.pk, None]


def test_a_caller_asking_again_gets_the_lead_they_hold(campaign, caller):
    first = lead(campaign, "First", number="+16785551001")
    lead(campaign, "Second", number="+16785551002")
    assert next_id(campaign, caller) == first.pk
    assert next_id(campaign, caller) == first.pk
    assert LeadLease.objects.filter(caller=caller).count() == 1


def test_two_callers_never_hold_one_lead_and_an_expired_hold_is_taken_over(
    campaign, caller, make_user
):
    only = lead(campaign, "Only", number="+16785551001")
    other = make_user("Caller", "other")
    now = timezone.now()
    assert next_id(campaign, caller, now) == only.pk
    assert next_id(campaign, other, now) is None
    later = now + timedelta(minutes=dialing.LEASE_MINUTES, seconds=1)
    assert next_id(campaign, other, later) == only.pk
    assert LeadLease.objects.get(contact_id=only.pk).caller_id == other.pk


def test_never_hands_disqualified_dnc_wrong_or_out_of_window_leads(campaign, caller):
    account = Account.objects.create(campaign=campaign, name="Gone Inc")
    lead(campaign, "Disqualified", number="+16785551001").__class__.objects.filter(
        name="Disqualified"
    ).update(status=Status.DISQUALIFIED)
    lead(campaign, "Account gone", number="+16785551002", account=account)
    services.account_disqualify(account=account, by=caller, reason="closed")
    dnc = lead(campaign, "On DNC", number="+16785551003")
    DoNotCallNumber.objects.create(number=dnc.phone.number, reason="asked")
    wrong = lead(campaign, "Wrong", number="+16785551004")
    Contact.objects.filter(pk=wrong.pk).update(phone_wrong=True)
    number_off = lead(campaign, "Number off", number="+16785551005")
    services.campaign_phone_disqualify(phone=number_off.phone, by=caller, reason="retired")
    lead(campaign, "Asleep", number="+16785551006", time_zone=night_zone())
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.NoLead)
    assert "calling window" in found.reason
    assert found.retry_at is not None
    assert found.retry_at > timezone.now()


def test_out_of_window_leads_are_passed_by_for_callable_ones(campaign, caller):
    lead(campaign, "Asleep", number="+16785551001", time_zone=night_zone())
    awake = lead(campaign, "Awake", number="+16785551002", time_zone=daytime_zone())
    assert next_id(campaign, caller) == awake.pk


def test_nothing_left_answers_without_retry_time(campaign, caller):
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.NoLead)
    assert found.retry_at is None


def test_retry_outcome_waits_its_delay_then_stops_after_max_attempts(campaign, caller):
    target = lead(campaign, "Retry me", number="+16785551001")
    outcome = Outcome.objects.get(campaign=campaign, name="No answer")
    Outcome.objects.filter(pk=outcome.pk).update(retry_after_minutes=30, max_attempts=2)
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome="No answer", by=caller)
    target.refresh_from_db()
    assert target.queue == Queue.RETRY
    assert target.attempts == 1
    assert target.queue_at > timezone.now() + timedelta(minutes=29)
    assert next_id(campaign, caller) is None  # waiting for its delay
    assert next_id(campaign, caller, timezone.now() + timedelta(minutes=31)) == target.pk
    dialing.lead_release(contact=target)
    Contact.objects.filter(pk=target.pk).update(queue_at=timezone.now())
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome=str(outcome.pk), by=caller)
    target.refresh_from_db()
    assert target.queue == Queue.DONE
    assert target.attempts == 2


def test_wrong_number_leaves_that_contact_which_comes_back_with_its_other_number(
    campaign, caller, make_user
):
    shared = "+16785551001"
    target = lead(campaign, "Two numbers", number=shared, mobile="+16785551009")
    neighbour = lead(campaign, "Same office", number=shared)
    started = place(campaign, caller, target, shared)
    calling.call_outcome_log(call=started.call, outcome="Wrong number", by=caller)
    target.refresh_from_db()
    assert target.phone_wrong
    assert not target.mobile_wrong
    # The number stays good for the other contact carrying it (a fresh lead comes first).
    first = dialing.lead_next(campaign=campaign, caller=make_user("Caller", "other"))
    assert first.contact.pk == neighbour.pk
    assert [p.number for p in first.numbers] == [shared]
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert found.contact.pk == target.pk
    assert [p.number for p in found.numbers] == ["+16785551009"]
    with pytest.raises(calling.CallRefused, match="wrong number"):
        place(campaign, caller, target, shared)


def test_wrong_number_on_the_only_number_ends_the_lead(campaign, caller):
    target = lead(campaign, "One number", number="+16785551001")
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome="wrong number", by=caller)
    target.refresh_from_db()
    assert target.queue == Queue.DONE
    assert next_id(campaign, caller) is None


def test_callback_is_entered_in_the_lead_local_time(campaign, caller):
    zone = daytime_zone()
    target = lead(campaign, "Call me", number="+16785551001", time_zone=zone)
    started = place(campaign, caller, target)
    tomorrow = timezone.now().astimezone(__import__("zoneinfo").ZoneInfo(zone)) + timedelta(days=1)
    typed = tomorrow.strftime("%Y-%m-%dT10:30")
    attempt = calling.call_outcome_log(
        call=started.call, outcome="Call back later", callback_at=typed, by=caller
    )
    local = attempt.callback_at.astimezone(__import__("zoneinfo").ZoneInfo(zone))
    assert (local.hour, local.minute) == (10, 30)
    target.refresh_from_db()
    assert target.queue == Queue.CALLBACK
    assert target.queue_at == attempt.callback_at
    entry = Disposition.objects.get(contact=target, outcome="callback")
    assert entry.callback_at == attempt.callback_at


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "Say when"),
        ("", "Say when"),
        ("2020-01-01T10:00", "past"),
        ("tomorrow", "not a date"),
        ("2026-13-45T99:00", "not a date"),
        ("2030-01-01T10:00\x00", "2026-12-08T10:30"),
        (12345, "2026-12-08T10:30"),
    ],
)
def test_callback_time_is_required_and_refused_when_past_or_malformed(
    campaign, caller, value, problem
):
    target = lead(campaign, "Call me", number="+16785551001")
    started = place(campaign, caller, target)
    with pytest.raises(ValidationError, match=problem):
        calling.call_outcome_log(
            call=started.call, outcome="Call back later", callback_at=value, by=caller
        )
    assert CallAttempt.objects.get(call=started.call).state == CallAttempt.State.DIALING


@pytest.mark.parametrize("value", ["", "Teleported", "999999", True, None, ["No answer"]])
def test_unknown_outcomes_are_refused(campaign, caller, value):
    target = lead(campaign, "Any", number="+16785551001")
    started = place(campaign, caller, target)
    with pytest.raises(ValidationError):
        calling.call_outcome_log(call=started.call, outcome=value, by=caller)


def test_an_outcome_is_logged_once(campaign, caller):
    target = lead(campaign, "Any", number="+16785551001")
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome="Meeting booked", by=caller)
    with pytest.raises(ValidationError, match="already logged"):
        calling.call_outcome_log(call=started.call, outcome="No answer", by=caller)


def test_final_outcome_and_disqualified_outcome_end_the_lead_and_undo_works(
    campaign, caller, administrator
):
    target = lead(campaign, "Done", number="+16785551001")
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome="Disqualified", note="no budget", by=caller)
    target.refresh_from_db()
    assert target.status == Status.DISQUALIFIED
    assert target.queue == Queue.DONE
    entry = Disposition.objects.get(contact=target, outcome=Disposition.Outcome.DISQUALIFIED)
    services.disposition_undo(disposition=entry, by=administrator)
    target.refresh_from_db()
    assert target.status == Status.ACTIVE


def test_disqualified_leads_leave_the_callback_list(campaign, caller):
    account = Account.objects.create(campaign=campaign, name="Acme")
    one = lead(campaign, "One", number="+16785551001", account=account)
    two = lead(campaign, "Two", number="+16785551002")
    soon = timezone.now() + timedelta(hours=1)
    for contact in (one, two):
        services.disposition_log(contact=contact, by=caller, outcome="callback", callback_at=soon)
    until = timezone.now() + timedelta(days=1)
    assert len(selectors.campaign_callbacks_due(campaign=campaign, until=until)) == 2
    services.account_disqualify(account=account, by=caller, reason="closed")
    services.contact_disqualify(contact=two, by=caller, reason="moved")
    assert selectors.campaign_callbacks_due(campaign=campaign, until=until) == []


def test_contacts_list_callback_in_the_past_is_refused(campaign, caller):
    target = lead(campaign, "Past", number="+16785551001")
    with pytest.raises(ValidationError, match="past"):
        calling.contact_outcome_log(
            contact=target, by=caller, outcome="callback", callback_at="2020-05-01T10:00"
        )
    assert not Disposition.objects.filter(contact=target).exists()


def test_contacts_list_outcome_moves_the_lead_in_the_queue(campaign, caller):
    target = lead(campaign, "Listed", number="+16785551001")
    calling.contact_outcome_log(contact=target, by=caller, outcome="not_interested")
    target.refresh_from_db()
    assert target.queue == Queue.DONE


def test_call_refusals_say_why(campaign, caller, make_user):
    account = Account.objects.create(campaign=campaign, name="Gone")
    asleep = lead(campaign, "Asleep", number="+16785551001", time_zone=night_zone())
    with pytest.raises(
        calling.CallRefused, match=r"Outside the calling window: it is .* calls open at"
    ):
        place(campaign, caller, asleep)
    dnc = lead(campaign, "Dnc", number="+16785551002")
    DoNotCallNumber.objects.create(number=dnc.phone.number, reason="asked")
    with pytest.raises(calling.CallRefused, match="do-not-call"):
        place(campaign, caller, dnc)
    gone = lead(campaign, "Gone", number="+16785551003", account=account)
    services.account_disqualify(account=account, by=caller, reason="closed")
    with pytest.raises(calling.CallRefused, match="account Gone is disqualified"):
        place(campaign, caller, gone)
    held = lead(campaign, "Held", number="+16785551004")
    other = make_user("Caller", "other")
    dialing.lead_hold(held, other, timezone.now())
    with pytest.raises(calling.CallRefused, match="Another caller"):
        place(campaign, caller, held)
    with pytest.raises(ValidationError, match="not one of this contact"):
        place(campaign, caller, lead(campaign, "Free", number="+16785551005"), "+16785559999")
    assert Call.objects.count() == 0
    assert CallAttempt.objects.count() == 0


def test_a_caller_without_a_phone_is_told_to_set_it(campaign, caller):
    StaffProfile.objects.filter(user=caller).update(phone="")
    with pytest.raises(calling.CallRefused, match="Set your own phone"):
        place(campaign, caller, lead(campaign, "Any", number="+16785551001"))


def test_offline_call_is_an_outbound_call_linked_to_lead_and_customer(campaign, caller):
    from tests.crm.factories import CustomerFactory, PhoneNumberFactory

    customer = CustomerFactory(name="Known")
    PhoneNumberFactory(customer=customer, number="+16785551001")
    target = lead(campaign, "Known lead", number="+16785551001")
    started = place(campaign, caller, target)
    call = started.call
    assert call.direction == "outbound"
    assert call.status == "completed"
    assert call.from_number == "+16785550100"
    assert call.to_number == "+16785551001"
    assert call.customer_id == customer.pk
    assert call.duration_seconds == 42
    assert started.attempt.contact_id == target.pk
    assert started.attempt.caller_id == caller.pk
    assert "area code (678)" in started.reason


def test_do_not_call_add_disqualifies_the_number_everywhere(campaign, caller, administrator):
    target = lead(campaign, "Dnc", number="+16785551001")
    entry = calling.do_not_call_add(number="(678) 555-1001", reason="asked", by=administrator)
    assert entry.number == "+16785551001"
    target.phone.refresh_from_db()
    assert target.phone.status == Status.DISQUALIFIED
    assert target.phone.status_scope == "everywhere"
    again = calling.do_not_call_add(number="+16785551001", reason="twice", by=administrator)
    assert again.pk == entry.pk
    assert DoNotCallNumber.objects.count() == 1
    with pytest.raises(ValidationError):
        calling.do_not_call_add(number="not a number", reason="", by=administrator)


# --- the calling window read from the queue index (docs/dialing.md, "Next lead") ----------


def leads_in_bulk(campaign, zones):
    """One lead a zone, in this order (fresh leads are handed out in id order)."""
    phones = CampaignPhone.objects.bulk_create(
        CampaignPhone(campaign=campaign, number=f"+1678555{i:04d}", contact_count=1)
        for i in range(len(zones))
    )
    return Contact.objects.bulk_create(
        Contact(campaign=campaign, name=f"Lead {i}", dedup_key=f"k{i}", phone=p, time_zone=z)
        for i, (p, z) in enumerate(zip(phones, zones, strict=True))
    )


def test_an_awake_lead_behind_hundreds_of_sleeping_ones_is_handed_out(campaign, caller):
    leads_in_bulk(campaign, [night_zone()] * 450 + [daytime_zone()])
    awake = Contact.objects.get(campaign=campaign, name="Lead 450")
    assert next_id(campaign, caller) == awake.pk
    # Every lead now carries its zone key: the sleeping ones are one key, not 450 rows.
    assert set(Contact.objects.filter(campaign=campaign).values_list("dial_zone", flat=True)) == {
        night_zone(),
        daytime_zone(),
    }


def test_only_sleeping_leads_answer_when_their_window_opens(campaign, caller):
    leads_in_bulk(campaign, [night_zone()] * 450)
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.NoLead)
    assert found.details == ["leads are outside their calling window"]
    assert found.retry_at is not None
    assert found.retry_at > timezone.now()


def test_a_stale_zone_key_is_corrected_and_the_lead_passed_by(campaign, caller):
    target = lead(campaign, "Moved", number="+16785551001", time_zone=daytime_zone())
    assert next_id(campaign, caller) == target.pk
    dialing.lead_release(contact=target)
    # Its zone changes behind the key's back (an edit that did not reset it).
    Contact.objects.filter(pk=target.pk).update(time_zone=night_zone())
    assert next_id(campaign, caller) is None
    assert Contact.objects.get(pk=target.pk).dial_zone == night_zone()


def test_leads_not_prepared_within_the_request_ask_the_caller_to_come_back(
    campaign, caller, monkeypatch
):
    monkeypatch.setattr(dialing, "FILL_IN_REQUEST", 10)
    monkeypatch.setattr(dialing, "MAX_PICKS", 5)
    leads_in_bulk(campaign, [night_zone()] * 40 + [daytime_zone()])
    found = dialing.lead_next(campaign=campaign, caller=caller)
    assert isinstance(found, dialing.NoLead)
    assert found.details == ["leads are being prepared"]
    # The worker's fill (campaigns.tasks.lead_zones_fill) gives every lead its key.
    from campaigns import dialing_zones

    dialing_zones.lead_zones_fill_all(campaign_id=campaign.pk)
    assert not Contact.objects.filter(campaign=campaign, dial_zone="").exists()
    awake = Contact.objects.get(campaign=campaign, name="Lead 40")
    assert next_id(campaign, caller) == awake.pk


def test_wrong_number_resets_the_zone_key_to_its_other_number(campaign, caller):
    target = lead(campaign, "Two numbers", number="+16785551001", mobile="+12125551002")
    assert next_id(campaign, caller) == target.pk
    assert Contact.objects.get(pk=target.pk).dial_zone == daytime_zone()
    started = place(campaign, caller, target)
    calling.call_outcome_log(call=started.call, outcome="Wrong number", by=caller)
    # Worked out again from what is left when next asked for.
    assert Contact.objects.get(pk=target.pk).dial_zone == ""


def test_a_listed_number_found_by_the_pick_is_disqualified_in_the_campaign(campaign, caller):
    listed = lead(campaign, "Listed", number="+16785551001")
    callable_lead = lead(campaign, "Callable", number="+16785551002")
    # Listed without its campaign row (as a row written before the listing committed).
    DoNotCallNumber.objects.create(number="+16785551001", reason="asked")
    assert next_id(campaign, caller) == callable_lead.pk
    assert CampaignPhone.objects.get(pk=listed.phone_id).status == Status.DISQUALIFIED
