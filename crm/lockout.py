"""The page a locked-out login gets (django-axes' ``AXES_LOCKOUT_CALLABLE``).

The login view that was locked out names its page with ``lockout_template`` (the caller
workspace does); any other login, the admin's, gets the admin's page. Either says why,
for how long, and who can lift it, instead of a bare error.
"""

from typing import Any

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

DEFAULT_TEMPLATE = "admin/locked_out.html"


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: dict | None = None
) -> HttpResponse:
    match = getattr(request, "resolver_match", None)
    view_class = getattr(getattr(match, "func", None), "view_class", None)
    template = getattr(view_class, "lockout_template", DEFAULT_TEMPLATE)
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    context = {
        "title": "Too many failed logins",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": minutes,
        "site_header": "Switchboard",
        "site_title": "Switchboard",
    }
    status = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)  # axes' default: Too Many Requests
    return render(request, template, context, status=status)
