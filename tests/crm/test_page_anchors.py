"""Deep pages of a huge unfiltered list from cached anchors (crm/page_anchors.py): the
same rows as a plain offset, new rows counted, the staleness of merged rows bounded."""

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.db import connection

from crm import admin_utils, page_anchors
from crm.models import Customer, PhoneNumber
from tests.crm.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]


@pytest.fixture
def small_steps(monkeypatch):
    """Anchors every 7 rows from position 10 on, and a cache of their own."""
    monkeypatch.setattr(page_anchors, "STEP", 7)
    monkeypatch.setattr(page_anchors, "FROM", 10)
    cache.clear()
    yield
    cache.clear()


def offset_ids(rows, bottom, size):
    return list(rows.values_list("pk", flat=True)[bottom : bottom + size])


@pytest.mark.parametrize("order", ["-id", "id", "pk", "-pk"])
def test_every_position_holds_the_rows_of_a_plain_offset(small_steps, order):
    CustomerFactory.create_batch(60)
    rows = Customer.objects.filter(merged_into__isnull=True).order_by(order)
    for bottom in range(10, 60):
        assert page_anchors.anchored_ids(rows, bottom, 5) == offset_ids(rows, bottom, 5), bottom


def test_rows_added_since_the_anchors_were_read_move_the_pages_as_an_offset_does(
    small_steps,
):
    CustomerFactory.create_batch(40)
    rows = Customer.objects.filter(merged_into__isnull=True).order_by("-id")
    before = page_anchors.anchored_ids(rows, 30, 5)
    assert before == offset_ids(rows, 30, 5)
    CustomerFactory.create_batch(3)  # newer ids: at the front of a descending list
    assert page_anchors.anchored_ids(rows, 33, 5) == before
    assert page_anchors.anchored_ids(rows, 30, 5) == offset_ids(rows, 30, 5)
    CustomerFactory.create_batch(page_anchors.STEP)  # a step's worth: read again
    assert page_anchors.anchored_ids(rows, 30, 5) == offset_ids(rows, 30, 5)
    assert page_anchors.anchored_ids(rows, 43, 5) == offset_ids(rows, 43, 5)


def test_a_row_merged_away_shows_until_the_anchors_are_read_again(small_steps, monkeypatch):
    customers = CustomerFactory.create_batch(40)
    rows = Customer.objects.filter(merged_into__isnull=True).order_by("id")
    clock = [1_000_000.0]
    monkeypatch.setattr(page_anchors.time, "time", lambda: clock[0])
    assert page_anchors.anchored_ids(rows, 20, 5) == offset_ids(rows, 20, 5)
    shown = page_anchors.anchored_ids(rows, 20, 5)
    # The third customer leaves the list: until the anchors are read again the page past
    # it lists what it listed before, one row earlier than a fresh offset would start.
    Customer.objects.filter(pk=customers[2].pk).update(merged_into=customers[0])
    assert page_anchors.anchored_ids(rows, 20, 5) == shown == offset_ids(rows, 19, 5)
    clock[0] += page_anchors.SECONDS
    assert page_anchors.anchored_ids(rows, 20, 5) == offset_ids(rows, 20, 5)


def test_anchors_stand_aside_where_they_do_not_apply(small_steps):
    CustomerFactory.create_batch(30)
    by_id = Customer.objects.order_by("id")
    assert page_anchors.anchored_ids(by_id, 5, 5) is None  # near the start: an offset
    assert page_anchors.anchored_ids(Customer.objects.order_by("name"), 20, 5) is None
    assert page_anchors.anchored_ids(Customer.objects.order_by("-name", "-id"), 20, 5) is None
    assert page_anchors.anchored_ids(by_id, 40, 5) is None  # past the end
    assert page_anchors.anchored_ids(Customer.objects.none().order_by("id"), 20, 5) is None


def test_the_changelists_deep_pages_list_the_rows_of_a_plain_offset(
    client, administrator, small_steps, monkeypatch
):
    for customer in CustomerFactory.create_batch(45):
        PhoneNumber.objects.create(customer=customer, number=f"+1678555{customer.pk:04d}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
        cursor.execute("ANALYZE crm_phonenumber")
    monkeypatch.setattr(admin_utils, "EXACT_COUNT_BELOW", 1)
    monkeypatch.setattr(admin_utils, "DEFERRED_JOIN_OFFSET", 1)
    served: list[list[int] | None] = []
    anchored = page_anchors.anchored_ids
    monkeypatch.setattr(
        page_anchors, "anchored_ids", lambda *args: served.append(anchored(*args)) or served[-1]
    )
    client.force_login(administrator)
    customers = list(Customer.objects.order_by("-id").values_list("pk", flat=True))
    numbers = list(PhoneNumber.objects.order_by("id").values_list("pk", flat=True))
    for route, model, ids in (
        ("customer", Customer, customers),
        ("phonenumber", PhoneNumber, numbers),
    ):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 4)
        for page in (3, 5, 11):
            response = client.get(f"/admin/crm/{route}/", {"p": page})
            assert response.status_code == 200
            shown = [obj.pk for obj in response.context["cl"].result_list]
            assert response.context["cl"].paginator.is_estimate
            assert shown == ids[(page - 1) * 4 : page * 4], (route, page)
    assert sum(ids is not None for ids in served) == 4  # pages 5 and 11 of both lists


def test_a_cache_outage_serves_the_plain_offset(small_steps, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    CustomerFactory.create_batch(30)
    rows = Customer.objects.order_by("-id")

    def down(*args, **kwargs):
        raise RedisDown("Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(page_anchors.cache, "get", down)
        assert page_anchors.anchored_ids(rows, 20, 5) is None  # the caller's offset answers
    with monkeypatch.context() as patch:
        patch.setattr(page_anchors.cache, "set", down)
        assert page_anchors.anchored_ids(rows, 20, 5) == offset_ids(rows, 20, 5)
