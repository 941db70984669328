"""How pages say numbers, counts and dates: one way everywhere."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString


def plural(count: int, singular: str, plural_form: str) -> str:
    """``plural(1, "phone number", "phone numbers")`` -> ``"1 phone number"``; thousands
    are grouped (``"1,946 rows"``)."""
    return f"{count:,} {noun(count, singular, plural_form)}"


def noun(count: int, singular: str, plural_form: str) -> str:
    """The noun alone, agreeing with ``count`` (for a label beside a big number)."""
    return singular if count == 1 else plural_form


def local_datetime(moment: datetime | None) -> str:
    """The one way a moment is written: ``Dec 7, 2026, 14:05 EST``, in the reader's zone
    (the active one: telephony/middleware.py) and naming it."""
    if moment is None:
        return "-"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def short_datetime(moment: datetime | None) -> str:
    """A compact local date for narrow list columns: ``Nov 28, 21:37 EST`` this year,
    ``Nov 28, 2025`` before; the full timestamp is the cell's hover title."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment)
    if local.year == timezone.localdate().year:
        return f"{local:%b} {local.day}, {local:%H:%M} {local:%Z}"
    return f"{local:%b} {local.day}, {local.year}"


def datetime_cell(moment: datetime | None) -> SafeString | str:
    """:func:`short_datetime` with the full local timestamp on hover."""
    if moment is None:
        return "-"
    full = local_datetime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), full, short_datetime(moment)
    )


def counted_kinds(counts: dict[str, int]) -> str:
    """``{"phone numbers": 1, "calls": 3}`` -> ``"1 phone number, 3 calls"`` (the kinds
    are plural names, e.g. a model's verbose_name_plural); ``"nothing"`` when empty."""
    parts = [
        plural(n, kind[:-1] if kind.endswith("s") else kind, kind)
        for kind, n in counts.items()
        if isinstance(n, int)
    ]
    return ", ".join(parts) or "nothing"
