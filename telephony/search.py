"""The search rule (crm/search.py) on calls, messages and owned numbers, and their kinds
in the header search box and ``/api/search/``."""

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from crm import search
from crm.formatting import local_datetime
from crm.phones import display_number
from crm.selectors import customer_queryset
from telephony.models import Call, OwnedNumber

# A call or message is found by its own numbers, or by its customer's name or email.
_BY_CUSTOMER = (
    "customer_id",
    customer_queryset(),
    search.Fields(names=("name",), emails=("email",)),
)
# Customers matched first (the newest this many per rank), then their calls through the
# timeline index: a rare name never walks ten million calls in date order looking for
# its customer, and a common one reads a bounded number of timelines.
MATCHED_CUSTOMERS = 200
INTERACTION_FIELDS = search.Fields(
    numbers=("from_number", "to_number"), via=[_BY_CUSTOMER], via_first=MATCHED_CUSTOMERS
)
OWNED_NUMBER_FIELDS = search.Fields(names=("label",), numbers=("number",))


def interaction_search(queryset: QuerySet[Any], term: str) -> QuerySet[Any]:
    """Calls or messages: the rule, or a Twilio CallSid/MessageSid exactly."""
    text = term.strip()
    if text[:2] in {"CA", "SM", "MM"} and len(text) == 34:
        return queryset.filter(external_id=text)
    time_field = "started_at" if queryset.model is Call else "sent_at"
    return search.best(queryset, text, INTERACTION_FIELDS, order=(f"-{time_field}", "-id"))


def find_calls(query: search.Query, user: Any, limit: int) -> list[search.Hit]:
    rows = search.ranked(
        search.best(
            Call.objects.select_related("customer"),
            query,
            INTERACTION_FIELDS,
            limit=limit,
            order=("-started_at", "-id"),
        ),
        "-started_at",
        "-id",
    )[:limit]
    return [
        search.Hit(
            kind="call",
            id=call.pk,
            label=f"{call.get_direction_display()} call, {display_number(call.from_number)}"
            + (f" ({call.customer})" if call.customer_id else ""),
            matched=search.matched_text(query, search.rank_of(call)),
            rank=search.rank_of(call),
            url=reverse("admin:telephony_call_change", args=[call.pk]),
            detail=local_datetime(call.started_at),
        )
        for call in rows
    ]


def find_owned_numbers(query: search.Query, user: Any, limit: int) -> list[search.Hit]:
    rows = search.ranked(
        search.best(OwnedNumber.objects.all(), query, OWNED_NUMBER_FIELDS, limit=limit), "-id"
    )[:limit]
    return [
        search.Hit(
            kind="owned_number",
            id=number.pk,
            label=display_number(str(number.number)) + (f" {number.label}" if number.label else ""),
            matched=search.matched_text(query, search.rank_of(number)),
            rank=search.rank_of(number),
            url=reverse("admin:telephony_ownednumber_change", args=[number.pk]),
            detail=number.get_status_display(),
        )
        for number in rows
    ]


def register() -> None:
    search.search_registry.add(
        search.SearchKind("call", "Calls", "telephony.view_call", find_calls, order=30)
    )
    search.search_registry.add(
        search.SearchKind(
            "owned_number",
            "Our phone numbers",
            "telephony.view_ownednumber",
            find_owned_numbers,
            order=40,
        )
    )
