"""The agents' day per role, in one place: an Agent notes, replies and searches; a Caller
reaches none of it (API or admin); only an Administrator sees everyone's API tokens."""

import pytest
from django.urls import reverse

from crm import providers
from telephony import services
from tests.telephony.factories import message_sid
from tests.telephony.messaging_fakes import RecordingProvider

pytestmark = pytest.mark.django_db

ROLES = ("Administrator", "Agent", "Caller")


@pytest.fixture
def customer(settings):
    settings.MESSAGING_PROVIDER = "tests.telephony.messaging_fakes.RecordingProvider"
    RecordingProvider.reset()
    providers.clear_providers()
    recorded = services.message_record(
        external_id=message_sid(),
        direction="inbound",
        from_number="+14155550142",
        to_number="+18005550100",
        body="Can I move Thursday?",
    )
    yield recorded.record.customer
    providers.clear_providers()


def _api(api_client, user, customer):
    api_client.force_authenticate(user)
    return {
        "note": api_client.post(
            f"/api/customers/{customer.pk}/notes/", {"text": "Called back"}, format="json"
        ).status_code,
        "notes": api_client.get(f"/api/customers/{customer.pk}/notes/").status_code,
        "reply": api_client.post(
            f"/api/customers/{customer.pk}/messages/", {"body": "Friday works"}, format="json"
        ).status_code,
        "search": api_client.get("/api/search/", {"q": "5550142"}).status_code,
        "customers by number": api_client.get("/api/customers/", {"phone": "0142"}).status_code,
        "inbox": api_client.get("/api/inbox/").status_code,
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_api_per_role(api_client, make_user, customer, role):
    got = _api(api_client, make_user(role), customer)
    if role == "Caller":
        # A Caller's search answers only the leads of their own campaigns (docs/search.md).
        assert got.pop("search") == 200
        assert got == dict.fromkeys(got, 403)
        found = api_client.get("/api/search/", {"q": "5550142"}).json()
        assert {hit["kind"] for hit in found} <= {"lead"}
    else:
        found = api_client.get("/api/search/", {"q": "5550142"}).json()
        assert ("customer", customer.pk) in {(hit["kind"], hit["id"]) for hit in found}
        assert got == {
            "note": 201,
            "notes": 200,
            "reply": 201,
            "search": 200,
            "customers by number": 200,
            "inbox": 200,
        }


ADMIN_PAGES = {
    "search": lambda c: reverse("admin:search") + "?q=garcia",
    "profile": lambda c: reverse("admin:crm_customer_change", args=[c.pk]),
    "inbox": lambda c: reverse("admin:telephony_conversation_changelist"),
    "missed calls": lambda c: reverse("admin:telephony_missedcall_changelist"),
    "my tokens": lambda c: reverse("admin:api_tokens"),
    "my preferences": lambda c: reverse("admin:preferences"),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_pages_per_role(client, make_user, customer, role):
    client.force_login(make_user(role))
    got = {name: client.get(url(customer)).status_code for name, url in ADMIN_PAGES.items()}
    note = client.post(reverse("admin:crm_note_add_for", args=[customer.pk]), {"text": "Hi"})
    tokens_admin = client.get(reverse("admin:crm_apitoken_changelist")).status_code
    if role == "Caller":
        # Not staff: every admin page sends a Caller to sign in (and from there, to the
        # workspace); nothing is written.
        assert set(got.values()) == {302}
        assert note.status_code == 302
        assert customer.notes.count() == 0
        assert tokens_admin == 302
    else:
        assert got == dict.fromkeys(ADMIN_PAGES, 200)
        assert note.status_code == 302
        assert customer.notes.get().text == "Hi"
        assert tokens_admin == (200 if role == "Administrator" else 403)
