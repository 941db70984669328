import pytest
from django.core.files.base import ContentFile

from campaigns import services
from campaigns.models import Campaign, LeadUpload

# The seed document's scenario: Keller Williams' office line on two contacts, Jane
# Doe's mobile is her husband's pet shop's phone, and John Smith / John R. Smith share a
# mobile under two emails (so they stay two contacts, at two accounts).
SEED_CSV = (
    "First Name,Last Name,Email,Company,Title,Phone,Mobile,Notes\n"
    "John,Smith,john.smith@kw.example.com,Keller Williams,Broker,+1-212-761-2846,"
    "1 678-999-8212,retired?\n"
    "Priya,Patel,priya.patel@kw.example.com,Keller Williams,Agent,(212) 761-2846,,\n"
    "John R.,Smith,jrsmith@kwrealty.example.com,KW Realty,Agent,,(678)-999 8212,\n"
    "Jane,Doe,jane.doe@example.com,Doe Realty,Owner,,+1 (832) 723-4097,\n"
    "Mark,Doe,mark@petshop.example.com,Petshop Supply,Owner,832 723 4097,,\n"
)


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
