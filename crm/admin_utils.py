"""Admin building blocks that keep changelists fast on tables with millions of rows."""

from typing import Any

from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from crm.db import is_postgresql

# Below this many rows an exact count is cheap, and exactness is worth more than speed.
EXACT_COUNT_BELOW = 50_000


def estimated_row_count(table: str) -> int | None:
    """PostgreSQL's planner estimate (pg_class.reltuples): no table scan."""
    if not is_postgresql():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else None


class EstimatedCountPaginator(Paginator):
    """A paginator that trusts the planner's estimate instead of COUNT(*) on huge tables."""

    def __init__(self, *args: Any, estimate_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.estimate_table = estimate_table
        self.is_estimate = False

    @cached_property
    def count(self) -> int:
        if self.estimate_table:
            estimate = estimated_row_count(self.estimate_table)
            if estimate is not None and estimate >= EXACT_COUNT_BELOW:
                self.is_estimate = True
                return estimate
        return super().count


class EstimatedCountAdminMixin:
    """Unfiltered changelists use the estimate; filtered or searched ones count exactly.

    Also turns off the features that count the whole table behind the user's back: the
    "N total" link and filter facets.
    """

    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    model: Any

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        unfiltered = all(key in {PAGE_VAR, ORDER_VAR} for key in request.GET)
        return EstimatedCountPaginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            estimate_table=self.model._meta.db_table if unfiltered else None,
        )
