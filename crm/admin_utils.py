"""Admin building blocks that keep changelists fast on tables with millions of rows."""

from typing import Any

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, ChangeList
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm import page_anchors, search
from crm.db import is_postgresql
from crm.phones import phone_link

# Below this many rows an exact count is cheap, and exactness is worth more than speed.
EXACT_COUNT_BELOW = 50_000
# Filtered lists count at most this many rows (200 pages of 50): "10,000+ customers".
COUNT_CAP = 10_000
# Past this offset a page first picks its ids, then loads only those rows.
DEFERRED_JOIN_OFFSET = 1_000


def estimated_row_count(table: str) -> int | None:
    """PostgreSQL's planner estimate (pg_class.reltuples): no table scan. A partitioned
    table has none of its own: its partitions' are summed."""
    if not is_postgresql():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(reltuples) FILTER (WHERE reltuples > 0)::bigint FROM pg_class "
            "WHERE oid = %s::regclass AND relkind = 'r' "
            "OR oid IN (SELECT relid FROM pg_partition_tree(%s::regclass) WHERE isleaf)",
            [table, table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else None


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a huge table.

    Unfiltered: the planner's estimate. Filtered: an exact count up to ``COUNT_CAP``
    (``SELECT COUNT(*) FROM (... LIMIT cap)``), so a broad filter stays cheap.
    """

    def __init__(self, *args: Any, estimate_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.estimate_table = estimate_table
        self.is_estimate = False
        self.is_capped = False

    @cached_property
    def count(self) -> int:
        if self.estimate_table:
            estimate = estimated_row_count(self.estimate_table)
            if estimate is not None and estimate >= EXACT_COUNT_BELOW:
                self.is_estimate = True
                return estimate
        if not isinstance(self.object_list, QuerySet):
            return super().count
        counted = self.object_list.order_by()[: COUNT_CAP + 1].count()  # no sort to count
        if counted > COUNT_CAP:
            self.is_capped = True
            return COUNT_CAP
        return counted

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom < DEFERRED_JOIN_OFFSET or not isinstance(self.object_list, QuerySet):
            return super().page(number)
        top = min(bottom + self.per_page, self.count)
        ids = None
        if self.is_estimate:
            # A huge unfiltered list: deep pages start from a cached anchor.
            ids = page_anchors.anchored_ids(self.object_list, bottom, top - bottom)
        if ids is None:
            # Deferred join: OFFSET over full rows fetches (and discards) every skipped row
            # from the heap; OFFSET over ids alone is an index-only scan. Then load the page.
            ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return Page(self.object_list.filter(pk__in=ids), number, self)


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


class FastChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if not self.query and not self.has_active_filters:
            # Unfiltered: the page total *is* the full total, so the search bar shouldn't
            # offer "Show all" (Django only knows that when it counts the table twice).
            self.full_result_count = self.result_count


class FastChangelistMixin(EstimatedCountAdminMixin):
    """Everything a changelist over millions of rows needs, including a cheap checkbox.

    Django renders each row's action checkbox through the form template engine (~0.5 ms a
    row, a third of a 50-row page); the same markup as a string costs microseconds.
    """

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return FastChangeList

    def action_checkbox(self, obj: Any) -> SafeString:
        return checkbox_html(obj.pk, obj)


def checkbox_html(pk: Any, label: Any) -> SafeString:
    """The markup of Django's action checkbox for one row (``label``: what it selects)."""
    return format_html(
        '<input type="checkbox" name="{}" value="{}" class="action-select" '
        'aria-label="Select this object for an action - {}">',
        ACTION_CHECKBOX_NAME,
        pk,
        label,
    )


class ReadOnlyAdminMixin:
    """Logs and audit trails: visible in the admin, never added, edited or deleted there."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RankedChangeListMixin:
    """A searched list shows the best matches first (``search_rank``, crm/search.py),
    unless the reader sorted by a column."""

    params: dict[str, Any]
    query: str

    def get_ordering(self, request: HttpRequest, queryset: QuerySet) -> list[Any]:
        ordering = super().get_ordering(request, queryset)  # type: ignore[misc]
        searched = self.query and "search_rank" in queryset.query.annotations
        if searched and ORDER_VAR not in self.params:
            return ["search_rank", *ordering]
        return list(ordering)


class SearchRuleAdminMixin:
    """The one search rule (crm/search.py) on a changelist: ``search_rule`` names the
    fields it reads. Every list's search box answers the same way."""

    search_rule: search.Fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        query = search.parse(search_term)
        if not query.text:
            return queryset, False
        order = [*(self.get_ordering(request) or ()), "-pk"]  # type: ignore[attr-defined]
        return search.best(queryset, query, self.search_rule, order=order), False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        base = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        return type(f"Ranked{base.__name__}", (RankedChangeListMixin, base), {})


class NumberSearchMixin(SearchRuleAdminMixin):
    """Search a list of numbers (``search_fields = ("number",)``): a number typed any way
    (an exact match on the indexed E.164 column) or its last 4 or more digits."""

    search_rule = search.Fields(numbers=("number",))


class SingletonAdminMixin:
    """The admin of a :class:`crm.singletons.SingletonSettings` model: its list is the one
    row's page, which can be neither added to nor deleted."""

    model: Any

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        self.model.load()  # the first visit makes the row with its defaults
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[1])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def phone_column(
    path: str, description: str, *, ordering: str | None = None, read: str | None = None
) -> Any:
    """A changelist column showing the number at ``path`` (``"from_number"``,
    ``"phone__number"``) as every page shows numbers: a ``tel:`` link (crm/phones.py).

    ``read`` names another attribute holding the same number as text (an annotation of
    the column's E.164), read instead of formatting a PhoneNumber per row."""

    def cell(obj: Any) -> SafeString | str:
        value: Any = obj
        for attr in (read or path).split("__"):
            value = getattr(value, attr, None)
            if value is None:
                return "-"
        return phone_link(str(value))

    cell.__name__ = path.replace("__", "_") + "_display"
    cell.short_description = description  # type: ignore[attr-defined]
    cell.admin_order_field = ordering or path  # type: ignore[attr-defined]
    return cell
