from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class BoundedCursorPagination(CursorPagination):
    """Cursor pages: no COUNT(*) and no deep OFFSET, whatever the table size.

    ``page_size`` outside 1..``max_page_size`` is a 400 naming it (DRF would silently
    use another size), and the schema states the bounds.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            default = super().get_page_size(request)
            assert default is not None, "REST_FRAMEWORK['PAGE_SIZE'] is set in settings"
            return default
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class NewestFirstCursorPagination(BoundedCursorPagination):
    ordering = "-id"


class RankedOrNewestFirstCursorPagination(NewestFirstCursorPagination):
    """Newest first; a searched list best match first (``search_rank``, crm/search.py)."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        if "search_rank" in getattr(queryset.query, "annotations", {}):
            return ("search_rank", "-id")
        return tuple(super().get_ordering(request, queryset, view))
