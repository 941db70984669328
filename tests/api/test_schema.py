"""The served OpenAPI schema documents what the API answers."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _schema(spec, ref_or_schema):
    ref = ref_or_schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else ref_or_schema


def test_disqualify_answers_the_phone_and_its_disposition(spec):
    operation = spec["paths"]["/api/campaigns/{campaign_id}/phones/{number}/disqualify/"]["post"]
    body = _schema(spec, operation["responses"]["201"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"phone", "disposition"}
    assert set(body["required"]) == {"phone", "disposition"}
    assert set(operation["responses"]) == {"201", "400", "403", "404"}


def test_the_upload_file_is_a_required_binary(spec):
    operation = spec["paths"]["/api/campaigns/{campaign_id}/uploads/"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "The CSV.",
    }


def test_errors_are_documented_where_they_happen(spec):
    paths = spec["paths"]
    assert set(paths["/api/customers/"]["get"]["responses"]) == {"200", "400", "403", "404"}
    assert set(paths["/api/customers/{id}/"]["get"]["responses"]) == {"200", "403", "404"}
    assert set(paths["/api/calls/"]["post"]["responses"]) == {"200", "201", "400", "403"}
    detail = paths["/api/customers/{id}/"]["get"]["responses"]["404"]
    assert detail["content"]["application/json"]["schema"]["required"] == ["detail"]


@pytest.mark.parametrize(
    "path", ["/api/customers/", "/api/calls/", "/api/campaigns/{campaign_id}/phones/"]
)
def test_page_size_bounds_are_stated(spec, path):
    parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


@pytest.mark.parametrize("size", ["0", "501", "-1", "abc", "²"])
def test_page_size_out_of_bounds_is_a_400_naming_it(api_client, agent, size):
    api_client.force_authenticate(agent)
    response = api_client.get("/api/customers/", {"page_size": size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_page_size_in_bounds_pages(api_client, agent):
    from tests.crm.factories import CustomerFactory

    CustomerFactory.create_batch(3)
    api_client.force_authenticate(agent)
    response = api_client.get("/api/customers/", {"page_size": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]
