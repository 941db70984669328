"""The daily check's requests really overlap (docs/reputation.md, "Checks and verdicts"):
``REPUTATION_CHECK_CONCURRENCY`` requests at the provider at once, never more, and the next
requests leave while an answer is being recorded, so recording never idles the provider.

Waits here are events with a timeout: a check that does not overlap its requests makes
them time out and fails its batches; nothing is timed."""

import threading

import pytest

from crm import providers
from reputation import checks, services
from tests.reputation.fakes import ScriptedReputation

pytestmark = pytest.mark.django_db
WAIT = 20  # seconds before a missing overlap is a failure, not a measurement


class PacedReputation(ScriptedReputation):
    """Two numbers a request. The first two requests answer only once both are at the
    provider; ``started`` counts the requests begun."""

    batch_size = 2
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=WAIT)
    begun = in_flight = most_in_flight = 0
    started: list[threading.Event] = []

    @classmethod
    def restart(cls):
        ScriptedReputation.calls.clear()
        cls.both.reset()
        cls.begun = cls.in_flight = cls.most_in_flight = 0
        cls.started = [threading.Event() for _ in range(20)]

    def check(self, e164s, *, fresh=False):
        cls = PacedReputation
        with cls.lock:
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
            begun, cls.begun = cls.begun, cls.begun + 1
            cls.started[begun].set()
        try:
            if begun < 2:
                cls.both.wait()
            return super().check(e164s, fresh=fresh)
        finally:
            with cls.lock:
                cls.in_flight -= 1


@pytest.fixture
def paced(settings):
    settings.REPUTATION_PROVIDER = "tests.reputation.test_check_concurrency.PacedReputation"
    settings.REPUTATION_CHECK_CONCURRENCY = 2
    PacedReputation.restart()
    providers.clear_providers()
    yield PacedReputation
    providers.clear_providers()


def test_two_requests_in_flight_and_the_next_ones_sent_while_recording(
    addon, owned, paced, monkeypatch
):
    addon.blocks = 2
    addon.save()
    numbers = [owned() for _ in range(10)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    paced.restart()  # the pre-screen asked too
    apply = checks._apply
    sent_while_recording = []

    def recording(*args, **kwargs):
        # While the first answer is recorded, the third and fourth requests leave: each
        # thread sends its next request the moment it has its answer.
        if not sent_while_recording:
            sent_while_recording.append(paced.started[3].wait(WAIT))
        return apply(*args, **kwargs)

    monkeypatch.setattr(checks, "_apply", recording)
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.requests) == ("done", 10, 5)
    assert sent_while_recording == [True]
    assert paced.most_in_flight == 2  # the first two met at the provider; never three
    assert sorted(len(batch) for batch, _ in ScriptedReputation.calls) == [2, 2, 2, 2, 2]


class OneAtATimeReputation(ScriptedReputation):
    """One number a request; ``started`` counts the requests begun."""

    batch_size = 1
    started: list[threading.Event] = []

    def check(self, e164s, *, fresh=False):
        cls = OneAtATimeReputation
        cls.started[sum(e.is_set() for e in cls.started)].set()
        return super().check(e164s, fresh=fresh)


def test_every_request_leaves_while_the_first_answer_is_still_being_recorded(
    addon, owned, settings, monkeypatch
):
    """Recording that falls behind never stops the requests: ``AHEAD_PER_THREAD`` requests
    a thread (more than the old queue of 4 a thread) all leave while the first answer waits
    to be written."""
    ahead = 2 * checks.AHEAD_PER_THREAD
    addon.blocks = 2
    addon.save()
    numbers = [owned() for _ in range(ahead)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    settings.REPUTATION_PROVIDER = "tests.reputation.test_check_concurrency.OneAtATimeReputation"
    settings.REPUTATION_CHECK_CONCURRENCY = 2
    providers.clear_providers()
    OneAtATimeReputation.started = [threading.Event() for _ in range(ahead)]
    apply = checks._apply
    all_sent_while_recording = []

    def recording(*args, **kwargs):
        if not all_sent_while_recording:
            all_sent_while_recording.append(OneAtATimeReputation.started[-1].wait(WAIT))
        return apply(*args, **kwargs)

    monkeypatch.setattr(checks, "_apply", recording)
    try:
        run = services.daily_check_run()
    finally:
        providers.clear_providers()
    assert (run.state, run.numbers_checked, run.requests) == ("done", ahead, ahead)
    assert all_sent_while_recording == [True]


def test_the_days_upkeep_runs_while_the_first_requests_are_out(addon, owned, paced, monkeypatch):
    """The at-risk refresh and the slots' rollover read no verdict: they run while the
    provider holds the first requests, not before the first request nor after the last
    answer. The provider answers only once the refresh has run."""
    addon.blocks = 2
    addon.save()
    numbers = [owned() for _ in range(4)]
    services.numbers_monitor(owned_number_ids=[n.pk for n in numbers], by=None)
    paced.restart()
    refreshed, asked = threading.Event(), threading.Event()
    refresh, rollover = services.monitored_risk_refresh, services.slots_rollover
    upkeep = []

    def counted_refresh(**kwargs):
        upkeep.append(("refresh", asked.is_set()))
        result = refresh(**kwargs)
        refreshed.set()
        return result

    def counted_rollover(**kwargs):
        upkeep.append(("rollover", asked.is_set()))
        return rollover(**kwargs)

    monkeypatch.setattr(services, "monitored_risk_refresh", counted_refresh)
    monkeypatch.setattr(services, "slots_rollover", counted_rollover)
    original = PacedReputation.check

    def answer_after_the_refresh(self, e164s, *, fresh=False):
        asked.set()
        assert refreshed.wait(WAIT), "the refresh waited for the answers"
        return original(self, e164s, fresh=fresh)

    monkeypatch.setattr(PacedReputation, "check", answer_after_the_refresh)
    run = services.daily_check_run()
    assert (run.state, run.numbers_checked, run.requests) == ("done", 4, 2)
    # Both once, after a request had left (and, the provider having answered, before the
    # answers: an answer waits for the refresh, so a refresh after them fails the check).
    assert upkeep == [("rollover", True), ("refresh", True)]
