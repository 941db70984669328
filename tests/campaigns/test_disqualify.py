import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import selectors, services
from campaigns.models import Campaign, CampaignPhone, Contact, Disposition, DoNotCallNumber

pytestmark = pytest.mark.django_db

SHARED = "+16789998212"


def statuses(campaign: Campaign) -> dict[str, tuple[str | None, str | None]]:
    return {
        c.email: (c.phone.status if c.phone else None, c.mobile.status if c.mobile else None)
        for c in Contact.objects.filter(campaign=campaign).select_related("phone", "mobile")
    }


def test_disqualifying_a_number_reaches_every_contact_carrying_it(seeded, caller):
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    disposition = services.campaign_phone_disqualify(phone=phone, by=caller, reason="retired")
    after = statuses(seeded)
    assert after["john.smith@kw.example.com"] == ("active", "disqualified")
    assert after["jrsmith@kwrealty.example.com"] == (None, "disqualified")
    assert after["priya.patel@kw.example.com"] == ("active", None)
    assert (disposition.by, disposition.note, disposition.number) == (caller, "retired", SHARED)
    assert disposition.outcome == Disposition.Outcome.DISQUALIFIED


def test_disqualify_is_a_constant_handful_of_queries(seeded, caller):
    phone = selectors.campaign_phone_get(campaign=seeded, raw_number=SHARED)
    with CaptureQueriesContext(connection) as queries:
        phone = selectors.campaign_phone_get(campaign=seeded, raw_number="(678)-999 8212")
        services.campaign_phone_disqualify(phone=phone, by=caller, reason="retired")
    assert len(queries) <= 5, [q["sql"] for q in queries]


def test_campaign_scope_leaves_other_campaigns_alone(seeded, upload_csv, caller):
    from tests.campaigns.lead_files import SEED_CSV

    other = Campaign.objects.create(name="Other")
    upload_csv(other, SEED_CSV + "\n")
    assert Contact.objects.filter(campaign=other).count() == 5  # dedup is per campaign
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    services.campaign_phone_disqualify(phone=phone, by=caller, reason="retired")
    assert CampaignPhone.objects.get(campaign=other, number=SHARED).status == "active"
    assert not DoNotCallNumber.objects.exists()


def test_everywhere_scope_reaches_every_campaign_and_future_uploads(seeded, upload_csv, caller):
    from tests.campaigns.lead_files import SEED_CSV

    other = Campaign.objects.create(name="Other")
    upload_csv(other, SEED_CSV + "\n")
    assert Contact.objects.filter(campaign=other).count() == 5  # dedup is per campaign
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    services.campaign_phone_disqualify(phone=phone, by=caller, reason="asked", scope="everywhere")
    assert CampaignPhone.objects.get(campaign=other, number=SHARED).status == "disqualified"
    assert CampaignPhone.objects.get(campaign=other, number="+12127612846").status == "active"

    later = Campaign.objects.create(name="Later")
    upload = upload_csv(later, SEED_CSV + "\n\n")
    assert Contact.objects.filter(campaign=later).count() == 5
    arrived = CampaignPhone.objects.get(campaign=later, number=SHARED)
    assert (arrived.status, arrived.status_scope, arrived.status_reason) == (
        "disqualified",
        "everywhere",
        "asked",
    )
    assert upload.numbers_do_not_call == 1


def test_disqualify_needs_a_reason_and_is_not_repeated(seeded, caller):
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    with pytest.raises(ValidationError, match="reason"):
        services.campaign_phone_disqualify(phone=phone, by=caller, reason="  ")
    services.campaign_phone_disqualify(phone=phone, by=caller, reason="retired")
    with pytest.raises(ValidationError, match="already"):
        services.campaign_phone_disqualify(phone=phone, by=caller, reason="again")


def test_contact_and_account_disqualification(seeded, caller):
    john = Contact.objects.get(campaign=seeded, email="john.smith@kw.example.com")
    services.contact_disqualify(contact=john, by=caller, reason="retired")
    services.account_disqualify(account=john.account, by=caller, reason="no budget")
    john.refresh_from_db()
    john.account.refresh_from_db()
    assert (john.status, john.account.status) == ("disqualified", "disqualified")
    # The other John at the other account is untouched: that is what number scope is for.
    other = Contact.objects.get(campaign=seeded, email="jrsmith@kwrealty.example.com")
    assert (other.status, other.account.status) == ("active", "active")
    assert Disposition.objects.filter(campaign=seeded, outcome="disqualified").count() == 2


def test_an_administrator_undoes_a_disqualification_and_it_is_logged(seeded, caller, administrator):
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    disposition = services.campaign_phone_disqualify(phone=phone, by=caller, reason="retired")
    with pytest.raises(PermissionDenied):
        services.disposition_undo(disposition=disposition, by=caller)
    undo = services.disposition_undo(disposition=disposition, by=administrator, note="wrong person")
    phone.refresh_from_db()
    assert phone.status == "active"
    assert (undo.outcome, undo.undoes, undo.by) == ("requalified", disposition, administrator)
    with pytest.raises(ValidationError, match="already"):
        services.disposition_undo(disposition=disposition, by=administrator)


def test_undoing_everywhere_reactivates_every_campaign_and_clears_the_list(
    seeded, upload_csv, caller, administrator
):
    from tests.campaigns.lead_files import SEED_CSV

    other = Campaign.objects.create(name="Other")
    upload_csv(other, SEED_CSV + "\n")
    assert Contact.objects.filter(campaign=other).count() == 5  # dedup is per campaign
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    disposition = services.campaign_phone_disqualify(
        phone=phone, by=caller, reason="asked", scope="everywhere"
    )
    services.disposition_undo(disposition=disposition, by=administrator)
    assert set(CampaignPhone.objects.filter(number=SHARED).values_list("status", flat=True)) == {
        "active"
    }
    assert not DoNotCallNumber.objects.exists()


def test_undoing_contact_and_account_disqualifications(seeded, caller, administrator):
    john = Contact.objects.get(campaign=seeded, email="john.smith@kw.example.com")
    for disposition in (
        services.contact_disqualify(contact=john, by=caller, reason="x"),
        services.account_disqualify(account=john.account, by=caller, reason="y"),
    ):
        services.disposition_undo(disposition=disposition, by=administrator)
    john.refresh_from_db()
    john.account.refresh_from_db()
    assert (john.status, john.account.status) == ("active", "active")


def test_logging_an_outcome(seeded, caller):
    john = Contact.objects.get(campaign=seeded, email="john.smith@kw.example.com")
    entry = services.disposition_log(contact=john, by=caller, outcome="voicemail", note="left one")
    assert (entry.target, entry.contact, entry.note) == ("contact", john, "left one")
    with pytest.raises(ValidationError):
        services.disposition_log(contact=john, by=caller, outcome="disqualified")


def test_dialing_numbers_follow_the_replacement_chain(seeded):
    from telephony.models import OwnedNumber

    new = OwnedNumber.objects.create(number="+14045550999", label="new")
    old = OwnedNumber.objects.create(
        number="+14045550998", label="old", status="released", replaced_by=new
    )
    seeded.caller_ids.add(old)
    assert selectors.campaign_dialing_numbers(campaign=seeded) == [new]
