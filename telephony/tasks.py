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
    from telephony.identification import services

    return services.caller_number_identify(phone_id=phone_id)


@shared_task(acks_late=True, ignore_result=True)
def caller_numbers_identify(phone_ids: list[int]) -> list[str]:
    """Look up the new callers one web process gathered (a failed one is queued again as
    ``caller_number_identify``, which retries)."""
    from telephony.identification import services

    return services.caller_numbers_identify(phone_ids=phone_ids)


@shared_task(ignore_result=True)
def new_callers_sweep() -> int:
    """Queue again the new callers' lookups a web process lost (beat, every five minutes)."""
    from telephony.identification import services

    return services.new_callers_sweep()


@shared_task(acks_late=True, ignore_result=True)
def backfill_run(run_id: int) -> None:
    """Run or resume an identification backfill (long: route it to its own queue)."""
    from telephony.identification import services

    services.backfill_run(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True)
def backfill_resume_stalled() -> int:
    """Every few minutes (beat): restart backfills whose worker died."""
    from telephony.identification import services

    return services.backfill_resume_stalled()


@shared_task(acks_late=True, ignore_result=True)
def message_send_retry(message_id: int, attempt: int, callback: str) -> str | None:
    """Send again an SMS the provider certainly did not take (rate limited, 5xx). The
    service claims the attempt first, so a task delivered twice sends once."""
    from telephony import messaging

    message = messaging.message_send_retry(
        message_id=message_id, attempt=attempt, callback=callback
    )
    return message.status if message is not None else None
