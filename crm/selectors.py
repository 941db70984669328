"""Reads of customers and their numbers for the admin, the API and other apps."""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import CharField, F, Model, Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.models.functions import Cast

from crm import search
from crm.db import number_locks
from crm.models import Customer, MatchSuggestion, Note, PhoneNumber, PhoneNumberChange
from crm.phones import InvalidPhoneNumber, try_normalize

_M = TypeVar("_M", bound=Model)


def customer_queryset() -> QuerySet[Customer]:
    """Live profiles: merged-away profiles are hidden everywhere agents look."""
    return Customer.objects.filter(merged_into__isnull=True)


def customer_with_numbers(queryset: QuerySet[Customer] | None = None) -> QuerySet[Customer]:
    queryset = customer_queryset() if queryset is None else queryset
    return queryset.prefetch_related(
        Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("id"))
    )


def customer_phones(customer: Customer) -> list[PhoneNumber]:
    """The customer's numbers (in id order), read once per customer instance: the panels
    of a profile page (card, reply box, numbers form) share one query."""
    if "phone_numbers" not in getattr(customer, "_prefetched_objects_cache", {}):
        prefetch_related_objects([customer], "phone_numbers")
    return list(customer.phone_numbers.all())


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


CUSTOMER_FIELDS = search.Fields(
    names=("name",),
    emails=("email",),
    holders=(PhoneNumber.objects.all(), "number", "customer_id"),
)


def customer_search(queryset: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """The search rule (crm/search.py) on customers, best matches first."""
    query = search.parse(term)
    if query.empty:
        return queryset if not query.text else queryset.none()
    return search.ranked(search.best(queryset, query, CUSTOMER_FIELDS), "-id")


def customer_filter_by_phone_term(queryset: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """``?phone=``: a number typed any way, or its last 4 or more digits; raises
    :class:`~crm.phones.InvalidPhoneNumber` for anything else."""
    query = search.parse(term)
    if query.e164:
        return customer_filter_by_phone(queryset, query.e164)
    if query.suffix:
        holders = PhoneNumber.objects.filter(search.suffix_q("number", query.suffix))
        return queryset.filter(id__in=holders.values("customer_id"))
    raise InvalidPhoneNumber(
        str(term)[:64], "give a number in any format or its last 4 or more digits"
    )


def numbers_by_customer(
    customer_ids: Iterable[int], *, opted_out: set[str] | None = None
) -> dict[int, list[tuple[str, str, bool]]]:
    """``{customer_id: [(e164, type, sms), ...]}`` for one page of customers, one query.

    The number is read as plain text: a list only shows it, and phonenumber_field would
    otherwise re-parse every stored number (the costliest part of rendering a page).
    ``opted_out``, when given, receives the numbers that texted STOP (the same query).
    """
    result: dict[int, list[tuple[str, str, bool]]] = {}
    rows = (
        PhoneNumber.objects.filter(customer_id__in=list(customer_ids))
        .order_by("customer_id", "id")
        .values_list("customer_id", Cast(F("number"), CharField()), "type", "sms", "sms_opted_out")
    )
    for customer_id, number, type_, sms, out in rows:
        result.setdefault(customer_id, []).append((number, type_, sms))
        if out and opted_out is not None:
            opted_out.add(number)
    return result


def match_suggestions_open(customer: Customer | None = None) -> QuerySet[MatchSuggestion]:
    queryset = MatchSuggestion.objects.filter(status=MatchSuggestion.Status.OPEN)
    if customer is not None:
        queryset = queryset.filter(Q(customer=customer) | Q(other=customer))
    return queryset.select_related("customer", "other")


class ProfilesChanged(Exception):
    """The profiles to lock changed between reading and locking them: start over."""


def profiles_lock(customer_ids: Iterable[int], numbers: Iterable[str]) -> dict[int, Customer]:
    """Lock profiles the way every merge and erasure does, in one order: first the linking
    lock of each number (``crm.db.number_locks``, the lock a webhook takes before reading a
    number's holders), then the profiles' rows in id order. A webhook linking one of these
    numbers finishes first or waits, and two merges or erasures of one person serialise
    without deadlocking. Returns the rows as they are now, re-read under the lock."""
    number_locks(numbers)
    return {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=sorted(set(customer_ids)))
        .order_by("pk")
    }


def _person(customer_id: int) -> tuple[Customer, list[Customer], list[str]]:
    customer = Customer.objects.get(pk=customer_id)  # merged_into as stored now
    while customer.merged_into_id is not None:
        customer = Customer.objects.get(pk=customer.merged_into_id)
    profiles, frontier = [customer], [customer.pk]
    while frontier:
        merged = list(Customer.objects.filter(merged_into_id__in=frontier).order_by("id"))
        profiles += merged
        frontier = [p.pk for p in merged]
    return customer, profiles, numbers_held([p.pk for p in profiles], history=True)


def numbers_held(customer_ids: list[int], *, history: bool = False) -> list[str]:
    """The numbers these profiles hold, and with ``history`` every number they held (old
    calls and leads may carry a number since removed)."""
    numbers = {
        str(n)
        for n in PhoneNumber.objects.filter(customer_id__in=customer_ids).values_list(
            "number", flat=True
        )
    }
    if history:
        numbers |= set(
            PhoneNumberChange.objects.filter(customer_id__in=customer_ids)
            .exclude(number="")
            .values_list("number", flat=True)
        )
    return sorted(numbers)


def customer_erasure_subject(
    customer: Customer, *, lock: bool = False
) -> tuple[Customer, list[Customer], list[str]]:
    """Whom an erasure or export is about: the live profile, every profile merged into it
    (the same person), and every number they hold or held.

    ``lock`` (inside a transaction) locks them as :func:`profiles_lock` says and reads them
    again under the lock: a merge that committed meanwhile (this profile merged into
    another, or another into it) makes the person bigger, so :class:`ProfilesChanged` is
    raised and the caller starts its transaction over, its locks released.
    """
    found = _person(customer.pk)
    if not lock:
        return found
    profiles_lock([p.pk for p in found[1]], found[2])
    locked = _person(customer.pk)
    if (locked[0].pk, [p.pk for p in locked[1]]) != (found[0].pk, [p.pk for p in found[1]]) or (
        not set(locked[2]) <= set(found[2])
    ):
        raise ProfilesChanged
    return locked


def customer_erasure_plan(customer: Customer) -> tuple[Customer, list[str], list[Any]]:
    """What erasing ``customer`` would do, by app, for the confirmation page."""
    from crm.erasure import ErasurePart, erasure_registry

    customer, profiles, numbers = customer_erasure_subject(customer)
    ids = [p.pk for p in profiles]
    parts = [
        ErasurePart(
            contributor="crm",
            kind="profile names and emails",
            count=Customer.objects.filter(id__in=ids).exclude(name="", email="").count(),
            keeps="The profile itself stays, empty, with its call counts (analytics).",
        ),
        ErasurePart(
            contributor="crm",
            kind="phone numbers",
            count=PhoneNumber.objects.filter(customer_id__in=ids).count(),
            keeps="The number history of the profile goes with them.",
        ),
    ]
    for contributor in erasure_registry:
        parts += contributor.describe(customer, numbers)
    return customer, numbers, parts


def customer_export(customer: Customer) -> dict[str, Any]:
    """Everything held about one person (the right of access), each app its own part."""
    from crm.erasure import erasure_registry

    customer, profiles, numbers = customer_erasure_subject(customer)
    ids = [p.pk for p in profiles]

    def profile(p: Customer) -> dict[str, Any]:
        return {
            "id": p.pk,
            "name": p.name,
            "email": p.email,
            "source": p.source,
            "merged_into": p.merged_into_id,
            "interaction_count": p.interaction_count,
            "first_interaction_at": p.first_interaction_at,
            "last_interaction_at": p.last_interaction_at,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
        }

    data: dict[str, Any] = {
        "customer": profile(customer),
        "merged_profiles": [profile(p) for p in profiles[1:]],
        "phone_numbers": list(
            PhoneNumber.objects.filter(customer_id__in=ids)
            .order_by("id")
            .values("number", "type", "sms", "type_source", "customer_id", "created_at")
        ),
        "phone_number_changes": list(
            PhoneNumberChange.objects.filter(customer_id__in=ids)
            .order_by("created_at", "id")
            .values("number", "action", "old_type", "new_type", "cause", "created_at")
        ),
        "erasures": list(
            customer.erasures.order_by("created_at").values("created_at", "reference", "erased")
        ),
    }
    for contributor in erasure_registry:
        data[contributor.key] = contributor.export(customer, numbers)
    return data


def match_suggestions_open_summary(*, recent: int = 5) -> tuple[int, list[MatchSuggestion]]:
    """How many suggestions wait for an agent (status-indexed), and the newest few."""
    queryset = match_suggestions_open()
    return queryset.count(), list(queryset.order_by("-created_at", "-id")[:recent])


def customers_holding(numbers: Iterable[str]) -> dict[str, Customer]:
    """``{e164: customer}`` for the numbers a live profile holds: the profile holding it
    as Mobile, else the most recently active one (the linking rule). One indexed query."""
    wanted = sorted({n for n in numbers if n})
    if not wanted:
        return {}
    rows = (
        PhoneNumber.objects.filter(number__e164_in=wanted, customer__merged_into__isnull=True)
        # The stored text, not a PhoneNumber parsed from it per row.
        .annotate(e164=Cast("number", CharField()))
        .defer("number")
        .select_related("customer")
        .order_by("number", F("customer__last_interaction_at").desc(nulls_last=True), "id")
    )
    result: dict[str, Customer] = {}
    for phone in rows:
        if phone.e164 not in result or phone.type == PhoneNumber.Type.MOBILE:
            result[phone.e164] = phone.customer
    return result


def customer_any(customer_id: object) -> Customer | None:
    """The profile with this id, live or merged away; None for no such id."""
    try:
        return Customer.objects.filter(pk=int(str(customer_id))).first()
    except ValueError:
        return None


def customer_merge_successor(customer_id: object) -> tuple[Customer, Customer] | None:
    """For a merged-away profile: ``(merged, kept)``, following merges of merges to the
    live profile; None when the id is no merged profile."""
    try:
        merged = Customer.objects.filter(
            pk=int(str(customer_id)), merged_into__isnull=False
        ).first()
    except ValueError:
        return None
    if merged is None:
        return None
    kept, seen = merged, {merged.pk}
    while kept.merged_into_id is not None and kept.merged_into_id not in seen:
        seen.add(kept.merged_into_id)
        kept = Customer.objects.get(pk=kept.merged_into_id)
    return (merged, kept) if kept.merged_into_id is None else None


def mobile_holder(e164: str, *, exclude_pk: int | None = None) -> PhoneNumber | None:
    """The row holding ``e164`` as Mobile (at most one: a database constraint)."""
    rows = PhoneNumber.objects.filter(number=e164, type=PhoneNumber.Type.MOBILE)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.select_related("customer").first()


def customer_notes(customer: Customer) -> QuerySet[Note]:
    """A customer's notes, newest first (those on their calls too)."""
    return (
        Note.objects.filter(customer=customer)
        .select_related("author")
        .order_by("-created_at", "-id")
    )


def customer_hits(query: "search.Query", user: Any, limit: int) -> list["search.Hit"]:
    """The ``customer`` kind of the header search box and ``/api/search/``."""
    from django.urls import reverse

    found = search.best(customer_queryset(), query, CUSTOMER_FIELDS, limit=limit)
    rows = search.ranked(found, "-id")
    return [
        search.Hit(
            kind="customer",
            id=customer.pk,
            label=str(customer),
            matched=search.matched_text(query, search.rank_of(customer)),
            rank=search.rank_of(customer),
            url=reverse("admin:crm_customer_change", args=[customer.pk]),
            detail=customer.email if customer.name else "",
        )
        for customer in rows[:limit]
    ]
