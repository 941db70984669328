"""The number view: one page about one phone number, linked wherever the admin shows one.

Every profile holding it and how, its carrier lookups, its calls and messages, and what
upper apps add through :data:`number_view_extensions` (campaigns: the leads carrying it).
An admin page of its own (``/admin/telephony/number/<E.164>/``), registered with
:data:`crm.admin_extensions.admin_pages` from ``TelephonyConfig.ready()``; the ledger's
admin and crm's number links point to it through :func:`number_view_url`.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from crm.admin_extensions import AdminExtensions
from crm.admin_utils import EstimatedCountAdminMixin, NumberSearchMixin, ReadOnlyAdminMixin
from crm.phones import national_format, try_normalize
from telephony.identification import selectors
from telephony.models import LineTypeLookup

# Panels upper apps add to the number view; a panel's context gets (request, e164).
number_view_extensions = AdminExtensions("telephony.number_view")


@admin.register(LineTypeLookup)
class LineTypeLookupAdmin(
    ReadOnlyAdminMixin, NumberSearchMixin, EstimatedCountAdminMixin, admin.ModelAdmin
):
    """The ledger: every carrier lookup and what it cost (Administrators)."""

    list_display = (
        "looked_up_at",
        "number_view",
        "line_type",
        "carrier",
        "valid",
        "error",
        "cost",
        "at_risk",
        "provider",
        "purpose",
        "backfill",
    )
    list_filter = ("line_type", "purpose", "at_risk", "provider", "looked_up_at")
    search_fields = ("number",)
    search_help_text = "A phone number typed any way."
    list_per_page = 50

    @admin.display(description="Number", ordering="number")
    def number_view(self, obj: LineTypeLookup) -> str:
        return format_html('<a href="{}">{}</a>', number_view_url(obj.number), obj.number)


def number_view_url(e164: str) -> str:
    return reverse("admin:telephony_number", args=[e164])


def number_page(request: HttpRequest, number: str) -> HttpResponse:
    """The number view (the admin site's login check wraps it: crm/admin_site.py)."""
    if not request.user.has_perm("crm.view_phonenumber"):
        raise PermissionDenied
    e164 = try_normalize(number)
    if e164 is None:
        raise Http404(f"{number!r} is not a phone number.")
    view = selectors.number_view(e164)
    user = request.user
    context = {
        **admin.site.each_context(request),
        "title": f"Number {national_format(e164)}",
        "e164": e164,
        "display": national_format(e164),
        "view": view,
        "show_lookups": user.has_perm("telephony.view_linetypelookup")
        or user.has_perm("crm.view_phonenumber"),
        "show_cost": user.has_perm("telephony.view_linetypelookup"),
        "show_calls": user.has_perm("telephony.view_call"),
        "show_messages": user.has_perm("telephony.view_message"),
        "calls_url": reverse("admin:telephony_call_changelist") + f"?q={e164}",
        "extension_panels": number_view_extensions.panel_contexts(request, e164),  # type: ignore[arg-type]
        "extension_css": number_view_extensions.css(),
    }
    return TemplateResponse(request, "admin/telephony/number.html", context)
