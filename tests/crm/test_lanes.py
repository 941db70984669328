"""Which middleware runs where (crm/lanes.py): webhooks and token-authenticated API
requests skip what only pages need; pages and session-authenticated API requests keep
every middleware, CSRF included."""

import pytest
from axes.middleware import AxesMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.test import Client
from rest_framework.test import APIClient
from whitenoise.middleware import WhiteNoiseMiddleware

from crm.inputs import CleanInputMiddleware
from crm.logs import RequestLogMiddleware
from crm.models import Customer
from crm.tokens import api_token_create
from telephony.middleware import ReaderTimeZoneMiddleware
from tests.telephony.conftest import twilio_post, twilio_token  # noqa: F401  (fixtures)
from tests.telephony.factories import call_sid
from tests.telephony.twilio_signing import OUR_NUMBER

PAGES_ONLY = {
    WhiteNoiseMiddleware,
    SessionMiddleware,
    CsrfViewMiddleware,
    AuthenticationMiddleware,
    MessageMiddleware,
    ReaderTimeZoneMiddleware,
    XFrameOptionsMiddleware,
    AxesMiddleware,
}
EVERY_LANE = {RequestLogMiddleware, SecurityMiddleware, CleanInputMiddleware, CommonMiddleware}


@pytest.fixture
def ran(monkeypatch):
    """The middleware classes whose ``__call__`` ran, by name, in order."""
    names: list[str] = []
    for cls in PAGES_ONLY | EVERY_LANE:
        original = cls.__call__

        def spy(self, request, _original=original, _name=cls.__name__):
            names.append(_name)
            return _original(self, request)

        monkeypatch.setattr(cls, "__call__", spy)
    return names


def notes_url() -> str:
    return f"/api/customers/{Customer.objects.create(name='Ana').pk}/notes/"


def names(classes: set[type]) -> set[str]:
    return {cls.__name__ for cls in classes}


def token_client(user, *, enforce_csrf_checks: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=enforce_csrf_checks)
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='lanes')[1]}")
    return client


@pytest.mark.django_db
def test_a_signed_webhook_runs_only_the_lean_lane(twilio_post, ran):  # noqa: F811
    params = {"CallSid": call_sid(), "From": "+14155550142", "To": OUR_NUMBER}
    response = twilio_post("/webhooks/twilio/voice/", params)
    assert response.status_code == 200
    assert set(ran) == names(EVERY_LANE)
    # What the skipped middleware would have added.
    assert "X-Frame-Options" not in response
    assert "Cookie" not in response.get("Vary", "")
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_a_refused_webhook_runs_only_the_lean_lane_too(twilio_post, ran):  # noqa: F811
    response = twilio_post("/webhooks/twilio/voice/", {"CallSid": call_sid()}, signature="x")
    assert response.status_code == 403
    assert set(ran) == names(EVERY_LANE)


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token"])
def test_a_token_api_request_runs_only_the_lean_lane(administrator, ran, scheme):
    client = APIClient()
    key = api_token_create(user=administrator, name="lanes")[1]
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    response = client.get("/api/customers/")
    assert response.status_code == 200
    assert set(ran) == names(EVERY_LANE)
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_a_token_api_write_needs_no_csrf_token(administrator, ran):
    client = token_client(administrator, enforce_csrf_checks=True)
    response = client.post(notes_url(), {"text": "Called back."}, format="json")
    assert response.status_code == 201
    assert set(ran) == names(EVERY_LANE)


@pytest.mark.django_db
def test_a_bad_token_is_refused_on_the_lean_lane(ran):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    # DRF answers 403 rather than 401 when session authentication comes first.
    assert client.get("/api/customers/").status_code in (401, 403)
    assert set(ran) == names(EVERY_LANE)


@pytest.mark.django_db
def test_a_session_api_request_runs_every_middleware(administrator, ran):
    client = APIClient()
    client.force_login(administrator)
    assert client.get("/api/customers/").status_code == 200
    assert set(ran) == names(EVERY_LANE | PAGES_ONLY)


@pytest.mark.django_db
def test_a_session_api_write_without_the_csrf_token_is_refused(administrator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(administrator)
    response = client.post(notes_url(), {"text": "Called back."}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # With the token the page carries, the same write goes through.
    client.get("/admin/")
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        notes_url(), {"text": "Called back."}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_a_session_cookie_keeps_the_full_lane_and_csrf_even_beside_a_token(administrator, ran):
    """A browser cannot add an Authorization header cross-site, but a request that
    carries the session cookie is treated as the session's: CSRF applies."""
    client = token_client(administrator, enforce_csrf_checks=True)
    client.force_login(administrator)
    response = client.post(notes_url(), {"text": "Called back."}, format="json")
    assert set(ran) == names(EVERY_LANE | PAGES_ONLY)
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_admin_runs_every_middleware(administrator, ran):
    client = Client()
    client.force_login(administrator)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert set(ran) == names(EVERY_LANE | PAGES_ONLY)
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_an_anonymous_api_request_and_the_api_docs_keep_every_middleware(ran):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert set(ran) == names(EVERY_LANE | PAGES_ONLY)
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_lean_lane_still_redirects_to_https_and_checks_the_host(settings, administrator):
    settings.SECURE_SSL_REDIRECT = True
    client = token_client(administrator)
    assert client.get("/api/customers/").status_code == 301
    settings.SECURE_SSL_REDIRECT = False
    assert client.get("/api/customers/", HTTP_HOST="evil.example").status_code == 400


@pytest.mark.django_db
def test_the_lean_lane_strips_nul_from_query_strings(administrator):
    client = token_client(administrator)
    assert client.get("/api/customers/?search=an%00a").status_code == 200
