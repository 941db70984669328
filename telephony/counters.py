"""The interaction counters of profiles rebuilt from their history (deletes, retention).

Below :mod:`telephony.services` so that the modules a task runs (retention) can use it
without importing the module that queues the tasks.
"""

from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest, Least

from crm.models import Customer
from telephony.models import Call, Message


@transaction.atomic
def customer_counters_recompute(*, customer_ids: set[int]) -> None:
    """Rebuild the interaction counters of these customers from the history that is left.

    Used after records are deleted; the linking path moves counters incrementally. The
    rows are locked first (in id order, so two recomputes cannot deadlock), which waits
    for any link counting on them to commit its call; the UPDATE after then reads the
    history with that call in it. Counting in the UPDATE alone would read the history as
    of its start and then overwrite the link's increment.
    """
    list(
        Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=customer_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    calls = Call.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    messages = Message.objects.filter(customer=OuterRef("pk")).order_by().values("customer")

    def agg(queryset: Any, expression: Any) -> Subquery:
        return Subquery(queryset.annotate(v=expression).values("v")[:1])

    Customer.objects.filter(pk__in=customer_ids).update(
        interaction_count=Coalesce(agg(calls, Count("id")), 0)
        + Coalesce(agg(messages, Count("id")), 0),
        first_interaction_at=_either(
            Least, agg(calls, Min("started_at")), agg(messages, Min("sent_at"))
        ),
        last_interaction_at=_either(
            Greatest, agg(calls, Max("started_at")), agg(messages, Max("sent_at"))
        ),
    )


def _either(function: Any, a: Any, b: Any) -> Any:
    # PostgreSQL's LEAST/GREATEST skip NULLs, SQLite's return NULL: the fallbacks make
    # both say "the other one" when a customer has only calls or only messages.
    return Coalesce(function(a, b), a, b)
