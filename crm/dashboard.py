"""The admin home's sections. Each app registers its own from ``AppConfig.ready()``:

    from crm.admin_extensions import Panel, dashboard_extensions
    dashboard_extensions.add_panel(Panel(key="...", template=PANEL_TEMPLATE,
                                         context=my_panel, order=40))

``context(request, None)`` returns the section (see :func:`section`), or None to hide it
from this user. ``PANEL_TEMPLATE`` renders a title, big numbers and a short list; a
section with other needs names its own template.
"""

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from crm import selectors
from crm.formatting import noun
from crm.phones import display_number

PANEL_TEMPLATE = "admin/dashboard/_panel.html"


def section(
    title: str,
    *,
    url: str = "",
    stats: Sequence[tuple[str, int | str, str]] = (),
    rows: Sequence[tuple[str, str, str]] = (),
    empty: str = "",
) -> dict[str, Any]:
    """A section for ``PANEL_TEMPLATE``: stats are (label, value, url), rows (text, url,
    detail); ``empty`` is shown when there are no rows."""
    return {
        "title": title,
        "url": url,
        "stats": [
            {"label": s[0], "value": f"{s[1]:,}" if isinstance(s[1], int) else s[1], "url": s[2]}
            for s in stats
        ],
        "rows": [{"text": r[0], "url": r[1], "detail": r[2]} for r in rows],
        "empty": empty,
    }


def match_suggestions_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    if not request.user.has_perm("crm.view_matchsuggestion"):
        return None
    count, newest = selectors.match_suggestions_open_summary()
    changelist = reverse("admin:crm_matchsuggestion_changelist") + "?status__exact=open"
    return section(
        "Possible matches to review",
        url=changelist,
        stats=[(noun(count, "open suggestion", "open suggestions"), count, changelist)],
        rows=[
            (
                f"{s.customer} / {s.other}",
                reverse("admin:crm_matchsuggestion_merge", args=[s.pk]),
                f"{s.get_reason_display().lower()}: {_detail(s)}",
            )
            for s in newest
        ],
        empty="Nothing to review.",
    )


def _detail(suggestion: Any) -> str:
    if suggestion.reason == suggestion.Reason.SHARED_NUMBER:
        return display_number(suggestion.detail)
    return str(suggestion.detail)
