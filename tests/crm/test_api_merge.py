"""POST /api/customers/{id}/merge/: integrators merge with the service the admin uses."""

import pytest

from crm import services
from crm.models import Customer, CustomerMerge, PhoneNumber
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    kept = CustomerFactory(name="Jane Doe")
    merged = CustomerFactory(name="Jane D.")
    services.phone_number_add(customer=kept, number="+16789998212", type="other")
    services.phone_number_add(customer=merged, number="+16789998212", type="mobile", sms=True)
    services.phone_number_add(customer=merged, number="+14045550142", type="home")
    return kept, merged


def merge(api_client, merged: Customer, into: object):
    return api_client.post(f"/api/customers/{merged.pk}/merge/", {"into": into}, format="json")


@pytest.mark.parametrize("role", ["administrator", "agent"])
def test_administrators_and_agents_merge_and_the_mobile_rule_holds(api_client, pair, role, request):
    kept, merged = pair
    api_client.force_authenticate(request.getfixturevalue(role))

    response = merge(api_client, merged, kept.pk)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kept"], body["merged"]) == (kept.pk, merged.pk)
    assert {(n["number"], n["type"], n["sms"]) for n in body["customer"]["numbers"]} == {
        ("+16789998212", "mobile", True),
        ("+14045550142", "home", False),
    }
    merged.refresh_from_db()
    assert merged.merged_into_id == kept.pk
    assert PhoneNumber.objects.filter(number="+16789998212").count() == 1
    assert CustomerMerge.objects.get().merged_by.username.endswith("-user")


def test_callers_and_strangers_may_not_merge(api_client, pair, caller):
    kept, merged = pair
    assert merge(api_client, merged, kept.pk).status_code in (401, 403)
    api_client.force_authenticate(caller)
    assert merge(api_client, merged, kept.pk).status_code == 403
    assert not CustomerMerge.objects.exists()


def test_a_refused_merge_is_a_409_with_the_reason(api_client, pair, agent):
    kept, _merged = pair
    api_client.force_authenticate(agent)

    itself = merge(api_client, kept, kept.pk)

    assert itself.status_code == 409
    assert itself.json()["detail"] == "A profile cannot be merged into itself."
    assert not CustomerMerge.objects.exists()


def test_bad_input_is_a_400_and_changes_nothing(api_client, pair, agent):
    kept, merged = pair
    api_client.force_authenticate(agent)
    assert merge(api_client, merged, "x").status_code == 400
    assert merge(api_client, merged, 999_999).json() == {
        "into": ["No profile with this id (or it was merged away)."]
    }
    assert (
        api_client.post(f"/api/customers/{merged.pk}/merge/", {}, format="json").status_code == 400
    )
    services.customer_merge(keep=kept, merge=merged)
    # A profile merged away is gone from the API; merging into it is refused.
    other = CustomerFactory()
    assert merge(api_client, merged, other.pk).status_code == 404
    assert merge(api_client, other, merged.pk).status_code == 400
    assert CustomerMerge.objects.count() == 1
