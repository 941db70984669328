"""The upload task through the real broker with an in-process worker: the wiring works."""

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core.files.base import ContentFile

from campaigns import services, tasks
from campaigns.models import Contact, LeadUpload
from crm.celery import app
from tests.campaigns.factories import CampaignFactory
from tests.campaigns.lead_files import SEED_CSV

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1):
        yield


@pytest.fixture
def finished():
    """Waits until the worker has run a given task message (by its id), or a task of a
    given name for a given first argument (``"name(42)"``: a message another test left
    in the broker runs the same task for another campaign), to its end."""
    done: dict[str, threading.Event] = {}
    lock = threading.Lock()

    def event(key: str) -> threading.Event:
        with lock:
            return done.setdefault(key, threading.Event())

    def record(sender: object = None, task_id: str = "", args: tuple = (), **_: object) -> None:
        event(task_id).set()
        if args:
            event(f"{getattr(sender, 'name', '')}({args[0]})").set()

    task_postrun.connect(record, weak=False)
    yield lambda key: event(key).wait(timeout=30)
    task_postrun.disconnect(record)


def test_a_submitted_upload_is_imported_by_a_worker_through_the_broker(worker, finished):
    campaign = CampaignFactory()
    # As a message another test left in the broker would: the same task for another
    # campaign, run first.
    other = tasks.lead_zones_fill.delay(campaign.pk + 1000)
    # Run before the upload is written: on SQLite's shared in-memory test database a write
    # beside the worker's open one fails at once as "table is locked", not after a wait.
    assert finished(other.id), "the other campaign's fill did not run"
    upload = services.lead_upload_submit(
        campaign=campaign,
        file=ContentFile(SEED_CSV.encode(), name="leads.csv"),
        uploaded_by=None,
    )  # queued on commit (autocommit here: at once)
    # The import, then the zone keys' fill it queues on commit: the contacts are read once
    # the worker has written them both (on SQLite's shared in-memory test database a read
    # beside the fill's open write fails as "table is locked").
    assert finished(f"{tasks.lead_upload_import.name}({upload.pk})"), "no import ran"
    assert finished(f"{tasks.lead_zones_fill.name}({campaign.pk})"), "no leads keyed"
    upload.refresh_from_db()
    assert upload.status == LeadUpload.State.COMPLETED, upload.error
    contacts = Contact.objects.filter(campaign=campaign)
    assert contacts.count() == 5
    assert not contacts.filter(dial_zone="").exists()  # every lead keyed by the worker


def test_a_redelivered_message_resumes_an_interrupted_import_and_then_adds_nothing(
    worker, finished
):
    campaign = CampaignFactory()
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(SEED_CSV.encode(), name="leads.csv"), uploaded_by=None
    )
    # As a worker killed mid-import leaves it: running, with a phase from its reading.
    LeadUpload.objects.filter(pk=upload.pk).update(
        status=LeadUpload.State.RUNNING, phase="Reading: 3 rows", rows_read=3
    )
    assert finished(tasks.lead_upload_import.delay(upload.pk).id)
    upload.refresh_from_db()
    assert (upload.status, upload.rows_read, upload.contacts_created) == (
        LeadUpload.State.COMPLETED,
        5,
        5,
    )
    finished_at = upload.finished_at

    assert finished(tasks.lead_upload_import.delay(upload.pk).id)
    assert finished(f"{tasks.lead_zones_fill.name}({campaign.pk})")  # the first run's
    upload.refresh_from_db()
    assert upload.finished_at == finished_at  # not imported again
    assert Contact.objects.filter(campaign=campaign).count() == 5
