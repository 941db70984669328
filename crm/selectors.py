"""Reads of customers and their numbers for the admin, the API and other apps."""

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import CharField, F, Model, Prefetch, Q, QuerySet
from django.db.models.functions import Cast

from crm.models import Customer, MatchSuggestion, PhoneNumber
from crm.phones import try_normalize

_M = TypeVar("_M", bound=Model)


def customer_queryset() -> QuerySet[Customer]:
    """Live profiles: merged-away profiles are hidden everywhere agents look."""
    return Customer.objects.filter(merged_into__isnull=True)


def customer_with_numbers(queryset: QuerySet[Customer] | None = None) -> QuerySet[Customer]:
    queryset = customer_queryset() if queryset is None else queryset
    return queryset.prefetch_related(
        Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("id"))
    )


def number_search(
    queryset: QuerySet[_M], term: str, *, fields: Iterable[str] = ("number",)
) -> QuerySet[_M] | None:
    """The rows whose ``fields`` hold ``term`` read as a phone number typed any way.

    ``None`` when ``term`` is no phone number, so the caller decides what else the text
    may mean (a name, an email, a CallSid). Every list that can be searched by a number
    comes through here: the term is normalised once by ``crm/phones.py`` and each field
    is an exact match on the indexed E.164 column, never a text scan.
    """
    e164 = try_normalize(term)
    if e164 is None:
        return None
    condition = Q()
    for field in fields:
        condition |= Q(**{field: e164})
    return queryset.filter(condition)


def customer_filter_by_phone(queryset: QuerySet[Customer], e164: str) -> QuerySet[Customer]:
    # An indexed equality on the normalised number: a subquery keeps it one index probe
    # and cannot duplicate rows.
    holders = PhoneNumber.objects.filter(number=e164).values("customer_id")
    return queryset.filter(id__in=holders)


def customer_search(queryset: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """Search as agents type: a number in any format, else a name or email prefix."""
    term = term.strip()
    if not term:
        return queryset
    holders = number_search(PhoneNumber.objects.all(), term)
    if holders is not None:
        return queryset.filter(id__in=holders.values("customer_id"))
    if "@" in term:
        return queryset.filter(email__istartswith=term)
    return queryset.filter(name__istartswith=term) | queryset.filter(email__istartswith=term)


def numbers_by_customer(customer_ids: Iterable[int]) -> dict[int, list[tuple[str, str, bool]]]:
    """``{customer_id: [(e164, type, sms), ...]}`` for one page of customers, one query.

    The number is read as plain text: a list only shows it, and phonenumber_field would
    otherwise re-parse every stored number (the costliest part of rendering a page).
    """
    result: dict[int, list[tuple[str, str, bool]]] = {}
    rows = (
        PhoneNumber.objects.filter(customer_id__in=list(customer_ids))
        .order_by("customer_id", "id")
        .values_list("customer_id", Cast(F("number"), CharField()), "type", "sms")
    )
    for customer_id, number, type_, sms in rows:
        result.setdefault(customer_id, []).append((number, type_, sms))
    return result


def match_suggestions_open(customer: Customer | None = None) -> QuerySet[MatchSuggestion]:
    queryset = MatchSuggestion.objects.filter(status=MatchSuggestion.Status.OPEN)
    if customer is not None:
        queryset = queryset.filter(Q(customer=customer) | Q(other=customer))
    return queryset.select_related("customer", "other")
