"""Telephony's section of the admin home (registered in telephony/apps.py)."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from crm.dashboard import section
from crm.formatting import noun
from crm.phones import display_number
from telephony import selectors


def today_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    user = request.user
    if not (user.has_perm("telephony.view_call") or user.has_perm("telephony.view_message")):
        return None
    day = selectors.day_activity()
    # The same aware midnight the admin's own "Today" date filter passes.
    midnight = str(timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0))
    today = urlencode({"started_at__gte": midnight})
    calls_url = reverse("admin:telephony_call_changelist")
    missed = {"direction__exact": "inbound", "status__in": ",".join(selectors.MISSED_STATUSES)}
    missed_url = f"{calls_url}?{today}&{urlencode(missed)}"
    messages_url = (
        reverse("admin:telephony_message_changelist") + "?" + urlencode({"sent_at__gte": midnight})
    )
    return section(
        "Today",
        stats=[
            (noun(day.calls, "call", "calls"), day.calls, f"{calls_url}?{today}"),
            (noun(day.messages, "message", "messages"), day.messages, messages_url),
            (
                noun(day.missed, "missed call", "missed calls"),
                day.missed,
                missed_url,
            ),
        ],
        rows=[
            (
                f"{call.customer} · {display_number(call.from_number)}",
                reverse("admin:crm_customer_change", args=[call.customer_id]),
                f"{call.get_status_display().lower()} at "
                f"{timezone.localtime(call.started_at):%H:%M}",
            )
            for call in day.recent_missed
        ],
        empty="No missed calls today.",
    )
