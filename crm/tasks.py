from celery import shared_task

from crm import services


@shared_task(acks_late=True, ignore_result=True)
def refresh_match_suggestions() -> int:
    """Nightly: suggest merges for profiles that came to share a number or an email."""
    return services.match_suggestions_refresh()
