"""Celery tasks of telephony: each takes ids, runs the one service it is named after."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def retention_run() -> int | None:
    """The daily retention run (beat: ``telephony-retention-daily``). Returns the run id,
    or None when another run was going (a second beat's fire)."""
    from telephony import retention

    run = retention.retention_run()
    return run.pk if run is not None else None
