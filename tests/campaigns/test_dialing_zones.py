"""Zone keys worked out in bulk (campaigns/dialing_zones.py, docs/dialing.md "Next lead"):
the set-based fill gives every lead the key the lead-by-lead reading gives it."""

import pytest

from campaigns import dialing_zones
from campaigns.models import CampaignPhone, Contact, Queue, Status
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db

# name: (own zone, extra columns, phone, mobile)
LEADS = {
    "own zone": ("America/Chicago", {}, "+12125551001", None),
    "unknown own zone, padded column": ("Mars/Base", {"timezone": " Europe/Paris\t"}, None, None),
    "column not text, then tz": ("", {"time_zone": 5, "tz": "Asia/Tokyo"}, None, None),
    "column named Time Zone": ("", {"Time Zone": "Australia/Perth"}, "+12125551002", None),
    "unknown column zone": ("", {"time_zone": "Nowhere"}, "+13125551003", None),
    "new york number": ("", {}, "+12125551004", None),
    "chicago mobile only": ("", {}, None, "+13125551005"),
    "spanning area code": ("", {}, "+16055551006", None),
    "toll free": ("", {}, "+18005550107", None),
    "london": ("", {}, "+442079460008", None),
    "guernsey": ("", {}, "+441481256789", None),
    "paris": ("", {}, "+33142685309", None),
    "no numbers": ("", {}, None, None),
}


@pytest.fixture
def leads(campaign):
    made = {}
    for name, (own, extra, number, mobile) in LEADS.items():
        contact = lead(campaign, name, number=number, mobile=mobile, time_zone=own)
        Contact.objects.filter(pk=contact.pk).update(extra=extra)
        made[name] = contact.pk
    # A wrong phone: the key is its mobile's; a disqualified one with nothing else: its own.
    wrong = lead(
        campaign, "wrong phone", number="+12125551010", mobile="+13125551011", time_zone=""
    )
    Contact.objects.filter(pk=wrong.pk).update(phone_wrong=True)
    dead = lead(campaign, "disqualified phone", number="+13125551012", time_zone="")
    CampaignPhone.objects.filter(pk=dead.phone_id).update(status=Status.DISQUALIFIED)
    made["wrong phone"], made["disqualified phone"] = wrong.pk, dead.pk
    Contact.objects.filter(campaign=campaign).update(dial_zone="")
    return made


def lead_by_lead(pk):
    contact = Contact.objects.select_related("phone", "mobile").get(pk=pk)
    return dialing_zones.zone_key_of(contact)


def test_the_bulk_fill_gives_each_lead_the_key_read_lead_by_lead(campaign, leads):
    assert dialing_zones.lead_zones_fill_all(campaign_id=campaign.pk) == len(leads)
    keys = dict(Contact.objects.filter(campaign=campaign).values_list("pk", "dial_zone"))
    expected = {pk: lead_by_lead(pk) for pk in leads.values()}
    assert keys == expected
    by_name = {name: keys[pk] for name, pk in leads.items()}
    assert by_name["own zone"] == "America/Chicago"
    assert by_name["unknown own zone, padded column"] == "Europe/Paris"
    assert by_name["column not text, then tz"] == "Asia/Tokyo"
    assert by_name["wrong phone"] == "America/Chicago"
    assert by_name["new york number"] == "America/New_York"
    assert len(by_name["spanning area code"].split()) == 2  # the most restrictive reads both


def test_a_request_fills_its_share_in_queue_order(campaign, leads, monkeypatch):
    callback = leads["london"]
    Contact.objects.filter(pk=callback).update(queue=Queue.CALLBACK)
    assert dialing_zones.lead_zones_fill(campaign_id=campaign.pk, limit=3) == 3
    filled = Contact.objects.filter(campaign=campaign).exclude(dial_zone="")
    # Callbacks first, then fresh leads in upload order.
    assert sorted(filled.values_list("pk", flat=True)) == sorted(
        [callback, leads["own zone"], leads["unknown own zone, padded column"]]
    )
    assert Contact.objects.get(pk=callback).dial_zone == lead_by_lead(callback)


def test_done_leads_are_left_alone(campaign, leads):
    Contact.objects.filter(pk=leads["paris"]).update(queue=Queue.DONE)
    assert dialing_zones.lead_zones_fill_all(campaign_id=campaign.pk) == len(leads) - 1
    assert Contact.objects.get(pk=leads["paris"]).dial_zone == ""


def test_a_re_upload_that_gives_a_lead_a_number_re_keys_it(
    campaign, upload_csv, django_capture_on_commit_callbacks, eager_tasks
):
    header = "First Name,Email,Phone,Mobile\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload_csv(campaign, header + "Ann,ann@example.com,,+1 312 555 0101\n")
    ann = Contact.objects.get(campaign=campaign, email="ann@example.com")
    assert ann.dial_zone == "America/Chicago"  # keyed by the fill the import queued
    # Her mobile was a wrong number; the file comes again with a New York phone for her.
    Contact.objects.filter(pk=ann.pk).update(mobile_wrong=True)
    with django_capture_on_commit_callbacks(execute=True):
        upload_csv(campaign, header + "Ann,ann@example.com,+1 212 555 0102,+1 312 555 0101\n")
    ann.refresh_from_db()
    assert ann.phone.number == "+12125550102"
    assert ann.dial_zone == "America/New_York"
