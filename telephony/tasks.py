"""Celery tasks of telephony: each takes ids, runs the one service it is named after."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def retention_run() -> int:
    """The daily retention run (beat: ``telephony-retention-daily``). Returns the run id."""
    from telephony import retention

    return retention.retention_run().pk
