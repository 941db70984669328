from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def daily_check_run() -> int | None:
    """The day's reputation check (beat: ``reputation-daily-check``). Returns the run id."""
    from reputation import services

    run = services.daily_check_run()
    return run.pk if run else None


@shared_task(acks_late=True, ignore_result=True)
def numbers_prescreen(monitored_ids: list[int]) -> int:
    """Pre-screening again for numbers whose first check failed (the provider was down)."""
    from reputation import services

    return services.numbers_prescreen(monitored_ids=monitored_ids).checked


@shared_task(acks_late=True, ignore_result=True)
def auto_replace_now() -> int:
    """Auto-replacement was just switched on: replace what today's checks found SPAM."""
    from reputation import services

    return len(services.auto_replace_now())
