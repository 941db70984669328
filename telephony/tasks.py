"""Celery tasks of telephony: each takes ids, runs the one service it is named after.

Each task's queue is listed in ``TASK_QUEUES`` (crm/settings.py).
"""

from celery import shared_task

from telephony.providers.base import LineTypeLookupFailed


@shared_task(acks_late=True, ignore_result=True)
def retention_run() -> int | None:
    """The daily retention run (beat: ``telephony-retention-daily``). Returns the run id,
    or None when another run was going (a second beat's fire)."""
    from telephony import retention

    run = retention.retention_run()
    return run.pk if run is not None else None


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(LineTypeLookupFailed,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def caller_number_identify(phone_id: int) -> str:
    """Look up a new caller's number (queued when the linking transaction commits)."""
    from telephony import identification

    return identification.caller_number_identify(phone_id=phone_id)


@shared_task(acks_late=True, ignore_result=True)
def backfill_run(run_id: int) -> None:
    """Run or resume an identification backfill (long: route it to its own queue)."""
    from telephony import backfill

    backfill.backfill_run(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True)
def backfill_resume_stalled() -> int:
    """Every few minutes (beat): restart backfills whose worker died."""
    from telephony import identification

    return identification.backfill_resume_stalled()
