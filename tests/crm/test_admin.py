import pytest
from django.urls import reverse

from crm import services
from crm.models import PhoneNumber, PhoneNumberChange
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane():
    customer = CustomerFactory(name="Jane Doe", email="jane.doe@example.com")
    services.phone_number_add(customer=customer, number="678 999 8212", type="mobile", sms=True)
    return customer


@pytest.mark.parametrize(
    ("role", "status"), [("Administrator", 200), ("Agent", 200), ("Caller", 302), (None, 302)]
)
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:crm_customer_changelist",
        "admin:crm_phonenumber_changelist",
        "admin:crm_phonenumberchange_changelist",
    ],
)
def test_admin_pages_per_role(client, make_user, jane, role, status, url_name):
    if role:
        client.force_login(make_user(role))
    response = client.get(reverse(url_name))
    assert response.status_code == status


def test_agent_opens_a_profile_and_sees_its_numbers(client, agent, jane):
    client.force_login(agent)
    response = client.get(reverse("admin:crm_customer_change", args=[jane.pk]))
    assert response.status_code == 200
    assert "+16789998212" in response.content.decode()


def test_agent_cannot_delete_customers_or_reach_settings(client, agent, jane):
    client.force_login(agent)
    assert client.get(reverse("admin:crm_customer_delete", args=[jane.pk])).status_code == 403
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


@pytest.mark.parametrize("typed", ["(678)-999 8212", "1 678-999-8212", "+16789998212"])
def test_search_by_a_number_typed_any_way(client, agent, jane, typed):
    CustomerFactory(name="Someone Else")
    client.force_login(agent)
    response = client.get(reverse("admin:crm_customer_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [jane]


def test_search_by_name_or_email_prefix(client, agent, jane):
    CustomerFactory(name="John Smith", email="john@example.com")
    client.force_login(agent)
    url = reverse("admin:crm_customer_changelist")
    assert list(client.get(url, {"q": "jan"}).context["cl"].result_list) == [jane]
    assert list(client.get(url, {"q": "jane.doe@"}).context["cl"].result_list) == [jane]
    assert list(client.get(url, {"q": "nobody"}).context["cl"].result_list) == []


def test_changelist_filters_by_number_type(client, agent, jane):
    landline = CustomerFactory(name="Landline Only")
    services.phone_number_add(customer=landline, number="404 555 0142", type="home")
    client.force_login(agent)
    url = reverse("admin:crm_customer_changelist")
    assert list(client.get(url, {"number_type": "home"}).context["cl"].result_list) == [landline]
    assert list(client.get(url, {"number_type": "sms"}).context["cl"].result_list) == [jane]


def test_merged_profiles_are_hidden_from_the_list(client, agent, jane):
    CustomerFactory(name="Old Jane", merged_into=jane)
    client.force_login(agent)
    response = client.get(reverse("admin:crm_customer_changelist"))
    assert list(response.context["cl"].result_list) == [jane]


def _inline_post(customer, rows):
    data = {
        "name": customer.name,
        "email": customer.email,
        "source": customer.source,
        "phone_numbers-TOTAL_FORMS": str(len(rows)),
        "phone_numbers-INITIAL_FORMS": str(sum(1 for r in rows if r.get("id"))),
        "phone_numbers-MIN_NUM_FORMS": "0",
        "phone_numbers-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                value = "on"
            if value is not False:
                data[f"phone_numbers-{i}-{key}"] = value
        data[f"phone_numbers-{i}-customer"] = str(customer.pk)
    return data


def test_agent_adds_a_number_in_the_inline_and_it_is_normalised_and_audited(client, agent):
    customer = CustomerFactory()
    client.force_login(agent)
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    response = client.post(
        url, _inline_post(customer, [{"number": "(678)-999 8212", "type": "home"}])
    )
    assert response.status_code == 302
    phone = customer.phone_numbers.get()
    assert (str(phone.number), phone.type) == ("+16789998212", "home")
    change = PhoneNumberChange.objects.get(customer=customer)
    assert (change.action, change.actor) == ("added", agent)


def test_taken_mobile_number_shows_a_form_error_not_a_500(client, agent, jane):
    customer = CustomerFactory()
    client.force_login(agent)
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    response = client.post(
        url, _inline_post(customer, [{"number": "678 999 8212", "type": "mobile"}])
    )
    assert response.status_code == 200
    assert "belongs to one customer only" in response.content.decode()
    assert not customer.phone_numbers.exists()


def test_sms_on_a_home_number_shows_a_form_error(client, agent):
    customer = CustomerFactory()
    client.force_login(agent)
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    response = client.post(
        url, _inline_post(customer, [{"number": "404 555 0142", "type": "home", "sms": True}])
    )
    assert response.status_code == 200
    assert "Only a Mobile number" in response.content.decode()
    assert not PhoneNumber.objects.filter(customer=customer).exists()


def test_admin_is_branded(client, agent):
    client.force_login(agent)
    assert "Switchboard" in client.get(reverse("admin:index")).content.decode()


def test_a_number_lost_to_a_race_after_validation_becomes_a_message(client, agent, monkeypatch):
    # Form validation passed, then another request took the Mobile number before our
    # INSERT: the service's ValidationError must reach the agent as a message, not a 500.
    customer = CustomerFactory()
    rival = CustomerFactory()
    real_save = services.phone_number_save

    def save_after_rival_wins(*, phone, cause, actor=None):
        services.phone_number_add(customer=rival, number=str(phone.number), type="mobile")
        return real_save(phone=phone, cause=cause, actor=actor)

    monkeypatch.setattr(services, "phone_number_save", save_after_rival_wins)
    client.force_login(agent)
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    response = client.post(
        url, _inline_post(customer, [{"number": "678 999 8212", "type": "mobile"}]), follow=True
    )
    assert response.status_code == 200
    assert "belongs to one customer only" in response.content.decode()
    assert not customer.phone_numbers.exists()
