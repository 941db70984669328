from celery import shared_task

from telephony import services


@shared_task(acks_late=True, ignore_result=True)
def retention_run() -> int | None:
    """The daily retention run (beat: ``telephony-retention-daily``). Returns the run id,
    or None when another run was going (a second beat's fire)."""
    run = services.retention_run()
    return run.pk if run is not None else None
