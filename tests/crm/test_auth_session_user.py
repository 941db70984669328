"""The session's user read by SQL composed once (crm/auth.py): the same user, and the
same refusals, as Django's ``get_user`` gives, over real sessions."""

import pytest
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from crm.auth import session_user
from crm.sessions import SessionStore

pytestmark = pytest.mark.django_db

# A page any signed-in user may read, and that answers 403 to anyone else.
ME = "/api/do-not-call/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def request_for(client: Client):
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=client.cookies["sessionid"].value)
    return request


def fields(user) -> dict:
    return {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields}


@pytest.mark.postgresql
def test_the_user_read_is_the_user_django_reads_in_one_statement(caller):
    caller.first_name, caller.email = "Ana", "ana@example.com"
    caller.save()
    client = signed_in(caller)
    with CaptureQueriesContext(connection) as queries:
        user = session_user(request_for(client))
    # The session row, then the user's: nothing more.
    assert len(queries.captured_queries) == 2
    assert "auth_user" in queries.captured_queries[1]["sql"]
    expected = auth.get_user(request_for(client))
    assert type(user) is type(expected)
    assert fields(user) == fields(expected)
    assert user._state.db == expected._state.db
    assert not user._state.adding
    assert user.last_login.utcoffset() is not None  # aware, as the ORM gives it
    # The instance works as ModelBackend's does: saved, its permissions read.
    user.first_name = "Ana María"
    user.save(update_fields=["first_name"])
    assert get_user_model().objects.get(pk=caller.pk).first_name == "Ana María"
    assert user.get_all_permissions() == ModelBackend().get_user(caller.pk).get_all_permissions()


@pytest.mark.postgresql
def test_the_user_s_permissions_come_with_the_user(caller, make_user):
    from django.contrib.auth.models import Permission

    caller.user_permissions.add(Permission.objects.get(codename="add_donotcallnumber"))
    root = make_user(None, "root", is_superuser=True)
    asked = [
        "campaigns.work_campaign",
        "campaigns.add_donotcallnumber",
        "campaigns.change_campaign",
        "crm.view_customer",
    ]
    given: dict[str, list[bool]] = {}
    for user in (caller, root, make_user(None, "nobody")):
        client = signed_in(user)
        read = session_user(request_for(client))
        plain = get_user_model().objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as queries:
            answers = [read.has_perm(p) for p in asked]
            everything = read.get_all_permissions()
        assert answers == [plain.has_perm(p) for p in asked], user.username
        assert everything == plain.get_all_permissions(), user.username
        if not user.is_superuser:  # superusers' are all permissions, read when asked
            assert queries.captured_queries == [], user.username
        given[user.username] = answers
    assert given["caller-user"] == [True, True, False, False]
    assert all(given["root"])
    assert not any(given["nobody"])


def test_a_signed_in_user_is_served_and_a_stranger_refused(caller):
    assert signed_in(caller).get(ME).status_code != 403
    assert Client().get(ME).status_code == 403


def test_a_changed_password_signs_the_other_sessions_out(caller):
    client = signed_in(caller)
    assert client.get(ME).status_code != 403
    caller.set_password("another-pass-for-tests-2")
    caller.save()
    assert client.get(ME).status_code == 403
    # The session is flushed, as Django does: its row is gone.
    assert not Session.objects.filter(session_key=client.cookies["sessionid"].value).exists()


def test_an_inactive_or_deleted_user_is_signed_out(caller, make_user):
    client = signed_in(caller)
    caller.is_active = False
    caller.save()
    assert client.get(ME).status_code == 403
    other = make_user(caller.groups.first().name, "other-caller")
    client = signed_in(other)
    assert client.get(ME).status_code != 403
    other.delete()
    assert client.get(ME).status_code == 403


def test_a_backend_no_longer_listed_signs_the_session_out(caller):
    client = signed_in(caller)
    with override_settings(AUTHENTICATION_BACKENDS=["axes.backends.AxesStandaloneBackend"]):
        assert client.get(ME).status_code == 403
    assert client.get(ME).status_code != 403


def test_a_session_of_another_backend_is_read_by_it(caller):
    client = signed_in(caller)
    session = SessionStore(session_key=client.cookies["sessionid"].value)
    session[auth.BACKEND_SESSION_KEY] = "tests.crm.test_auth_session_user.OnlyThisBackend"
    session.save()
    listed = ["django.contrib.auth.backends.ModelBackend", session[auth.BACKEND_SESSION_KEY]]
    with override_settings(AUTHENTICATION_BACKENDS=listed):
        user = session_user(request_for(client))
    assert user.pk == caller.pk
    assert user.read_by == "OnlyThisBackend"


class OnlyThisBackend(ModelBackend):
    def get_user(self, user_id):
        user = super().get_user(user_id)
        user.read_by = "OnlyThisBackend"
        return user


def test_a_session_signed_with_a_retired_secret_is_kept_under_a_new_key(caller, settings):
    settings.SECRET_KEY = "an-old-secret-" + "x" * 40
    client = signed_in(caller)
    old_key = client.cookies["sessionid"].value
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = (
        "a-new-secret-" + "y" * 40,
        [settings.SECRET_KEY],
    )
    request = request_for(client)
    user = session_user(request)
    assert user.pk == caller.pk
    assert request.session.session_key != old_key
    assert request.session[auth.HASH_SESSION_KEY] == user.get_session_auth_hash()
    # Without the fallback the old hash no longer verifies: signed out.
    settings.SECRET_KEY_FALLBACKS = []
    client = Client()
    settings.SECRET_KEY = "an-old-secret-" + "x" * 40
    client.force_login(caller)
    settings.SECRET_KEY = "a-new-secret-" + "y" * 40
    assert not session_user(request_for(client)).is_authenticated
