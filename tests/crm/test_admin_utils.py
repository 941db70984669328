import pytest
from django.db import connection

from crm import admin_utils
from crm.admin_utils import EstimatedCountPaginator
from crm.models import Customer
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.postgresql
def test_unfiltered_lists_use_the_planner_estimate_without_counting(monkeypatch):
    CustomerFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_BELOW", 1)
    paginator = EstimatedCountPaginator(
        Customer.objects.order_by("id"), 2, estimate_table="crm_customer"
    )
    assert paginator.count == 5
    assert paginator.is_estimate


def test_filtered_lists_count_exactly_up_to_the_cap(monkeypatch):
    CustomerFactory.create_batch(6)
    monkeypatch.setattr(admin_utils, "COUNT_CAP", 4)
    capped = EstimatedCountPaginator(Customer.objects.order_by("id"), 2)
    assert (capped.count, capped.is_capped) == (4, True)
    exact = EstimatedCountPaginator(Customer.objects.filter(pk__lt=0), 2)
    assert (exact.count, exact.is_capped) == (0, False)


@pytest.mark.postgresql
def test_the_changelist_shows_an_estimate_as_such(client, agent, monkeypatch):
    CustomerFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_BELOW", 1)
    client.force_login(agent)
    body = client.get("/admin/crm/customer/").content.decode()
    assert "about 3 customers" in body


def test_deep_pages_hold_the_same_rows_as_plain_offset_pages(monkeypatch):
    CustomerFactory.create_batch(12)
    monkeypatch.setattr(admin_utils, "DEFERRED_JOIN_OFFSET", 3)
    queryset = Customer.objects.order_by("-name", "-pk")
    paginator = EstimatedCountPaginator(queryset, 4)
    for number in (1, 2, 3):
        expected = list(queryset[(number - 1) * 4 : number * 4])
        assert list(paginator.page(number).object_list) == expected
