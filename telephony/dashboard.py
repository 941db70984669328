"""Telephony's section of the admin home (registered in telephony/apps.py)."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from crm.dashboard import section
from crm.formatting import local_datetime, noun
from crm.phones import display_number
from telephony import selectors
from telephony.identification import selectors as identification_selectors
from telephony.models import BackfillRun, Call


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
        rows=[_missed_row(call) for call in day.recent_missed],
        empty="No missed calls today.",
    )


def _missed_row(call: Call) -> tuple[str, str, str]:
    when = f"{call.get_status_display().lower()} at {timezone.localtime(call.started_at):%H:%M %Z}"
    if call.customer_id is None:  # a withheld caller: nobody to open, the call itself
        url = reverse("admin:telephony_call_change", args=[call.pk])
        return f"Withheld caller · {display_number(call.from_number)}", url, when
    url = reverse("admin:crm_customer_change", args=[call.customer_id])
    return f"{call.customer} · {display_number(call.from_number)}", url, when


def backfill_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    """The identification backfill while it is open: running, or paused by the monthly cap
    or halted by the provider (both wait for an Administrator: docs/identification.md)."""
    if not request.user.has_perm("telephony.view_backfillrun"):
        return None
    # The Orchestration page's own figures; its module registers admin pages on import, so
    # it is loaded when the home page is built, not when the app starts.
    from telephony.admin_orchestration import progress_of

    run = identification_selectors.backfill_current()
    if run is None or run.status not in BackfillRun.OPEN_STATUSES:
        return None
    progress = progress_of(run)
    page = reverse("admin:telephony_orchestrationsettings_changelist")
    ledger = reverse("admin:telephony_linetypelookup_changelist") + "?purpose__exact=backfill"
    detail = f"{progress['percent']}% done"
    if progress["running"]:
        detail += f", about {progress['time_left']} left"
    return section(
        "Mobile number identification",
        url=page,
        stats=[
            ("numbers done", f"{progress['done']:,}/{progress['total']:,}", page),
            ("turned Mobile", run.turned_mobile, page),
            ("spent", f"${progress['spent']}", ledger),
        ],
        rows=[
            (f"Backfill #{run.pk}: {progress['status_label']}", page, detail),
            *([(run.message, page, "")] if run.message else []),
        ],
    )


def inbox_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    """Texts awaiting a reply: all of them, and those given to the reader."""
    if not request.user.has_perm("telephony.view_conversation"):
        return None
    url = reverse("admin:telephony_conversation_changelist")
    waiting = selectors.inbox()
    latest = list(waiting[:5])
    return section(
        "SMS inbox",
        url=url,
        stats=[
            ("awaiting a reply", waiting.count(), url),
            (
                "assigned to you",
                waiting.filter(assigned_to_id=request.user.pk).count(),
                f"{url}?assigned=me",
            ),
            (
                "unassigned",
                waiting.filter(assigned_to__isnull=True).count(),
                f"{url}?assigned=none",
            ),
        ],
        rows=[
            (
                str(c.customer),
                reverse("admin:crm_customer_change", args=[c.customer_id]) + "#customer-reply",
                f"since {local_datetime(c.last_message_at)}",
            )
            for c in latest
        ],
        empty="No texts await a reply.",
    )
