from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Cursor pages: no COUNT(*) and no deep OFFSET, whatever the table size."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
