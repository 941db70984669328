"""``{% load softphone %}``: the browser softphone's pieces on the calling pages
(telephony/softphone.py). Nothing renders where the softphone is not configured."""

from typing import Any

from django import template

from telephony import outbound, softphone
from telephony.models import Call

register = template.Library()


@register.simple_tag
def softphone_available() -> bool:
    """``{% softphone_available as browser_calls %}``: whether to offer "Call in browser"."""
    return softphone.softphone_available()


@register.inclusion_tag("telephony/_softphone.html", takes_context=True)
def softphone_panel(context: Any, call: Call | None) -> dict[str, Any]:
    """The in-browser call panel for a call waiting for the browser to connect it."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if (
        call is None
        or user is None
        or not user.is_authenticated
        or not call.external_id.startswith(outbound.PENDING_PREFIX)
        or not softphone.softphone_available()
    ):
        return {"ready": False}
    return {
        "ready": True,
        "call": call,
        "ticket": softphone.call_ticket(call=call, user_id=int(user.pk)),
        "csrf_token": context.get("csrf_token"),
    }
