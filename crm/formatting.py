"""How pages say numbers, counts and dates: one way everywhere."""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString


def plural(count: int, singular: str, plural_form: str) -> str:
    """``plural(1, "phone number", "phone numbers")`` -> ``"1 phone number"``; thousands
    are grouped (``"1,946 rows"``)."""
    return f"{count:,} {noun(count, singular, plural_form)}"


def noun(count: int, singular: str, plural_form: str) -> str:
    """The noun alone, agreeing with ``count`` (for a label beside a big number)."""
    return singular if count == 1 else plural_form


def short_datetime(moment: datetime | None) -> str:
    """A compact local date for narrow list columns: ``Nov 28, 21:37`` this year,
    ``Nov 28, 2025`` before; the full timestamp is the cell's hover title."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment)
    if local.year == timezone.localdate().year:
        return f"{local:%b} {local.day}, {local:%H:%M}"
    return f"{local:%b} {local.day}, {local.year}"


def datetime_cell(moment: datetime | None) -> SafeString | str:
    """:func:`short_datetime` with the full local timestamp on hover."""
    if moment is None:
        return "-"
    full = f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"
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
