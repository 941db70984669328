import pytest
from django.urls import reverse

from campaigns import ingest, services
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    LeadUpload,
)
from tests.campaigns.lead_files import SEED_CSV

pytestmark = pytest.mark.django_db


def _contents(campaign_id: int) -> tuple[int, int, int, int, int]:
    return (
        Contact.objects.filter(campaign_id=campaign_id).count(),
        CampaignPhone.objects.filter(campaign_id=campaign_id).count(),
        Account.objects.filter(campaign_id=campaign_id).count(),
        LeadUpload.objects.filter(campaign_id=campaign_id).count(),
        Disposition.objects.filter(campaign_id=campaign_id).count(),
    )


def test_the_admin_deletes_a_campaign_with_everything_in_it_and_nothing_else(
    client, seeded, upload_csv, administrator
):
    other = Campaign.objects.create(name="Other")
    upload_csv(other, SEED_CSV, name="other.csv")
    assert Contact.objects.filter(campaign=other).count() == 5  # dedup is per campaign
    phone = CampaignPhone.objects.filter(campaign=seeded).first()
    services.campaign_phone_disqualify(phone=phone, by=administrator, reason="asked")
    contact = Contact.objects.filter(campaign=seeded).first()
    services.disposition_log(contact=contact, by=administrator, outcome="voicemail")
    before_other = _contents(other.pk)
    client.force_login(administrator)
    url = reverse("admin:campaigns_campaign_delete", args=[seeded.pk])

    confirm = client.get(url).content.decode()
    # Counted, not listed one by one.
    for count in ("5 contacts", "3 numbers", "4 accounts", "2 log entries"):
        assert count in confirm
    assert "John R. Smith" not in confirm

    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Campaign.objects.filter(pk=seeded.pk).exists()
    assert _contents(seeded.pk) == (0, 0, 0, 0, 0)
    assert _contents(other.pk) == before_other


def test_an_upload_whose_campaign_was_deleted_while_reading_adds_nothing(campaign, upload_csv):
    from django.core.files.base import ContentFile

    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="leads.csv"), uploaded_by=None
    )
    with upload.file.open("rb") as handle:
        ingest.stage(upload, handle)
    campaign_id = campaign.pk
    services.campaign_delete(campaign=campaign)
    with pytest.raises(ingest.CampaignGone):
        ingest.merge(upload)
    assert _contents(campaign_id) == (0, 0, 0, 0, 0)
