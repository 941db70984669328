"""The calling statistics page in the admin, for Administrators and Agents (callers see
their own figures in the workspace): docs/dialing.md, "Statistics"."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from campaigns import stats
from campaigns.models import Campaign
from crm import roles

PERIODS = {"1": "Today", "7": "Last 7 days", "30": "Last 30 days"}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


def stats_view(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    user = request.user
    staff_roles = {roles.ADMINISTRATOR, roles.AGENT}
    if not (user.is_superuser or user.groups.filter(name__in=staff_roles).exists()):
        raise PermissionDenied
    days = request.GET.get("days", "7")
    days = days if days in PERIODS else "7"
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight - timedelta(days=int(days) - 1)
    campaign_id = _int(request.GET.get("campaign"))
    caller_id = _int(request.GET.get("caller"))
    scope: dict[str, Any] = {
        "since": since,
        "until": now,
        "campaign_id": campaign_id,
        "caller_id": caller_id,
    }
    campaigns = list(Campaign.objects.order_by("name"))
    shown = [c for c in campaigns if campaign_id in (None, c.pk)]
    context = {
        **admin_context,
        "title": "Calling statistics",
        "periods": PERIODS,
        "days": days,
        "campaigns": campaigns,
        "campaign_id": campaign_id,
        "caller_id": caller_id,
        "rows": stats.caller_rows(**scope),
        "by_hour": stats.outcomes_by(period="hour", **scope) if days == "1" else [],
        "by_day": stats.outcomes_by(period="day", **scope),
        "progress": stats.campaign_progress(campaigns=shown),
    }
    return TemplateResponse(request, "admin/campaigns/stats.html", context)


def stats_panel(request: HttpRequest, obj: Any) -> dict[str, Any] | None:
    """The admin home's link to the statistics, with today's totals."""
    user = request.user
    if not (
        user.is_superuser
        or user.groups.filter(name__in={roles.ADMINISTRATOR, roles.AGENT}).exists()
    ):
        return None
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = stats.caller_rows(since=midnight, until=now)
    return {
        "title": "Calling statistics",
        "dials": sum(r.dials for r in rows),
        "connects": sum(r.connects for r in rows),
        "conversations": sum(r.conversations for r in rows),
    }
