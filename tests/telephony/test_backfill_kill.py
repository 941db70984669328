"""The backfill through the real Twilio adapter, and a real kill: the process running
``identify_mobile_numbers`` is SIGKILLed mid-run, then the command runs again."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from crm.models import PhoneNumber
from telephony.identification import pool
from telephony.identification import services as identification
from telephony.models import BackfillRun, LineTypeLookup
from tests.crm.factories import CustomerFactory
from tests.telephony.twilio_lookup_server import FakeTwilioLookup

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

ROOT = Path(__file__).resolve().parents[2]


def numbers(count: int, prefix: str = "+1470555") -> list[str]:
    customers = CustomerFactory.create_batch(count)
    e164s = [f"{prefix}{i:04d}" for i in range(count)]
    PhoneNumber.objects.bulk_create(
        PhoneNumber(customer=c, number=n, type="other")
        for c, n in zip(customers, e164s, strict=False)
    )
    return e164s


@pytest.fixture
def twilio(settings):
    from crm import providers

    with FakeTwilioLookup(default="mobile") as server:
        settings.LINE_TYPE_PROVIDER = "telephony.providers.twilio.TwilioLineTypeProvider"
        settings.TWILIO_LOOKUP_BASE_URL = server.url
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "token"
        settings.LINE_TYPE_LOOKUP_RATE = 100_000
        providers.clear_providers()
        yield server
        providers.clear_providers()


def test_the_backfill_through_twilio_slows_down_retries_and_records_each_answer_once(
    twilio, monkeypatch
):
    monkeypatch.setattr(pool, "BACKOFF_SECONDS", 0.01)
    e164s = numbers(6)
    twilio.answers[e164s[1]] = [20429, "mobile"]  # too many requests, then an answer
    twilio.answers[e164s[2]] = [60616, 60616, "landline"]
    twilio.answers[e164s[3]] = [(503, "busy"), "mobile"]
    twilio.answers[e164s[4]] = "invalid"
    twilio.answers[e164s[5]] = "tollFree"

    run = identification.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
    run = identification.backfill_run(run_id=run.pk, concurrency=3)

    assert run.status == "completed"
    assert run.failed == 0
    assert sorted(LineTypeLookup.objects.values_list("number", "line_type", "valid")) == [
        (e164s[0], "mobile", True),
        (e164s[1], "mobile", True),
        (e164s[2], "landline", True),
        (e164s[3], "mobile", True),
        (e164s[4], "unknown", False),
        (e164s[5], "toll_free", True),
    ]
    mobiles = set(PhoneNumber.objects.filter(type="mobile").values_list("number", flat=True))
    assert {str(n) for n in mobiles} == {e164s[0], e164s[1], e164s[3]}
    assert twilio.numbers_asked().count(e164s[2]) == 3


def test_a_killed_backfill_resumes_and_repeats_at_most_the_lookups_in_flight(twilio):
    concurrency = 4
    e164s = numbers(400, prefix="+1470556")
    twilio.latency = 0.03
    name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "LINE_TYPE_PROVIDER": "telephony.providers.twilio.TwilioLineTypeProvider",
        "TWILIO_LOOKUP_BASE_URL": twilio.url,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "LINE_TYPE_LOOKUP_RATE": "100000",
    }
    command = [sys.executable, "manage.py", "identify_mobile_numbers"]
    command += ["--concurrency", str(concurrency)]

    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while LineTypeLookup.objects.count() < len(e164s) * 0.3:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert time.monotonic() < deadline, "the backfill made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    recorded_at_kill = LineTypeLookup.objects.count()
    asked_at_kill = len(twilio.numbers_asked())
    assert recorded_at_kill < len(e164s)
    # Every answer was committed the moment it came, but those still in flight.
    assert asked_at_kill - recorded_at_kill <= concurrency

    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=180)

    assert finished.returncode == 0, finished.stdout.decode() + finished.stderr.decode()
    asked = twilio.numbers_asked()
    assert LineTypeLookup.objects.count() == len(e164s)
    assert set(LineTypeLookup.objects.values_list("number", flat=True)) == set(e164s)
    assert set(asked) == set(e164s)
    assert len(asked) - len(e164s) <= concurrency
    assert PhoneNumber.objects.filter(type="mobile").count() == len(e164s)
    assert BackfillRun.objects.get().status == "completed"
