"""API tokens: each staff user makes and revokes their own, stored hashed; legacy keys work."""

import hashlib

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import tokens
from crm.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(key, scheme="Token"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


@pytest.mark.parametrize("role", ["Agent", "Administrator"])
def test_a_staff_user_makes_a_token_shown_once_and_stored_hashed(client, make_user, role):
    user = make_user(role)
    client.force_login(user)
    page = client.post(reverse("admin:api_tokens"), {"name": "voice assistant"})
    assert page.status_code == 200
    key = page.context["new_key"]
    assert key.startswith("sb_")
    assert key in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    stored = ApiToken.objects.get(user=user)
    assert stored.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.digest, stored.prefix, stored.name}
    again = client.get(reverse("admin:api_tokens")).content.decode()
    assert key not in again
    assert stored.prefix in again
    assert bearer(key).get("/api/customers/").status_code == 200
    assert bearer(key, "Bearer").get("/api/customers/").status_code == 200


def test_a_revoked_token_opens_nothing(client, agent):
    token, key = tokens.api_token_create(user=agent, name="script")
    client.force_login(agent)
    client.post(reverse("admin:api_tokens"), {"revoke": token.pk})
    assert bearer(key).get("/api/customers/").status_code in (401, 403)


def test_nobody_revokes_someone_elses_token(client, make_user, agent):
    other = make_user("Agent", username="other")
    token, key = tokens.api_token_create(user=agent, name="script")
    client.force_login(other)
    assert client.post(reverse("admin:api_tokens"), {"revoke": token.pk}).status_code == 404
    assert bearer(key).get("/api/customers/").status_code == 200


@pytest.mark.parametrize("key", ["nope", "sb_" + "x" * 43, "a\x00b", "k" * 500])
def test_a_wrong_key_is_refused(key):
    # 403 rather than 401: session authentication comes first and sends no challenge.
    response = bearer(key).get("/api/customers/")
    assert response.status_code in (401, 403)
    assert "Invalid token" in response.json()["detail"]


def test_a_token_needs_a_name(client, agent):
    client.force_login(agent)
    response = client.post(reverse("admin:api_tokens"), {"name": "  "}, follow=True)
    assert "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_key_still_in_drfs_table_keeps_working(agent):
    legacy = Token.objects.create(user=agent)
    assert bearer(legacy.key).get("/api/customers/").status_code == 200


def test_the_migration_hashes_legacy_keys_and_drops_the_clear_text(agent):
    from importlib import import_module

    from django.apps import apps as django_apps

    legacy = Token.objects.create(user=agent)
    migration = import_module("crm.migrations.0012_roles_notes_and_hashed_tokens")
    migration.hash_legacy_tokens(django_apps, None)
    assert not Token.objects.exists()
    assert ApiToken.objects.get().user == agent
    assert bearer(legacy.key).get("/api/customers/").status_code == 200


def test_a_caller_has_no_token_page(client, caller):
    client.force_login(caller)
    assert client.get(reverse("admin:api_tokens")).status_code == 302


def test_administrators_see_every_token_in_the_admin_agents_do_not(client, administrator, agent):
    tokens.api_token_create(user=agent, name="agent script")
    client.force_login(administrator)
    page = client.get(reverse("admin:crm_apitoken_changelist"))
    assert page.status_code == 200
    assert "agent script" in page.content.decode()
    client.force_login(agent)
    assert client.get(reverse("admin:crm_apitoken_changelist")).status_code == 403


def test_a_caller_signing_in_at_admin_is_told_where_the_workspace_is(client, caller):
    response = client.post(
        reverse("admin:login"), {"username": caller.username, "password": "pass-for-tests-1"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "caller workspace" in page
    assert 'href="/campaigns/"' in page
    assert "correct username and password" not in page


def test_a_wrong_password_at_admin_still_says_so(client, caller):
    response = client.post(reverse("admin:login"), {"username": caller.username, "password": "x"})
    assert "correct username and password" in response.content.decode()
