"""The customer page's cost does not follow the history (docs/pages.md, "Customer page"):
the same queries whatever the timeline page holds, the numbers read once for all panels,
deep timeline pages equal to the first pages' way of reading, analytics bounded."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import DoNotCallNumber
from crm import services as crm_services
from crm.models import PhoneNumber
from telephony import selectors, services
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db


def page(customer) -> str:
    return f"/admin/crm/customer/{customer.pk}/change/"


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def profile(
    calls: int = 0, messages: int = 0, notes: int = 0, author=None, numbers: int = 1, area="415"
):
    customer = CustomerFactory()
    for i in range(numbers):
        PhoneNumber.objects.create(
            customer=customer, number=f"+1{area}555{i:04d}", type="mobile" if i == 0 else "home"
        )
    now = timezone.now()
    for i in range(calls):
        CallFactory(customer=customer, started_at=now - timedelta(hours=i), reason="Billing")
    for i in range(messages):
        MessageFactory(customer=customer, sent_at=now - timedelta(hours=i, minutes=30))
    for i in range(notes):
        crm_services.note_create(customer=customer, author=author, text=f"note {i}")
    services.customer_counters_recompute(customer_ids={customer.pk})
    customer.refresh_from_db()
    return customer


def test_the_same_queries_whether_the_page_holds_calls_only_or_every_kind(client, agent):
    # Before, the timeline fetched each kind the page happened to hold: a page of calls
    # only cost two queries less than one mixing calls, texts and notes.
    mixed = profile(calls=5, messages=5, notes=3, author=agent)
    calls_only = profile(calls=30, area="212")
    client.force_login(agent)
    client.get(page(mixed))  # warm caches (content types, settings)

    assert queries(client, page(calls_only)) == queries(client, page(mixed))


def test_more_numbers_cost_no_more_queries(client, agent):
    # Before, the numbers form looked each number up on the do-not-call list on its own.
    one = profile(calls=1, numbers=1)
    four = profile(calls=1, numbers=4, area="212")
    client.force_login(agent)
    client.get(page(one))

    assert queries(client, page(four)) == queries(client, page(one))


def test_the_card_shows_do_not_call_beside_the_number(client, agent):
    customer = profile(numbers=2)
    DoNotCallNumber.objects.create(number="+14155550001", reason="asked")
    client.force_login(agent)

    html = client.get(page(customer)).content.decode()

    card = html[html.index('id="customer-card"') : html.index('id="customer-timeline"')]
    listed = card[card.index('data-number="+14155550001"') :]
    assert "sb-flag-do_not_call" in listed[: listed.index("</li>")]
    clear = card[card.index('data-number="+14155550000"') :]
    assert "sb-flag-do_not_call" not in clear[: clear.index("</li>")]


def test_deep_pages_read_the_same_entries_as_the_first_pages_way(monkeypatch, agent):
    customer = profile(calls=25, messages=20, notes=12, author=agent)
    pages = [selectors.customer_timeline(customer=customer, page=n) for n in (1, 2, 3, 4)]
    direct = [[(e.kind, e.item.pk) for e in p.entries] for p in pages]
    monkeypatch.setattr(selectors, "TIMELINE_DIRECT_ROWS", 0)  # every page the deep way
    deep = [selectors.customer_timeline(customer=customer, page=n) for n in (1, 2, 3, 4)]

    assert [[(e.kind, e.item.pk) for e in p.entries] for p in deep] == direct
    assert [len(p) for p in direct] == [20, 20, 17, 0]
    assert [p.has_next for p in deep] == [True, True, False, False]
    seen = [e.at for p in deep for e in p.entries]
    assert seen == sorted(seen, reverse=True)


def test_notes_show_who_wrote_them_and_whether_they_were_edited(client, agent):
    customer = profile(calls=1, notes=2, author=agent)
    note = customer.notes.order_by("id").first()
    crm_services.note_edit(note=note, by=agent, text="changed")
    client.force_login(agent)

    html = client.get(page(customer)).content.decode()

    assert html.count('data-kind="note"') == 2
    assert html.count("<em>edited</em>") == 1
    assert html.count(f'href="/admin/crm/note/{note.pk}/change/"') == 1


def test_top_reasons_count_the_latest_calls_of_a_long_history(client, agent, monkeypatch):
    customer = CustomerFactory()
    now = timezone.now()
    for i in range(6):  # the three latest are Delivery, the three before Billing
        CallFactory(
            customer=customer,
            started_at=now - timedelta(hours=i),
            reason="Delivery" if i < 3 else "Billing",
            satisfaction=4,
        )
    monkeypatch.setattr(selectors, "REASONS_WINDOW", 3)

    stats = selectors.customer_call_analytics(customer=customer)

    assert stats.top_reasons == [("Delivery", 3)]
    assert stats.reasons_window == 3
    assert (stats.calls, stats.average_duration, stats.average_satisfaction) == (6, 60.0, 4.0)
    client.force_login(agent)
    assert "last 3 calls" in client.get(page(customer)).content.decode()
