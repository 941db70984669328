import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from crm import services
from crm.models import Customer, PhoneNumber, PhoneNumberChange
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_customer_never_holds_the_same_number_twice():
    customer = CustomerFactory()
    services.phone_number_add(customer=customer, number="678 999 8212")
    with pytest.raises(ValidationError, match="already has this number"):
        services.phone_number_add(customer=customer, number="+1 (678) 999-8212", type="home")
    assert customer.phone_numbers.count() == 1


def test_a_mobile_number_belongs_to_one_customer_only():
    first, second = CustomerFactory(), CustomerFactory()
    services.phone_number_add(customer=first, number="678 999 8212", type="mobile")
    with pytest.raises(ValidationError, match="Mobile number belongs to one customer only"):
        services.phone_number_add(customer=second, number="6789998212", type="mobile")
    assert not second.phone_numbers.exists()


def test_the_same_number_may_be_home_or_office_on_several_profiles():
    holders = CustomerFactory.create_batch(3)
    services.phone_number_add(customer=holders[0], number="404 555 0142", type="mobile")
    services.phone_number_add(customer=holders[1], number="404 555 0142", type="home")
    services.phone_number_add(customer=holders[2], number="404 555 0142", type="office")
    assert PhoneNumber.objects.filter(number="+14045550142").count() == 3


def test_only_a_mobile_number_can_carry_sms():
    customer = CustomerFactory()
    with pytest.raises(ValidationError, match="Only a Mobile number"):
        services.phone_number_add(customer=customer, number="678 999 8212", type="home", sms=True)


@pytest.mark.parametrize(
    "row",
    [
        {"type": "home", "sms": True},
        {"type": "mobile", "sms": False, "duplicate_mobile": True},
    ],
)
def test_the_database_itself_enforces_the_rules(row):
    # Bypass the services: the constraints must hold even for raw ORM writes.
    first, second = CustomerFactory(), CustomerFactory()
    if row.get("duplicate_mobile"):
        PhoneNumber.objects.create(customer=first, number="+16789998212", type="mobile")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(
            customer=second, number="+16789998212", type=row["type"], sms=row["sms"]
        )


def test_model_validation_reports_the_mobile_rule_as_a_message():
    first, second = CustomerFactory(), CustomerFactory()
    PhoneNumber.objects.create(customer=first, number="+16789998212", type="mobile")
    candidate = PhoneNumber(customer=second, number="+16789998212", type="mobile")
    with pytest.raises(ValidationError) as excinfo:
        candidate.full_clean()
    assert "belongs to one customer only" in str(excinfo.value)


def test_invalid_numbers_are_refused_with_the_reason():
    customer = CustomerFactory()
    with pytest.raises(ValidationError, match="not a valid phone number"):
        services.phone_number_add(customer=customer, number="call me maybe")


def test_type_changes_are_audited_with_their_cause():
    customer = CustomerFactory()
    phone = services.phone_number_add(customer=customer, number="678 999 8212")
    services.phone_number_set_type(
        phone=phone, type="mobile", sms=True, type_source="inbound_sms", cause="inbound SMS SM1"
    )
    change = PhoneNumberChange.objects.get(action="type_changed")
    assert (change.old_type, change.new_type, change.new_sms) == ("other", "mobile", True)
    assert change.cause == "inbound SMS SM1"
    assert change.type_source == "inbound_sms"


def test_set_type_refused_by_the_mobile_rule_leaves_the_number_as_it_was():
    first, second = CustomerFactory(), CustomerFactory()
    services.phone_number_add(customer=first, number="678 999 8212", type="mobile")
    other = services.phone_number_add(customer=second, number="678 999 8212", type="other")
    with pytest.raises(ValidationError):
        services.phone_number_set_type(
            phone=other, type="mobile", sms=False, type_source="lookup", cause="lookup"
        )
    other.refresh_from_db()
    assert other.type == "other"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_racing_threads_give_a_mobile_number_to_exactly_one_customer(on_postgresql):
    contenders = [Customer.objects.create(name=f"Contender {i}") for i in range(6)]
    barrier = threading.Barrier(len(contenders))
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(customer: Customer) -> None:
        try:
            barrier.wait()
            services.phone_number_add(customer=customer, number="(678)-999 8212", type="mobile")
            result = "won"
        except ValidationError as exc:
            result = " ".join(exc.messages)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(c,)) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("won") == 1
    losers = [o for o in outcomes if o != "won"]
    assert len(losers) == 5
    assert all("belongs to one customer only" in o for o in losers)
    assert PhoneNumber.objects.filter(number="+16789998212", type="mobile").count() == 1
