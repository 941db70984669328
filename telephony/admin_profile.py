"""telephony on crm's customer page: the conversation (timeline and SMS reply box) above
the form, the calls analytics below it (docs/pages.md, "Customer page").

crm must not know about calls: these panels join its page through its extension point
(telephony/apps.py); the reply box posts to :func:`reply_view`.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from crm.admin_extensions import BEFORE_FORM, Panel
from crm.models import Customer
from crm.phones import display_number
from crm.selectors import customer_phones, customer_queryset
from telephony import charts, messaging, selectors
from telephony.admin_timeline import timeline_html

SEND_PERMISSION = "telephony.send_message"


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _draft_key(customer_id: int) -> str:
    return f"sms-draft-{customer_id}"


def customer_conversation_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    if not request.user.has_perm("telephony.view_call") or customer.merged_into_id:
        return None
    page = _int(request.GET.get("timeline", "1")) or 1
    reply = None
    if request.user.has_perm(SEND_PERMISSION):
        reply = {
            "route": selectors.sms_route(customer=customer, phones=customer_phones(customer)),
            "url": reverse("admin:telephony_message_reply", args=[customer.pk]),
            # What the agent wrote when the last attempt was refused: never lost.
            "draft": request.session.pop(_draft_key(customer.pk), ""),
            "max_length": messaging.MAX_BODY,
        }
    timeline = selectors.customer_timeline(customer=customer, page=page)
    return {
        "conversation": {
            "timeline": timeline,
            "entries_html": timeline_html(timeline.entries, request.user.pk),
            "calls_url": reverse("admin:telephony_call_changelist")
            + f"?customer__id__exact={customer.pk}",
            "reply": reply,
        }
    }


def customer_history_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    if not request.user.has_perm("telephony.view_call") or customer.merged_into_id:
        return None
    return {"history": customer_history_context(customer)}


def customer_history_context(customer: Customer) -> dict[str, Any]:
    stats = selectors.customer_call_analytics(customer=customer)
    weeks = [(f"{start:%b} {start.day}", n) for start, n in stats.weeks]
    trend = [
        (f"{timezone.localtime(at):%b} {timezone.localtime(at).day}", s)
        for at, s in stats.satisfaction_trend
    ]
    return {
        "stats": stats,
        "reasons_window": f"{stats.reasons_window:,}" if stats.reasons_window else "",
        "weeks_chart": charts.bar_chart(
            f"Calls per week, last {len(weeks)} weeks: {sum(n for _, n in weeks)} calls", weeks
        )
        if any(n for _, n in weeks)
        else None,
        "trend_chart": charts.line_chart(
            f"Satisfaction of the last {len(trend)} rated calls (1 to 5)", trend
        )
        if trend
        else None,
        "reasons_chart": charts.hbar_chart(
            "Top reasons for calling"
            + (f", last {stats.reasons_window:,} calls" if stats.reasons_window else ""),
            stats.top_reasons,
        )
        if stats.top_reasons
        else None,
    }


def reply_view(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The reply box's POST: send, then back to the profile with what happened."""
    profile = reverse("admin:crm_customer_change", args=[customer_id])
    if request.method != "POST":
        return HttpResponseRedirect(profile)
    if not request.user.has_perm(SEND_PERMISSION):
        raise PermissionDenied("Only Administrators and Agents send SMS.")
    customer = get_object_or_404(customer_queryset(), pk=customer_id)
    body = request.POST.get("body", "")
    try:
        message = messaging.message_send(
            customer=customer,
            body=body,
            to=request.POST.get("to") or None,
            by=request.user,
            callback_base=request.build_absolute_uri("/"),
        )
    except (ValidationError, messaging.SendRefused) as exc:
        problem = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"Not sent: {problem}")
        request.session[_draft_key(customer.pk)] = body[: messaging.MAX_BODY * 2]
        return HttpResponseRedirect(profile + "#customer-reply")
    to = display_number(message.to_number)
    if message.status == message.Status.FAILED:
        messages.error(request, f"Not sent to {to}: {message.error_message}")
        request.session[_draft_key(customer.pk)] = body
    elif message.status == message.Status.UNKNOWN:
        messages.warning(request, f"Sent to {to} but not confirmed: {message.error_message}")
    elif message.status == message.Status.PENDING:
        messages.warning(request, f"Queued for {to}: {message.error_message}")
    else:
        messages.success(request, f"Sent to {to}.")
    return HttpResponseRedirect(profile + "#customer-timeline")


CONVERSATION_PANEL = Panel(
    key="telephony-conversation",
    template="admin/telephony/customer/_conversation.html",
    context=customer_conversation_panel,
    media_css=("telephony/history.css",),
    order=10,
    place=BEFORE_FORM,
)
HISTORY_PANEL = Panel(
    key="telephony-history",
    template="admin/telephony/customer/_history.html",
    context=customer_history_panel,
    media_css=("telephony/history.css",),
    order=10,
)
