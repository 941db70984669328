from celery import shared_task

from telephony import services


@shared_task(acks_late=True, ignore_result=True)
def retention_run() -> int:
    """The daily retention run (beat: ``telephony-retention-daily``). Returns the run id."""
    return services.retention_run().pk
