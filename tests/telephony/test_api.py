"""/api/calls/ (filtered list, end-of-call reports) and /api/customers/{id}/calls/, per role."""

import pytest
from rest_framework.authtoken.models import Token

from crm.models import Customer
from telephony.models import Call
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory

pytestmark = pytest.mark.django_db

REPORT = {
    "external_id": "asst-call-0001",
    "from": "(415) 555-0142",
    "to": "+1 800 555 0100",
    "assistant": "Front desk",
    "started_at": "2026-11-20T09:30:00Z",
    "duration_seconds": 184,
    "satisfaction": 4,
    "reason": "Billing question",
    "transcript": "Caller: Hi, my invoice…\nAssistant: Let me check.",
}


def as_user(api_client, user):
    token = Token.objects.create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


def test_a_report_links_or_creates_the_profile(api_client, administrator):
    response = as_user(api_client, administrator).post("/api/calls/", REPORT, format="json")

    assert response.status_code == 201, response.content
    call = Call.objects.get()
    assert response.json()["id"] == call.pk
    assert (call.from_number, call.to_number) == ("+14155550142", "+18005550100")
    assert (call.duration_seconds, call.satisfaction, call.reason) == (184, 4, "Billing question")
    assert call.assistant.name == "Front desk"
    assert call.channel == "assistant"
    assert call.started_at.isoformat() == "2026-11-20T09:30:00+00:00"
    customer = Customer.objects.get()
    assert customer.interaction_count == 1
    assert customer.last_interaction_at == call.started_at


def test_a_repeated_report_updates_the_same_call(api_client, administrator):
    client = as_user(api_client, administrator)
    client.post("/api/calls/", REPORT, format="json")
    response = client.post(
        "/api/calls/", {**REPORT, "satisfaction": 2, "reason": "Complaint"}, format="json"
    )

    assert response.status_code == 200
    call = Call.objects.get()
    assert (call.satisfaction, call.reason) == (2, "Complaint")
    assert Customer.objects.get().interaction_count == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"satisfaction": 7}, "satisfaction"),
        ({"from": "not a number"}, "from"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"external_id": ""}, "external_id"),
        ({"started_at": "last tuesday"}, "started_at"),
    ],
)
def test_a_bad_report_is_a_400_naming_the_field(api_client, administrator, change, field):
    response = as_user(api_client, administrator).post(
        "/api/calls/", {**REPORT, **change}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Call.objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.parametrize("role", ["Agent", "Caller"])
def test_only_integrations_with_add_call_may_post_reports(api_client, make_user, role):
    response = as_user(api_client, make_user(role)).post("/api/calls/", REPORT, format="json")
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_anonymous_reports_are_refused(api_client):
    assert api_client.post("/api/calls/", REPORT, format="json").status_code in (401, 403)
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"), [("Administrator", 200), ("Agent", 200), ("Caller", 403)]
)
def test_a_customers_calls_per_role(api_client, make_user, role, status):
    customer = CustomerFactory()
    CallFactory.create_batch(3, customer=customer)
    CallFactory()  # someone else's

    response = as_user(api_client, make_user(role)).get(f"/api/customers/{customer.pk}/calls/")

    assert response.status_code == status
    if status == 200:
        results = response.json()["results"]
        assert len(results) == 3
        assert {r["customer"] for r in results} == {customer.pk}
        started = [r["started_at"] for r in results]
        assert started == sorted(started, reverse=True)


def test_a_merged_or_missing_customer_has_no_calls_page(api_client, agent):
    kept = CustomerFactory()
    merged = CustomerFactory(merged_into=kept)
    client = as_user(api_client, agent)
    assert client.get(f"/api/customers/{merged.pk}/calls/").status_code == 404
    assert client.get("/api/customers/999999/calls/").status_code == 404


def test_the_customer_routes_of_crm_still_work(api_client, agent):
    customer = CustomerFactory()
    response = as_user(api_client, agent).get(f"/api/customers/{customer.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == customer.pk


def test_the_call_list_filters_and_pages_newest_first(api_client, agent):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ann, bob = CustomerFactory(), CustomerFactory()
    old = CallFactory(customer=ann, started_at=now - timedelta(days=3), reason="Billing")
    new = CallFactory(customer=ann, started_at=now - timedelta(hours=1), reason="Billing")
    other = CallFactory(
        customer=bob, from_number="+14155550142", started_at=now, direction="inbound"
    )
    client = as_user(api_client, agent)

    everything = client.get("/api/calls/").json()
    assert [c["id"] for c in everything["results"]] == [other.pk, new.pk, old.pk]
    by_caller = client.get("/api/calls/", {"caller": "(415) 555-0142"}).json()
    assert [c["id"] for c in by_caller["results"]] == [other.pk]
    by_customer = client.get("/api/calls/", {"customer": ann.pk, "reason": "Billing"}).json()
    assert [c["id"] for c in by_customer["results"]] == [new.pk, old.pk]
    since = (now - timedelta(days=1)).isoformat()
    recent = client.get("/api/calls/", {"customer": ann.pk, "since": since}).json()
    assert [c["id"] for c in recent["results"]] == [new.pk]
    first = client.get("/api/calls/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    assert [c["id"] for c in first["results"] + second["results"]] == [other.pk, new.pk, old.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"caller": "not a number"}, "caller"), ({"since": "yesterday"}, "since")],
)
def test_a_bad_call_list_filter_is_a_400_naming_it(api_client, agent, params, field):
    response = as_user(api_client, agent).get("/api/calls/", params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(("role", "status"), [("Agent", 200), ("Caller", 403)])
def test_the_call_list_per_role(api_client, make_user, role, status):
    assert as_user(api_client, make_user(role)).get("/api/calls/").status_code == status
