"""The do-not-call list: shown on the number everywhere, added and imported by
Administrators only, a streaming import that reports bad lines, uploads that count and
skip listed numbers (docs/dialing.md, "Do not call")."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import calling, dnc, selectors, services
from campaigns.models import CampaignPhone, Disposition, DoNotCallImport, DoNotCallNumber, Status
from crm.models import Customer, PhoneNumber
from tests.campaigns.conftest import SEED_CSV

pytestmark = pytest.mark.django_db

FILE = (
    "phone\n"  # a header line is skipped, not reported
    "(212) 761-2846\n"
    "+1 678 999 8212\n"
    "\n"
    "832,7234097\n"  # the national registry's area code,number
    "not a number\n"
    "555,12\n"
    "12345\n"
    "2127612846\n"  # twice in the file: counted once
    "\x00\n"
)


def run_import(text: str | bytes, *, reason: str = "", by_id=None):
    data = text.encode() if isinstance(text, str) else text
    return dnc.numbers_import(binary=io.BytesIO(data), reason=reason, by_id=by_id)


def test_parse_line_reads_both_formats_and_refuses_the_rest():
    assert dnc.parse_line("(212) 761-2846\n", "US") == "+12127612846"
    assert dnc.parse_line("212,7612846", "US") == "+12127612846"
    assert dnc.parse_line(" \r\n", "US") is None
    assert dnc.parse_line("AreaCode,PhoneNumber", "US", first=True) is None
    with pytest.raises(dnc.InvalidPhoneNumber):
        dnc.parse_line("AreaCode,PhoneNumber", "US")
    for bad in ("212,761,2846", "21,7612846", "not a number 12", "1" * 80, "212\x00761"):
        with pytest.raises(dnc.InvalidPhoneNumber):
            dnc.parse_line(bad, "US")


def test_import_adds_numbers_reports_bad_lines_and_disqualifies_leads(seeded, administrator):
    DoNotCallNumber.objects.create(number="+18327234097", reason="earlier")
    total, state = run_import(FILE, reason="registry", by_id=administrator.pk)
    assert set(DoNotCallNumber.objects.values_list("number", flat=True)) == {
        "+12127612846",
        "+16789998212",
        "+18327234097",
    }
    assert (total.added, total.already) == (2, 1)
    assert state.lines == 10
    assert state.rejected == 4
    assert [r[0] for r in state.rejections] == [6, 7, 8, 10]
    # Every campaign row for a newly listed number is disqualified everywhere, and logged.
    for number in ("+12127612846", "+16789998212"):
        phone = CampaignPhone.objects.get(campaign=seeded, number=number)
        assert (phone.status, phone.status_scope) == (Status.DISQUALIFIED, "everywhere")
        assert Disposition.objects.filter(number=number, note="registry").exists()
    assert total.leads == 2
    # Importing again adds nothing and disqualifies nothing twice.
    again, _ = run_import(FILE)
    assert (again.added, again.leads) == (0, 0)


def test_import_streams_in_batches(monkeypatch):
    monkeypatch.setattr(dnc, "BATCH", 3)
    lines = "".join(f"212555{n:04d}\n" for n in range(10))
    total, state = run_import(lines)
    assert (total.added, state.lines, state.rejected) == (10, 10, 0)
    assert DoNotCallNumber.objects.count() == 10


def test_import_of_a_file_that_is_not_text_reports_lines_and_does_not_fail():
    total, state = run_import(b"\xff\xfe\x00\x01garbage\n2125550147\n")
    assert total.added == 1
    assert state.rejected == 1


def test_import_run_writes_the_receipt(administrator):
    job = DoNotCallImport.objects.create(original_name="dnc.txt", uploaded_by=administrator)
    job.file.save("dnc.txt", ContentFile(FILE.encode()), save=True)
    done = dnc.import_run(import_id=job.pk)
    assert done.status == DoNotCallImport.State.DONE
    assert (done.lines_read, done.numbers_added, done.lines_rejected) == (10, 3, 4)
    assert done.rejections[0] == [6, "not a number", done.rejections[0][2]]
    # A finished import is never run twice.
    assert dnc.import_run(import_id=job.pk).numbers_added == 3


def test_import_of_a_vanished_file_fails_with_the_reason(administrator):
    job = DoNotCallImport.objects.create(original_name="gone.txt", file="do_not_call/gone.txt")
    done = dnc.import_run(import_id=job.pk)
    assert done.status == DoNotCallImport.State.FAILED
    assert "could not be read" in done.error


# --- roles -----------------------------------------------------------------------------


def test_only_administrators_import_in_the_admin(client, administrator, agent, caller):
    url = "/admin/campaigns/donotcallnumber/import/"
    for user in (agent, caller):
        client.force_login(user)
        response = client.post(url, {"file": SimpleUploadedFile("d.txt", b"2125550147\n")})
        assert response.status_code in (302, 403)
        assert not DoNotCallImport.objects.exists()
    client.force_login(administrator)
    assert client.get(url).status_code == 200
    listing = client.get("/admin/campaigns/donotcallnumber/")
    assert b"Import a file" in listing.content


def test_administrator_imports_a_file_and_sees_the_receipt(
    client, administrator, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            "/admin/campaigns/donotcallnumber/import/",
            {"file": SimpleUploadedFile("dnc.txt", FILE.encode()), "reason": "registry"},
        )
    assert response.status_code == 302
    assert len(queued) == 1
    job = DoNotCallImport.objects.get()
    assert job.status == DoNotCallImport.State.QUEUED
    dnc.import_run(import_id=job.pk)
    receipt = client.get(response["Location"])
    assert receipt.status_code == 200
    assert b'data-count="numbers_added">3<' in receipt.content
    assert b"not a number" in receipt.content


def test_administrator_adds_one_number_in_the_admin(client, administrator, seeded):
    client.force_login(administrator)
    response = client.post(
        "/admin/campaigns/donotcallnumber/add/", {"number": "(212) 761-2846", "reason": "asked"}
    )
    assert response.status_code == 302
    assert DoNotCallNumber.objects.get().number == "+12127612846"
    phone = CampaignPhone.objects.get(campaign=seeded, number="+12127612846")
    assert phone.status == Status.DISQUALIFIED
    bad = client.post("/admin/campaigns/donotcallnumber/add/", {"number": "12", "reason": ""})
    assert bad.status_code == 200
    assert DoNotCallNumber.objects.count() == 1


def test_api_posts_a_file_for_administrators_only(
    api_client, administrator, agent, caller, django_capture_on_commit_callbacks, eager_tasks
):
    for user in (agent, caller):
        api_client.force_authenticate(user)
        response = api_client.post(
            "/api/do-not-call/", {"file": io.BytesIO(b"2125550147\n")}, format="multipart"
        )
        assert response.status_code == 403
    api_client.force_authenticate(administrator)
    upload = SimpleUploadedFile("dnc.txt", FILE.encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/do-not-call/", {"file": upload, "reason": "registry"}, format="multipart"
        )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    done = api_client.get(f"/api/do-not-call/imports/{job_id}/").json()
    assert (done["status"], done["numbers_added"], done["lines_rejected"]) == ("done", 3, 4)
    api_client.force_authenticate(caller)
    assert api_client.get(f"/api/do-not-call/imports/{job_id}/").status_code == 403
    # Sent as JSON, a "file" is refused with a reason rather than read as a number.
    api_client.force_authenticate(administrator)
    refused = api_client.post("/api/do-not-call/", {"file": "x"}, format="json")
    assert refused.status_code == 400


# --- shown on the number --------------------------------------------------------------


def test_customers_api_says_do_not_call_on_each_number(api_client, administrator):
    customer = Customer.objects.create(name="Ann")
    PhoneNumber.objects.create(customer=customer, number="+12125550147", type="mobile")
    PhoneNumber.objects.create(customer=customer, number="+12125550148", type="landline")
    DoNotCallNumber.objects.create(number="+12125550147", reason="asked")
    api_client.force_authenticate(administrator)
    numbers = api_client.get(f"/api/customers/{customer.pk}/").json()["numbers"]
    assert {n["number"]: n["do_not_call"] for n in numbers} == {
        "+12125550147": True,
        "+12125550148": False,
    }


def test_customers_api_looks_the_list_up_once_per_response(api_client, administrator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(6):
        customer = Customer.objects.create(name=f"Customer {i}")
        for j in range(2):
            PhoneNumber.objects.create(customer=customer, number=f"+1212555{i}{j:03d}")
    DoNotCallNumber.objects.create(number="+12125553001", reason="asked")
    api_client.force_authenticate(administrator)
    with CaptureQueriesContext(connection) as queries:
        answer = api_client.get("/api/customers/")
    assert answer.status_code == 200
    flags = {n["number"]: n["do_not_call"] for c in answer.json()["results"] for n in c["numbers"]}
    assert len(flags) == 12
    assert [e164 for e164, listed in flags.items() if listed] == ["+12125553001"]
    lookups = [q for q in queries.captured_queries if "campaigns_donotcallnumber" in q["sql"]]
    assert len(lookups) == 1


def test_profile_and_number_view_show_do_not_call(client, administrator):
    customer = Customer.objects.create(name="Ann")
    PhoneNumber.objects.create(customer=customer, number="+12125550147", type="mobile")
    client.force_login(administrator)
    page = client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "sb-flag-do_not_call" not in page
    DoNotCallNumber.objects.create(number="+12125550147", reason="asked")
    page = client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "sb-flag-do_not_call" in page
    listing = client.get("/admin/crm/customer/").content.decode()
    assert "sb-flag-do_not_call" in listing
    view = client.get("/admin/telephony/number/+12125550147/")
    if view.status_code == 404:  # the number view's address
        from django.urls import reverse

        view = client.get(reverse("admin:telephony_number", args=["+12125550147"]))
    assert 'data-do-not-call="true"' in view.content.decode()


def test_campaign_pages_badge_listed_numbers(client, caller, seeded):
    DoNotCallNumber.objects.create(number="+12127612846", reason="asked")
    seeded.callers.add(caller)
    client.force_login(caller)
    page = client.get(f"/campaigns/{seeded.pk}/").content.decode()
    assert 'data-do-not-call="+12127612846"' in page


# --- uploads ---------------------------------------------------------------------------


def test_upload_preview_counts_listed_numbers_and_the_import_skips_them(campaign):
    calling.do_not_call_add(number="+12127612846", reason="asked", by=None)
    calling.do_not_call_add(number="+16789998212", reason="asked", by=None)
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="l.csv"), uploaded_by=None
    )
    assert selectors.lead_upload_preview(upload=upload).do_not_call == 2
    done = services.lead_upload_import(upload_id=upload.pk)
    assert done.numbers_do_not_call == 2
    for number in ("+12127612846", "+16789998212"):
        phone = CampaignPhone.objects.get(campaign=campaign, number=number)
        assert phone.status == Status.DISQUALIFIED


def test_upload_preview_reads_nothing_while_the_list_is_empty(campaign, monkeypatch):
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="l.csv"), uploaded_by=None
    )
    monkeypatch.setattr(dnc, "normalize_stripped", None)  # would fail if called
    assert selectors.lead_upload_preview(upload=upload).do_not_call == 0


def test_workspace_shows_a_leads_listed_number_without_a_call_button(client, caller):
    from django.urls import reverse

    from campaigns.models import Campaign
    from telephony.models import OwnedNumber
    from tests.campaigns.dialing_helpers import lead

    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    lead(campaign, "Ada Lovelace", number="+16785551001", mobile="+16785551002")
    # Listed without its leads disqualified yet: the workspace still never offers it.
    DoNotCallNumber.objects.create(number="+16785551002", reason="asked")
    client.force_login(caller)
    page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert 'data-do-not-call="+16785551002"' in page
    assert "Call (678) 555-1001" in page or 'value="+16785551001"' in page
    assert 'value="+16785551002"' not in page
