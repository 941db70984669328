"""Logs: JSON in production, a request id, never a secret, a token or a whole number."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from crm.logs import JsonFormatter, MaskingFilter, mask

ROOT = Path(__file__).resolve().parents[2]
CALLER = "+16789998212"


@pytest.fixture
def json_log():
    """The production handler (masking filter + JSON formatter) on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter())
    root, access = logging.getLogger(), logging.getLogger("switchboard.request")
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    lines.text = stream.getvalue  # type: ignore[attr-defined]
    yield lines
    root.removeHandler(handler)
    root.setLevel(levels[0])
    access.setLevel(levels[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from +16789998212", "from +1678***8212"),
        ("from +1 (678) 999-8212 now", "from +1678***8212 now"),
        ("dial 678-999-8212", "dial 678***8212"),
        ("dial (678) 999 8212", "dial 678***8212"),
        ("uk +44 20 7946 0958", "uk +4420***0958"),
        ("{'From': '+16789998212'}", "{'From': '+1678***8212'}"),
        # Not numbers: a SID, a date and time, a count, a duration.
        ("CA0123456789abcdef0123456789abcdef", "CA0123456789abcdef0123456789abcdef"),
        ("at 2026-12-01 19:05:46", "at 2026-12-01 19:05:46"),
        ("upload #1000001 took 1234 ms", "upload #1000001 took 1234 ms"),
        # Secrets.
        (
            "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdc6ee4b",
            "Authorization: Token [redacted]",
        ),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abcdefghij", "Bearer [redacted]"),
        ("password=hunter2&next=/", "password=[redacted]&next=/"),
        ('{"auth_token": "abc123secret"}', '{"auth_token": "[redacted]"}'),
        ("token missing", "token missing"),
    ],
)
def test_mask(text, expected):
    assert mask(text) == expected


def test_secret_settings_never_appear(settings, json_log):
    settings.TWILIO_AUTH_TOKEN = "twilio-secret-0123456789abcdef"
    logging.getLogger("anything").warning(
        "signature check with %s failed",
        settings.TWILIO_AUTH_TOKEN,
        extra={"key": settings.SECRET_KEY},
    )
    text = json_log.text()
    assert "twilio-secret-0123456789abcdef" not in text
    assert settings.SECRET_KEY not in text
    assert json_log()[0]["key"] == "[redacted]"


def test_numbers_are_masked_in_messages_args_extras_and_exceptions(json_log):
    logger = logging.getLogger("telephony.test")
    try:
        raise ValueError(f"cannot link {CALLER} to a profile")
    except ValueError:
        logger.exception("linking %s failed", CALLER, extra={"caller": CALLER, "numbers": [CALLER]})
    text = json_log.text()
    assert "9998212" not in text
    (line,) = json_log()
    assert line["message"] == "linking +1678***8212 failed"
    assert "cannot link +1678***8212 to a profile" in line["exc_info"]
    assert line["caller"] == "+1678***8212"
    assert line["numbers"] == ["+1678***8212"]
    assert {"time", "level", "logger", "request_id"} <= set(line)


@pytest.mark.django_db
def test_each_request_gets_an_id_echoed_and_logged_with_route_status_duration(client, json_log):
    response = client.get("/admin/login/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    access = [line for line in json_log() if line["logger"] == "switchboard.request"]
    assert access[-1]["request_id"] == request_id
    assert access[-1]["route"] == "/admin/login/"
    assert access[-1]["status"] == 200
    assert access[-1]["method"] == "GET"
    assert isinstance(access[-1]["duration_ms"], float)


@pytest.mark.django_db
def test_an_incoming_request_id_is_kept_and_a_bad_one_replaced(client, json_log):
    kept = client.get("/admin/login/", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert kept["X-Request-ID"] == "lb-7f3a.42"
    forged = client.get("/admin/login/", HTTP_X_REQUEST_ID='x" injected\n{"level": "ERROR"}')
    assert forged["X-Request-ID"] != 'x" injected\n{"level": "ERROR"}'
    assert len(forged["X-Request-ID"]) == 32
    assert [line["request_id"] for line in json_log()][-2:] == [
        "lb-7f3a.42",
        forged["X-Request-ID"],
    ]


@pytest.mark.django_db
def test_the_route_is_logged_not_the_path_with_its_number(client, administrator, json_log):
    client.force_login(administrator)
    client.post(f"/api/campaigns/999999/phones/{CALLER}/disqualify/", {"reason": "x"})
    access = [line for line in json_log() if line["logger"] == "switchboard.request"][-1]
    assert "<" in access["route"]
    assert "9998212" not in access["route"]
    assert "9998212" not in json_log.text()


@pytest.mark.django_db
def test_an_api_token_never_appears_in_the_logs(api_client, administrator, json_log):
    token = Token.objects.create(user=administrator).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/customers/").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token[:-1]}x")  # refused: 401 logged
    assert api_client.get("/api/customers/").status_code in (401, 403)
    # Even a module that logs the header it was given.
    logging.getLogger("crm.test").warning("auth with header Authorization: Token %s", token)
    text = json_log.text()
    assert token not in text
    assert token[:-1] not in text
    # The refusal is one WARNING line, the access line, with the request's id; Django's
    # own warning about it is not written a second time.
    refusal = next(line for line in json_log() if line.get("status") in (401, 403))
    assert (refusal["logger"], refusal["level"]) == ("switchboard.request", "WARNING")
    assert refusal["request_id"] != "-"
    assert not [line for line in json_log() if line["logger"] == "django.request"]


def _run(tmp_path, code: str, **env) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "SWITCHBOARD_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "a-production-secret-for-the-test-0123456789",
    "ALLOWED_HOSTS": "testserver",
}


# One pair of production processes for the tests below (starting Django costs 2-3 s of
# CPU a process): the same requests and log calls at LOG_LEVEL=INFO and at ERROR.
PRODUCTION_SCRIPT = (
    "import logging\n"
    "from django.test import Client\n"
    "from django.urls import path\n"
    "import crm.urls\n"
    "def broken(request): raise RuntimeError('token=abc123secret broke it')\n"
    "crm.urls.urlpatterns.insert(0, path('broken/', broken))\n"
    "Client().get('/admin/login/', HTTP_AUTHORIZATION='Token ' + 'ab' * 20)\n"
    "Client().get('/no-such-page/', secure=True)\n"
    "Client(raise_request_exception=False).get('/broken/', secure=True)\n"
    "logging.getLogger('telephony').info('quiet info')\n"
    "logging.getLogger('telephony').warning('no profile for %s', '+16789998212')\n"
    "logging.getLogger('x').error('an error')\n"
)


@pytest.fixture(scope="module")
def production_logs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("production")
    return {
        level: _run(folder, PRODUCTION_SCRIPT, LOG_LEVEL=level, **PRODUCTION)
        for level in ("INFO", "ERROR")
    }


def _lines(done: subprocess.CompletedProcess) -> list[dict]:
    parsed = [json.loads(line) for line in done.stderr.splitlines()]
    return [line for line in parsed if line["logger"] != "py.warnings"]  # no collectstatic


def test_production_logs_one_json_object_per_line(production_logs):
    done = production_logs["INFO"]
    # Every line is JSON, Python's warnings included.
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    access = next(line for line in lines if line["logger"] == "switchboard.request")
    assert access["route"] == "/admin/login/"
    assert access["status"] == 301  # production redirects plain HTTP to HTTPS
    assert access["request_id"]
    warning = next(
        line for line in lines if line["level"] == "WARNING" and line["logger"] == "telephony"
    )
    assert warning["message"] == "no profile for +1678***8212"
    assert "ab" * 20 not in done.stderr
    assert "9998212" not in done.stderr


def test_log_level_keeps_working(production_logs):
    loud, quiet = production_logs["INFO"].stderr, production_logs["ERROR"].stderr
    assert "quiet info" in loud
    assert "no profile for" in loud
    assert "quiet info" not in quiet
    assert "no profile for" not in quiet
    assert "an error" in quiet


def test_a_request_logs_one_line_as_loud_as_its_status_and_a_crash_its_traceback(
    production_logs,
):
    loud, quiet = production_logs["INFO"], production_logs["ERROR"]
    said = [line for line in _lines(loud) if line.get("route") != "/admin/login/"]
    assert [(line["logger"], line["level"]) for line in said] == [
        ("switchboard.request", "WARNING"),  # the 404, once: not Django's "Not Found" too
        ("django.request", "ERROR"),  # the crash, with its traceback
        ("switchboard.request", "ERROR"),  # ...and its access line
        ("telephony", "INFO"),
        ("telephony", "WARNING"),
        ("x", "ERROR"),
    ]
    assert (said[0]["route"], said[0]["status"]) == ("/no-such-page/", 404)
    assert "RuntimeError" in said[1]["exc_info"]
    assert said[2]["status"] == 500
    assert "abc123secret" not in loud.stderr
    # LOG_LEVEL=ERROR silences the refusal and the rest, not the crash.
    assert [line["logger"] for line in _lines(quiet)] == [
        "django.request",
        "switchboard.request",
        "x",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Numbers written into a URL: decoded, then masked.
        ("GET '/no-such/%2B16785550123/'", "GET '/no-such/+1678***0123/'"),
        ("?phone=%28678%29%20555-0123&x=1", "?phone=678***0123&x=1"),
        ("?phone=678+555+0123", "?phone=678***0123"),
        (
            "/reputation/numbers/%2B12125550123?fresh=true",
            "/reputation/numbers/+1212***0123?fresh=true",
        ),
        # Not escapes, left as written.
        ("50% done, 100%", "50% done, 100%"),
    ],
)
def test_mask_decodes_percent_escapes_first(text, expected):
    assert mask(text) == expected


@pytest.mark.django_db
def test_numbers_in_refused_and_unmatched_urls_are_masked_in_every_field(client, json_log):
    client.get("/no-such/%2B16785550123/", secure=True)
    client.get(
        "/no-such/%28678%29%20555-0124/?phone=%2B16785550125&x=%28678%29%20555-0126", secure=True
    )
    text = json_log.text()
    for digits in ("5550123", "5550124", "5550125", "5550126", "555-0124", "555-0126"):
        assert digits not in text
    refusals = [line for line in json_log() if line["level"] == "WARNING"]
    assert [(line["logger"], line["status"]) for line in refusals] == [
        ("switchboard.request", 404),
        ("switchboard.request", 404),
    ]
    # An unmatched path is logged as requested, with its number masked.
    assert refusals[0]["route"] == "/no-such/+1678***0123/"


@pytest.mark.django_db
def test_a_webhook_whose_body_is_not_utf8_gets_a_clear_400_and_an_access_line(client, json_log):
    body = "CallSid=CA" + "a" * 32 + "&From=%2B16785550123&CallerName=Jos\u00e9"
    response = client.generic(
        "POST",
        "/webhooks/twilio/voice/",
        data=body.encode("latin-1"),
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "must be UTF-8" in response.content.decode()
    assert "charset=latin-1" in response.content.decode()
    access = [line for line in json_log() if line["logger"] == "switchboard.request"]
    assert [(a["route"], a["status"]) for a in access] == [("/webhooks/twilio/voice/", 400)]
    assert "5550123" not in json_log.text()


@pytest.mark.django_db
def test_the_api_answers_a_non_utf8_form_in_json(api_client, administrator):
    api_client.force_authenticate(administrator)
    response = api_client.generic(
        "POST",
        "/api/calls/",
        "from=%E9",
        content_type="application/x-www-form-urlencoded; charset=utf-16",
    )
    assert response.status_code == 400
    assert "must be UTF-8" in response.json()["detail"]


@pytest.mark.parametrize(
    ("status", "probe", "level"),
    [
        (200, False, logging.INFO),
        (302, False, logging.INFO),
        (403, False, logging.WARNING),
        (404, False, logging.WARNING),
        (500, False, logging.ERROR),
        (503, False, logging.ERROR),
        (200, True, logging.DEBUG),  # a passing probe, every few seconds
        (503, True, logging.WARNING),  # a failing one: its check logged why
    ],
)
def test_the_access_line_is_as_loud_as_its_status(rf, status, probe, level):
    from crm.logs import access_level

    request = rf.get("/readyz" if probe else "/x/")
    if probe:
        request.log_route = "/readyz"
    assert access_level(request, status) == level
