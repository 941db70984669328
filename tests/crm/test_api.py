import pytest
from rest_framework.authtoken.models import Token

from crm import services
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane():
    customer = CustomerFactory(name="Jane Doe")
    services.phone_number_add(customer=customer, number="678 999 8212", type="mobile", sms=True)
    services.phone_number_add(customer=customer, number="404 555 0142", type="home")
    return customer


@pytest.mark.parametrize("typed", ["(678)-999 8212", "1 678-999-8212", "+1 (678) 999-8212"])
def test_filter_customers_by_a_number_typed_any_way(api_client, agent, jane, typed):
    CustomerFactory(name="Someone Else")
    api_client.force_authenticate(agent)
    response = api_client.get("/api/customers/", {"phone": typed})
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [jane.pk]


def test_invalid_phone_filter_is_a_400_with_the_reason(api_client, agent):
    api_client.force_authenticate(agent)
    # 4 or more digits are the end of a number (docs/search.md); fewer, or words, are not.
    response = api_client.get("/api/customers/", {"phone": "821"})
    assert response.status_code == 400
    assert "last 4 or more digits" in response.json()["phone"][0]
    response = api_client.get("/api/customers/", {"phone": "not a number"})
    assert response.status_code == 400


def test_customer_detail_has_its_numbers(api_client, agent, jane):
    api_client.force_authenticate(agent)
    body = api_client.get(f"/api/customers/{jane.pk}/").json()
    assert body["name"] == "Jane Doe"
    assert {(n["number"], n["type"], n["sms"]) for n in body["numbers"]} == {
        ("+16789998212", "mobile", True),
        ("+14045550142", "home", False),
    }


def test_token_authentication(api_client, agent, jane):
    token = Token.objects.create(user=agent)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get(f"/api/customers/{jane.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("role", "status"), [("Administrator", 200), ("Agent", 200), ("Caller", 403)]
)
def test_customer_api_per_role(api_client, make_user, jane, role, status):
    api_client.force_authenticate(make_user(role))
    assert api_client.get("/api/customers/").status_code == status
    assert api_client.get(f"/api/customers/{jane.pk}/").status_code == status


def test_anonymous_is_refused(api_client, jane):
    assert api_client.get("/api/customers/").status_code in (401, 403)


def test_the_api_is_read_only(api_client, administrator, jane):
    api_client.force_authenticate(administrator)
    assert api_client.delete(f"/api/customers/{jane.pk}/").status_code == 405


def test_cursor_pagination_walks_every_customer(api_client, agent):
    CustomerFactory.create_batch(7)
    api_client.force_authenticate(agent)
    seen, url = [], "/api/customers/?page_size=3"
    while url:
        body = api_client.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 7


def test_openapi_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/customers/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "CallStatusEnum" in out.read_text()
