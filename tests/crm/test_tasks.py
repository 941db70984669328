import pytest

from crm import services
from crm.models import MatchSuggestion
from crm.tasks import match_suggestions_refresh
from tests.crm.factories import CustomerFactory
from tests.waiting import wait_for


@pytest.mark.postgresql
def test_the_nightly_match_task_runs_through_the_broker(celery_worker_thread):
    first, second = CustomerFactory(), CustomerFactory()
    services.phone_number_add(customer=first, number="678 999 8212", type="mobile")
    services.phone_number_add(customer=second, number="678 999 8212", type="home")

    match_suggestions_refresh.delay()

    suggestion = wait_for(lambda: MatchSuggestion.objects.first())
    assert (suggestion.customer, suggestion.other) == (first, second)


def test_the_task_is_late_acked_and_scheduled_nightly(settings):
    assert match_suggestions_refresh.acks_late is True
    schedule = settings.CELERY_BEAT_SCHEDULE["crm-match-suggestions-nightly"]
    assert schedule["task"] == match_suggestions_refresh.name
