"""Celery tasks of crm: each takes ids, runs the one service it is named after."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def match_suggestions_refresh() -> int:
    """Nightly: suggest merges for profiles that came to share a number or an email."""
    from crm import services

    return services.match_suggestions_refresh()
