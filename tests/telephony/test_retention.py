"""Data retention: the service's rules, the settings' range, and the task on a real broker."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Customer
from telephony import retention, services
from telephony.models import Call, Message, RetentionRun, TelephonySettings
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, MessageFactory
from tests.waiting import wait_for


def configure(transcripts=None, records=None) -> None:
    config = TelephonySettings.load()
    config.transcript_retention_days = transcripts
    config.record_retention_days = records
    config.full_clean()
    config.save()


def days_ago(n: float):
    return timezone.now() - timedelta(days=n)


@pytest.mark.django_db
def test_nothing_is_deleted_while_retention_is_unset():
    CallFactory(started_at=days_ago(2000), transcript="old")
    run = retention.retention_run()
    assert Call.objects.get().transcript == "old"
    assert (run.transcripts_cleared, run.calls_deleted, run.record_cutoff) == (0, 0, None)


@pytest.mark.django_db
def test_old_transcripts_are_erased_and_old_records_deleted_in_batches():
    configure(transcripts=30, records=365)
    customer = CustomerFactory()
    keep = CallFactory(customer=customer, started_at=days_ago(5), transcript="recent")
    erase = CallFactory.create_batch(3, customer=customer, started_at=days_ago(40), transcript="x")
    CallFactory.create_batch(5, customer=customer, started_at=days_ago(400), transcript="y")
    MessageFactory.create_batch(3, customer=customer, sent_at=days_ago(500))
    young_message = MessageFactory(customer=customer, sent_at=days_ago(200))
    services.customer_counters_recompute(customer_ids={customer.pk})

    run = retention.retention_run(batch_size=2)

    assert (run.transcripts_cleared, run.calls_deleted, run.messages_deleted) == (3, 5, 3)
    assert run.finished_at is not None
    assert set(Call.objects.values_list("id", flat=True)) == {keep.pk, *(c.pk for c in erase)}
    assert Call.objects.get(pk=keep.pk).transcript == "recent"
    erased = Call.objects.filter(pk__in=[c.pk for c in erase])
    assert set(erased.values_list("transcript", flat=True)) == {""}
    assert all(c.transcript_cleared_at for c in erased)
    assert list(Message.objects.all()) == [young_message]
    customer.refresh_from_db()
    assert customer.interaction_count == 5
    assert customer.first_interaction_at == young_message.sent_at
    assert customer.last_interaction_at == keep.started_at


@pytest.mark.django_db
def test_running_twice_deletes_nothing_twice():
    configure(records=10)
    CallFactory.create_batch(2, started_at=days_ago(20))
    first = retention.retention_run()
    second = retention.retention_run()
    assert (first.calls_deleted, second.calls_deleted) == (2, 0)
    assert RetentionRun.objects.count() == 2


@pytest.mark.django_db
def test_a_profile_whose_history_is_all_deleted_has_empty_counters():
    configure(records=10)
    customer = CustomerFactory()
    CallFactory(customer=customer, started_at=days_ago(20))
    services.customer_counters_recompute(customer_ids={customer.pk})
    retention.retention_run()
    customer.refresh_from_db()
    assert (customer.interaction_count, customer.last_interaction_at) == (0, None)
    assert Customer.objects.filter(pk=customer.pk).exists()  # the profile itself stays


@pytest.mark.django_db
@pytest.mark.parametrize("days", [-1, 1096])
def test_retention_days_are_limited_to_0_to_1095(days):
    config = TelephonySettings.load()
    config.record_retention_days = days
    with pytest.raises(ValidationError):
        config.full_clean()


# A worker thread writes while the test reads: the in-memory test database of the SQLite
# run answers "table is locked" at once instead of waiting (shared cache).
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_daily_task_runs_through_the_real_broker(settings):
    from celery.contrib.testing.worker import start_worker

    from crm.celery import app
    from telephony.tasks import retention_run

    assert "telephony-retention-daily" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_BEAT_SCHEDULE["telephony-retention-daily"]["task"] == retention_run.name
    configure(records=30)
    CallFactory(started_at=days_ago(45))
    app.conf.task_always_eager = False

    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=30):
        retention_run.delay()
        # Bounded, not a timing assertion: a worker starting on a loaded machine takes a while.
        run = wait_for(
            lambda: RetentionRun.objects.filter(finished_at__isnull=False).first(), timeout=60
        )

    assert run.calls_deleted == 1
    assert not Call.objects.exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_recount_racing_a_new_call_keeps_the_call_counted(monkeypatch):
    """A link has counted its call but not committed when a recount of the same profile
    starts: the recount must not overwrite the link's increment with an older total."""
    import threading

    from django.db import connection

    first = services.call_record(
        external_id="CA" + "8" * 32,
        direction="inbound",
        from_number="+16785550188",
        to_number="+18005550100",
        channel="voice",
        facts=services.CallFacts(status="completed"),
    ).record
    customer_id = first.customer_id
    counted, release = threading.Event(), threading.Event()
    count = services._count_if_still_holder

    def count_then_wait(*args):
        done = count(*args)
        counted.set()
        release.wait(timeout=10)
        return done

    monkeypatch.setattr(services, "_count_if_still_holder", count_then_wait)

    def link() -> None:
        try:
            services.call_record(
                external_id="CA" + "9" * 32,
                direction="inbound",
                from_number="+16785550188",
                to_number="+18005550100",
                channel="voice",
                facts=services.CallFacts(status="ringing"),
            )
        finally:
            connection.close()

    def recount() -> None:
        try:
            services.customer_counters_recompute(customer_ids={customer_id})
        finally:
            connection.close()

    def recount_waits_for_the_row() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] > 0

    linker = threading.Thread(target=link)
    linker.start()
    assert counted.wait(timeout=10)
    recounter = threading.Thread(target=recount)
    recounter.start()
    wait_for(recount_waits_for_the_row)  # the recount has reached the profile's row
    release.set()
    linker.join(timeout=20)
    recounter.join(timeout=20)

    assert Customer.objects.get(pk=customer_id).interaction_count == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_that_dies_midway_has_recorded_what_its_committed_batches_did(monkeypatch):
    configure(records=10)
    CallFactory.create_batch(5, started_at=days_ago(20))
    real_recompute = services.customer_counters_recompute
    batches = []

    def dies_on_the_third_batch(**kwargs):
        batches.append(1)
        if len(batches) == 3:
            raise RuntimeError("worker killed")
        real_recompute(**kwargs)

    monkeypatch.setattr(retention, "customer_counters_recompute", dies_on_the_third_batch)
    with pytest.raises(RuntimeError):
        retention.retention_run(batch_size=2)

    run = RetentionRun.objects.get()
    assert run.finished_at is None
    assert run.calls_deleted == 4 == 5 - Call.objects.count()
