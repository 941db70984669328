"""The backfill runner's chunk bookkeeping (telephony/identification/backfill.py), one
step at a time and without a pool: when a chunk closes, what moves with the cursor, and
what is taken again."""

from decimal import Decimal

import pytest

from telephony.identification.backfill import Pass, _Backfill, _Chunk
from telephony.identification.ledger import Job, Outcome
from telephony.models import BackfillRun
from telephony.providers.base import LineTypeAnswer

pytestmark = pytest.mark.django_db

PRICE = Decimal("0.01")


@pytest.fixture
def runner(scripted):
    run = BackfillRun.objects.create(trigger=BackfillRun.Trigger.COMMAND, price=PRICE)
    return _Backfill(run, concurrency=2, progress=None)


def open_chunk(runner: _Backfill, serial: int, last: str, pending: int) -> _Chunk:
    state = runner.chunks[serial] = _Chunk(last=last, pending=pending)
    runner.order.append(serial)
    return state


def answered(number: str, serial: int, line_type: str = "landline") -> Outcome:
    return Outcome(Job(number, 0, serial), LineTypeAnswer(line_type, None, PRICE), lookup_id=1)


def saved() -> BackfillRun:
    return BackfillRun.objects.get()


def test_a_chunk_closes_only_once_every_outcome_is_in_and_then_moves_the_cursor(runner):
    open_chunk(runner, 1, last="+14045550002", pending=2)

    runner._collect([answered("+14045550001", 1)])
    runner._close_finished()
    assert (saved().cursor, saved().numbers_done, runner.order) == ("", 0, [1])

    runner._collect([answered("+14045550002", 1)])
    runner._close_finished()
    run = saved()
    assert (run.cursor, run.numbers_done, run.lookups, run.spent) == (
        "+14045550002",
        2,
        2,
        Decimal("0.02"),
    )
    assert runner.order == []
    assert runner.chunks == {}


def test_chunks_close_oldest_first_a_finished_later_one_waits(runner):
    open_chunk(runner, 1, last="+14045550001", pending=1)
    open_chunk(runner, 2, last="+14045550002", pending=1)

    runner._collect([answered("+14045550002", 2)])
    runner._close_finished()
    assert (saved().cursor, runner.order) == ("", [1, 2])

    runner._collect([answered("+14045550001", 1)])
    runner._close_finished()
    assert (saved().cursor, saved().numbers_done, runner.order) == ("+14045550002", 2, [])


def test_a_chunk_with_numbers_held_back_keeps_the_cursor_before_it(runner):
    state = open_chunk(runner, 1, last="+14045550002", pending=2)
    runner._collect([answered("+14045550001", 1)])

    runner._hold_back([Job("+14045550002", 0, 1)])
    runner._close_finished()

    assert state.whole is False
    assert state.pending == 0
    assert (saved().cursor, saved().numbers_done) == ("", 0)
    assert runner.order == [1], "kept: the chunk is taken again from its start"


def test_a_deferred_number_keeps_its_chunk_open(runner):
    state = open_chunk(runner, 1, last="+14045550002", pending=1)
    state.deferred = [Job("+14045550002", 0, 1)]
    runner._collect([answered("+14045550001", 1)])
    runner._close_finished()
    assert runner.order == [1]
    assert saved().cursor == ""


def test_a_failed_number_counts_as_failed_and_the_pass_asks_for_a_retry(runner):
    open_chunk(runner, 1, last="+14045550001", pending=1)
    runner._collect([Outcome(Job("+14045550001", 0, 1), error="503")])
    runner._close_finished()

    done = runner._finish()

    assert isinstance(done, Pass)
    assert (done.run.status, done.run.failed, done.run.lookups) == ("completed", 1, 0)
    assert done.needs_retry_pass is True


def test_a_pass_without_failures_needs_no_retry(runner):
    open_chunk(runner, 1, last="+14045550001", pending=1)
    runner._collect([answered("+14045550001", 1)])
    runner._close_finished()
    assert runner._finish().needs_retry_pass is False
