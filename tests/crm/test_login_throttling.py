"""Login throttling: django-axes on both login pages, DRF throttling on the API."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from tests.settings_read import settings_read

PASSWORD = "pass-for-tests-1"  # tests/conftest.py's make_user
LOGINS = {
    "admin": ("/admin/login/", "Too many failed logins"),
    "workspace": ("/campaigns/login/", "Too many failed logins"),
}


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    # A fast hasher: these tests log in dozens of times (the real one costs ~0.3 s each).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(client, url, username, password, address="10.1.1.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("page", LOGINS)
def test_repeated_failures_lock_the_account_from_that_address(client, page, make_user):
    url, message = LOGINS[page]
    user = make_user("Administrator" if page == "admin" else "Caller", username="victim")
    for _ in range(2):
        failed = _login(client, url, user.username, "wrong")
        assert failed.status_code == 200  # the login form again, with its error
    locked = _login(client, url, user.username, "wrong")
    assert locked.status_code == 429
    assert message in locked.content.decode()
    # Locked: even the right password is refused, with the page saying why.
    right = _login(client, url, user.username, PASSWORD)
    assert right.status_code == 429
    text = right.content.decode()
    assert "victim" in text
    assert "15 minutes" in text
    assert "Administrator" in text
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", LOGINS)
def test_the_lockout_is_per_account_and_address(client, page, make_user):
    url, _ = LOGINS[page]
    role = "Administrator" if page == "admin" else "Caller"
    user = make_user(role, username="victim")
    make_user(role, username="colleague")
    for _ in range(3):
        _login(client, url, "victim", "wrong")
    # The same person from another address, and a colleague from this one, log in.
    assert _login(client, url, "victim", PASSWORD, address="10.2.2.2").status_code == 302
    client.logout()
    assert _login(client, url, "colleague", PASSWORD).status_code == 302
    assert user.pk


def test_the_workspace_lockout_page_is_the_workspace_s(client, make_user):
    make_user("Caller", username="victim")
    for _ in range(3):
        response = _login(client, "/campaigns/login/", "victim", "wrong")
    text = response.content.decode()
    assert "Switchboard · Campaigns" in text  # the workspace's own page, not the admin's
    assert reverse("campaigns:login") in text


def test_a_success_before_the_limit_resets_the_count(client, make_user):
    make_user("Caller", username="victim")
    for _ in range(2):
        _login(client, "/campaigns/login/", "victim", "wrong")
    assert _login(client, "/campaigns/login/", "victim", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert _login(client, "/campaigns/login/", "victim", "wrong").status_code == 200


def test_an_administrator_unlocks_in_the_admin(client, make_user, administrator):
    make_user("Caller", username="victim")
    for _ in range(3):
        _login(client, "/campaigns/login/", "victim", "wrong")
    attempt = AccessAttempt.objects.get(username="victim")

    client.force_login(administrator)
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "victim" in listing.content.decode()
    deleted = client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    client.logout()

    assert _login(client, "/campaigns/login/", "victim", PASSWORD).status_code == 302


def test_agents_cannot_unlock(client, agent):
    client.force_login(agent)
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


# --- API tokens: DRF throttling ---------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    yield
    cache.clear()


def test_a_token_is_throttled_and_told_when_to_come_back(
    api_client, administrator, agent, low_rates
):
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=administrator).key}"
    )
    for _ in range(3):
        assert api_client.get("/api/customers/").status_code == 200
    refused = api_client.get("/api/customers/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # Another token has its own allowance.
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    assert api_client.get("/api/customers/").status_code == 200


def test_anonymous_api_requests_are_throttled_too(api_client, db, low_rates):
    # The schema is the one API page open to anonymous requests (others answer 403 first).
    for _ in range(2):
        assert api_client.get("/api/schema/").status_code == 200
    assert api_client.get("/api/schema/").status_code == 429


def test_the_rates_come_from_the_environment(tmp_path):
    read = settings_read(
        {
            "SWITCHBOARD_VAR_DIR": str(tmp_path),
            "API_THROTTLE_RATE": "50/second",
            "API_ANON_THROTTLE_RATE": "5/minute",
            "AXES_FAILURE_LIMIT": "7",
            "AXES_COOLOFF_MINUTES": "30",
        }
    )
    assert read.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": "50/second",
        "anon": "5/minute",
    }
    assert (read.AXES_FAILURE_LIMIT, read.AXES_COOLOFF_TIME) == (7, timedelta(minutes=30))


def test_a_client_writing_its_own_x_forwarded_for_is_still_throttled(api_client, db, low_rates):
    # Behind no trusted proxy (TRUSTED_PROXY_COUNT=0) the socket's address is the client:
    # a new X-Forwarded-For on every request is no new allowance.
    codes = [
        api_client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 429, 429]


def test_behind_trusted_proxies_the_throttle_reads_the_address_they_saw(tmp_path):
    found = {
        count: settings_read({"SWITCHBOARD_VAR_DIR": str(tmp_path), "TRUSTED_PROXY_COUNT": count})
        for count in ("", "2")
    }
    # DRF's throttles read NUM_PROXIES; axes counts failed logins by the same address.
    assert {count: read.REST_FRAMEWORK["NUM_PROXIES"] for count, read in found.items()} == {
        "": 0,
        "2": 2,
    }
    assert found["2"].AXES_IPWARE_PROXY_COUNT == 2
    assert found[""].AXES_IPWARE_META_PRECEDENCE_ORDER == ("REMOTE_ADDR",)


def test_the_default_limit_locks_on_the_fifth_failure(client, make_user, settings, tmp_path):
    # The shipped default (settings read with no AXES_FAILURE_LIMIT in the environment),
    # not this module's lower one: the fifth failure locks, the fourth does not.
    settings.AXES_FAILURE_LIMIT = settings_read(
        {"SWITCHBOARD_VAR_DIR": str(tmp_path)}
    ).AXES_FAILURE_LIMIT
    make_user("Caller", username="victim")
    url = "/campaigns/login/"
    codes = [_login(client, url, "victim", "wrong").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert _login(client, url, "victim", PASSWORD).status_code == 429
