import pytest
from django.core.files.base import ContentFile

from campaigns import services
from campaigns.models import Campaign, LeadUpload
from tests.campaigns.lead_files import SEED_CSV


@pytest.fixture
def campaign(db):
    return Campaign.objects.create(name="Atlanta realtors")


@pytest.fixture
def upload_csv():
    """Upload text as a CSV into a campaign and import it now; returns the upload."""

    def upload(campaign, text: str | bytes, name: str = "leads.csv", by=None) -> LeadUpload:
        data = text.encode() if isinstance(text, str) else text
        created = services.lead_upload_create(
            campaign=campaign, file=ContentFile(data, name=name), uploaded_by=by
        )
        return services.lead_upload_import(upload_id=created.pk)

    return upload


@pytest.fixture
def seeded(campaign, upload_csv):
    upload_csv(campaign, SEED_CSV)
    return campaign
