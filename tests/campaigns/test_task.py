"""The upload task through the real broker with an in-process worker: the wiring works."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.base import ContentFile

from campaigns import services
from campaigns.models import Contact, LeadUpload
from crm.celery import app
from tests.campaigns.conftest import SEED_CSV

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1):
        yield


def test_an_upload_is_imported_by_a_worker_through_the_broker(worker):
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(name="Through the broker")
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="leads.csv"), uploaded_by=None
    )  # queued on commit (autocommit here: at once)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.status in (LeadUpload.State.COMPLETED, LeadUpload.State.FAILED):
            break
        time.sleep(0.2)
    assert upload.status == LeadUpload.State.COMPLETED, upload.error
    assert Contact.objects.filter(campaign=campaign).count() == 5
    # A redelivered message finds the upload completed and adds nothing.
    from campaigns.tasks import import_lead_upload

    import_lead_upload.delay(upload.pk)
    time.sleep(1)
    assert Contact.objects.filter(campaign=campaign).count() == 5
