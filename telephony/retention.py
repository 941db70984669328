"""Data retention (docs/product.md, "Data retention"): old transcripts erased, old calls
and messages deleted, in batches that each commit with their count on the run's row."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.db import LockNamespace, advisory_try_lock
from telephony.counters import customer_counters_recompute
from telephony.models import Call, Message, RetentionRun, TelephonySettings

# Rows per statement: big enough to be quick, small enough that no statement holds locks
# (or a huge transaction) long while webhooks keep writing.
RETENTION_BATCH = 5_000


def retention_run(
    *, now: datetime | None = None, batch_size: int = RETENTION_BATCH
) -> RetentionRun | None:
    """Apply the retention settings: erase old transcripts, delete old calls and messages.

    Each batch commits on its own, together with the run row's count of it, so a killed
    worker loses nothing, its run row says what it did, and the next run continues where
    this one stopped; running twice deletes nothing twice. While another run is going (a
    second beat's fire, docs/operations.md) it does nothing and returns None.
    """
    with advisory_try_lock(LockNamespace.RETENTION_RUN, 0) as acquired:
        if not acquired:
            return None
        return _retention_run(now=now or timezone.now(), batch_size=batch_size)


def _retention_run(*, now: datetime, batch_size: int) -> RetentionRun:
    settings = TelephonySettings.load()
    run = RetentionRun.objects.create(
        transcript_cutoff=_cutoff(now, settings.transcript_retention_days),
        record_cutoff=_cutoff(now, settings.record_retention_days),
    )
    if run.record_cutoff is not None:
        old_calls = Call.objects.filter(started_at__lt=run.record_cutoff)
        _delete_in_batches(old_calls, batch_size, run=run, counter="calls_deleted")
        old_messages = Message.objects.filter(sent_at__lt=run.record_cutoff)
        _delete_in_batches(old_messages, batch_size, run=run, counter="messages_deleted")
    if run.transcript_cutoff is not None:
        _clear_transcripts(run.transcript_cutoff, now, batch_size, run=run)
    RetentionRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _count_on_run(run: RetentionRun, counter: str, n: int) -> None:
    # Inside the batch's transaction: the count commits exactly when the batch does.
    RetentionRun.objects.filter(pk=run.pk).update(**{counter: F(counter) + n})


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _delete_in_batches(queryset: Any, batch_size: int, *, run: RetentionRun, counter: str) -> None:
    while True:
        with transaction.atomic():
            rows = list(queryset.order_by("id").values_list("id", "customer_id")[:batch_size])
            if not rows:
                return
            ids = [pk for pk, _ in rows]
            _count_on_run(run, counter, queryset.model.objects.filter(id__in=ids).delete()[0])
            customer_counters_recompute(customer_ids={c for _, c in rows if c is not None})
        if len(rows) < batch_size:
            return


def _clear_transcripts(
    cutoff: datetime, now: datetime, batch_size: int, *, run: RetentionRun
) -> None:
    pending = Call.objects.filter(started_at__lt=cutoff).exclude(transcript="")
    while True:
        with transaction.atomic():
            ids = list(pending.order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                return
            cleared = Call.objects.filter(id__in=ids).update(
                transcript="", transcript_cleared_at=now
            )
            _count_on_run(run, "transcripts_cleared", cleared)
        if len(ids) < batch_size:
            return
