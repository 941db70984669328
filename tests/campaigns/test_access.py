"""The role matrix on every campaigns page and endpoint: a test per role."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.export import spreadsheet_safe
from campaigns.models import CampaignPhone, Contact, Disposition, LeadUpload
from tests.campaigns.lead_files import SEED_CSV

pytestmark = pytest.mark.django_db

SHARED = "+16789998212"


@pytest.fixture
def assigned_caller(seeded, caller):
    seeded.callers.add(caller)
    return caller


def test_callers_see_only_their_assigned_campaigns(client, seeded, make_user, assigned_caller):
    other_caller = make_user("Caller", username="other-caller")
    client.force_login(assigned_caller)
    assert seeded.name in client.get(reverse("campaigns:list")).content.decode()
    assert client.get(reverse("campaigns:detail", args=[seeded.pk])).status_code == 200
    client.force_login(other_caller)
    page = client.get(reverse("campaigns:list")).content.decode()
    assert seeded.name not in page
    assert "No campaign is assigned to you" in page
    assert client.get(reverse("campaigns:detail", args=[seeded.pk])).status_code == 404


def test_agents_and_anonymous_users_have_no_workspace(client, seeded, agent):
    response = client.get(reverse("campaigns:detail", args=[seeded.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("campaigns:login"))
    client.force_login(agent)
    assert client.get(reverse("campaigns:list")).status_code == 403
    assert client.get(reverse("campaigns:detail", args=[seeded.pk])).status_code == 403


def test_campaign_page_lists_contacts_with_accounts_numbers_and_search(
    client, seeded, assigned_caller
):
    client.force_login(assigned_caller)
    page = client.get(reverse("campaigns:detail", args=[seeded.pk])).content.decode()
    for text in ("John R. Smith", "KW Realty", "Keller Williams", SHARED, "badge-active"):
        assert text in page
    found = client.get(reverse("campaigns:detail", args=[seeded.pk]), {"q": "(678)-999 8212"})
    assert [c.email for c in found.context["page"].object_list] == [
        "john.smith@kw.example.com",
        "jrsmith@kwrealty.example.com",
    ]
    by_company = client.get(reverse("campaigns:detail", args=[seeded.pk]), {"q": "kw real"})
    assert [c.name for c in by_company.context["page"].object_list] == ["John R. Smith"]
    nothing = client.get(reverse("campaigns:detail", args=[seeded.pk]), {"q": "zzz"})
    assert "No contact matches" in nothing.content.decode()


def test_caller_disqualifies_a_number_from_the_workspace(client, seeded, assigned_caller):
    client.force_login(assigned_caller)
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    url = reverse("campaigns:phone-disqualify", args=[seeded.pk, phone.pk])
    response = client.post(url, {"reason": "retired", "scope": "campaign"}, follow=True)
    assert response.status_code == 200
    phone.refresh_from_db()
    assert phone.status == "disqualified"
    assert response.content.decode().count("Disqualified</span>") >= 2
    # Without a reason nothing happens and the caller is told why.
    other = CampaignPhone.objects.get(campaign=seeded, number="+12127612846")
    url = reverse("campaigns:phone-disqualify", args=[seeded.pk, other.pk])
    response = client.post(url, {"reason": ""}, follow=True)
    assert "reason is required" in response.content.decode()
    other.refresh_from_db()
    assert other.status == "active"


def test_caller_disqualifies_contact_and_account_and_logs_an_outcome(
    client, seeded, assigned_caller
):
    client.force_login(assigned_caller)
    john = Contact.objects.get(campaign=seeded, email="john.smith@kw.example.com")
    client.post(reverse("campaigns:contact-disqualify", args=[seeded.pk, john.pk]), {"reason": "x"})
    client.post(
        reverse("campaigns:account-disqualify", args=[seeded.pk, john.account_id]), {"reason": "y"}
    )
    client.post(
        reverse("campaigns:contact-log", args=[seeded.pk, john.pk]),
        {"outcome": "voicemail", "note": "left one"},
    )
    assert set(Disposition.objects.filter(campaign=seeded).values_list("target", "outcome")) == {
        ("contact", "disqualified"),
        ("account", "disqualified"),
        ("contact", "voicemail"),
    }


def test_only_administrators_undo_export_and_upload(client, seeded, assigned_caller, administrator):
    phone = CampaignPhone.objects.get(campaign=seeded, number=SHARED)
    client.force_login(assigned_caller)
    client.post(
        reverse("campaigns:phone-disqualify", args=[seeded.pk, phone.pk]), {"reason": "retired"}
    )
    disposition = Disposition.objects.get(phone=phone)
    undo_url = reverse("campaigns:disposition-undo", args=[seeded.pk, disposition.pk])
    assert client.post(undo_url).status_code == 403
    assert client.get(reverse("campaigns:export", args=[seeded.pk])).status_code == 403
    assert (
        client.get(reverse("admin:campaigns_campaign_upload", args=[seeded.pk])).status_code == 302
    )
    assert "Undo" not in client.get(reverse("campaigns:log", args=[seeded.pk])).content.decode()

    client.force_login(administrator)
    assert client.post(undo_url).status_code == 302
    phone.refresh_from_db()
    assert phone.status == "active"
    assert client.get(reverse("campaigns:export", args=[seeded.pk])).status_code == 200
    assert (
        client.get(reverse("admin:campaigns_campaign_upload", args=[seeded.pk])).status_code == 200
    )


def test_export_is_safe_against_spreadsheet_formulas(client, campaign, upload_csv, administrator):
    upload_csv(
        campaign, "name,email,company,phone\n=HYPERLINK(1),a@example.com,+Acme,678 999 8212\n"
    )
    client.force_login(administrator)
    response = client.get(reverse("campaigns:export", args=[campaign.pk]))
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK(1)" in body
    assert "'+Acme" in body
    assert "'+16789998212" not in body  # a phone number is no formula (test_export.py)
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("\tx") == "'\tx"
    assert spreadsheet_safe("plain") == "plain"


def test_admin_upload_page_progress_and_receipt(
    client, campaign, administrator, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
            {"file": SimpleUploadedFile("leads.csv", SEED_CSV.encode(), content_type="text/csv")},
        )
    upload = LeadUpload.objects.get(campaign=campaign)
    assert response.status_code == 302
    page = client.get(reverse("admin:campaigns_leadupload_change", args=[upload.pk]))
    assert b"<progress" in page.content
    from campaigns import services

    services.lead_upload_import(upload_id=upload.pk)
    page = client.get(
        reverse("admin:campaigns_leadupload_change", args=[upload.pk])
    ).content.decode()
    assert "Contacts created:     5" in page
    csv = client.get(reverse("admin:campaigns_leadupload_rejections", args=[upload.pk]))
    assert b"".join(csv.streaming_content).startswith(b"row,column,value,reason,row_kept")


def test_data_quality_page(client, seeded, assigned_caller):
    client.force_login(assigned_caller)
    page = client.get(reverse("campaigns:quality", args=[seeded.pk])).content.decode()
    assert "Numbers shared by several contacts" in page
    quality = client.get(reverse("campaigns:quality", args=[seeded.pk])).context["quality"]
    assert {p.number for p in quality.shared_by_accounts} == {"+16789998212", "+18327234097"}


# --- API -------------------------------------------------------------------------------


def test_api_phone_counts_and_disqualify(api_client, seeded, assigned_caller):
    api_client.force_authenticate(assigned_caller)
    listing = api_client.get(f"/api/campaigns/{seeded.pk}/phones/")
    assert listing.status_code == 200
    counts = {row["number"]: row["contact_count"] for row in listing.json()["results"]}
    assert counts == {"+12127612846": 2, "+16789998212": 2, "+18327234097": 2}

    response = api_client.post(
        f"/api/campaigns/{seeded.pk}/phones/%2B16789998212/disqualify/",
        {"reason": "retired"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["phone"]["status"] == "disqualified"
    assert response.json()["disposition"]["note"] == "retired"

    unknown = api_client.post(
        f"/api/campaigns/{seeded.pk}/phones/+14045559999/disqualify/",
        {"reason": "x"},
        format="json",
    )
    assert unknown.status_code == 404
    garbage = api_client.post(
        f"/api/campaigns/{seeded.pk}/phones/not-a-number/disqualify/",
        {"reason": "x"},
        format="json",
    )
    assert garbage.status_code == 400
    no_reason = api_client.post(
        f"/api/campaigns/{seeded.pk}/phones/+12127612846/disqualify/", {}, format="json"
    )
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()


def test_api_roles(api_client, seeded, caller, agent, administrator):
    url = f"/api/campaigns/{seeded.pk}/phones/"
    assert api_client.get(url).status_code in (401, 403)
    api_client.force_authenticate(agent)
    assert api_client.get(url).status_code == 403
    api_client.force_authenticate(caller)  # not assigned: the campaign does not exist for them
    assert api_client.get(url).status_code == 404
    upload = SimpleUploadedFile("leads.csv", SEED_CSV.encode(), content_type="text/csv")
    seeded.callers.add(caller)
    assert (
        api_client.post(f"/api/campaigns/{seeded.pk}/uploads/", {"file": upload}).status_code == 403
    )
    api_client.force_authenticate(administrator)
    assert api_client.get(url).status_code == 200


def test_api_upload_returns_the_upload_with_its_progress_url(
    api_client, campaign, administrator, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(administrator)
    upload = SimpleUploadedFile("leads.csv", SEED_CSV.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(f"/api/campaigns/{campaign.pk}/uploads/", {"file": upload})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert len(callbacks) == 1  # the import is queued after commit
    progress = api_client.get(body["progress_url"])
    assert progress.status_code == 200
    assert progress.json()["id"] == body["id"]
    missing = api_client.post(f"/api/campaigns/{campaign.pk}/uploads/", {})
    assert missing.status_code == 400


@pytest.mark.parametrize(
    "model",
    [
        "campaign",
        "account",
        "contact",
        "campaignphone",
        "leadupload",
        "disposition",
        "donotcallnumber",
    ],
)
def test_admin_pages_answer_administrators_and_refuse_agents(
    client, seeded, administrator, agent, model
):
    url = reverse(f"admin:campaigns_{model}_changelist")
    client.force_login(administrator)
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "(678)-999 8212"}).status_code == 200
    client.force_login(agent)
    assert client.get(url).status_code == 403


def test_a_broad_search_stops_at_the_cap_and_says_so(
    client, campaign, upload_csv, assigned_caller, monkeypatch
):
    from campaigns import selectors

    monkeypatch.setattr(selectors, "SEARCH_MATCH_CAP", 3)
    rows = "".join(f"Smithers {i},s{i}@example.com,404 555 01{i:02d}\n" for i in range(5))
    upload_csv(campaign, "name,email,phone\n" + rows + "Jones,j@example.com,404 555 0199\n")
    campaign.callers.add(assigned_caller)
    client.force_login(assigned_caller)
    found = client.get(reverse("campaigns:detail", args=[campaign.pk]), {"q": "smithe"})
    names = [c.name for c in found.context["page"].object_list]
    assert names == ["Smithers 0", "Smithers 1", "Smithers 2"]
    assert "Showing the first 3 matches" in found.content.decode()
    narrow = client.get(reverse("campaigns:detail", args=[campaign.pk]), {"q": "jon"})
    assert [c.name for c in narrow.context["page"].object_list] == ["Jones"]
    assert "Showing the first" not in narrow.content.decode()


@pytest.mark.postgresql
def test_the_contact_list_estimates_a_large_campaign_from_its_partition(
    client, seeded, assigned_caller, monkeypatch
):
    from django.db import connection

    from crm import admin_utils

    monkeypatch.setattr(admin_utils, "EXACT_COUNT_BELOW", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_contact")
    client.force_login(assigned_caller)
    page = client.get(reverse("campaigns:detail", args=[seeded.pk]))
    assert page.context["page"].paginator.is_estimate
    assert page.context["page"].paginator.count == 5
    searched = client.get(reverse("campaigns:detail", args=[seeded.pk]), {"q": "john"})
    assert not searched.context["page"].paginator.is_estimate
