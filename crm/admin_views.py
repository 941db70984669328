"""Admin pages every staff user has: the search results behind the header search box,
and their own API tokens (``docs/search.md``)."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from crm import search, tokens
from crm.models import ApiToken


def search_view(site: Any, request: HttpRequest) -> HttpResponse:
    term = request.GET.get("q", "")
    query, grouped = search.search_everything(term=term, user=request.user, limit=10)
    kinds = search.search_registry.for_user(request.user)
    groups = [
        {"kind": kind.kind, "title": kind.title, "hits": grouped.get(kind.kind, [])}
        for kind in kinds
    ]
    context = {
        **site.each_context(request),
        "title": f"Search: {query.text}" if query.text else "Search",
        "search_term": query.text,
        "groups": groups if query.text else [],
        "found": sum(len(g["hits"]) for g in groups),
        "unsearchable": bool(query.text) and query.empty,
    }
    return TemplateResponse(request, "admin/search_results.html", context)


def tokens_view(site: Any, request: HttpRequest) -> HttpResponse:
    """A staff user's own tokens: make one (its key shown once), revoke one."""
    user = cast(User, request.user)  # the admin lets only signed-in staff here
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(ApiToken, pk=_int(request.POST.get("revoke")), user=user)
            tokens.api_token_revoke(token=token)
            messages.success(request, f"Revoked “{token.name}”: it no longer opens the API.")
            return HttpResponseRedirect(reverse("admin:api_tokens"))
        try:
            token, new_key = tokens.api_token_create(user=user, name=request.POST.get("name", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse("admin:api_tokens"))
    context = {
        **site.each_context(request),
        "title": "Your API tokens",
        "tokens": ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at"),
        "new_key": new_key,
        "max_tokens": tokens.MAX_TOKENS_PER_USER,
        "api_docs": reverse("api-docs"),
    }
    response = TemplateResponse(request, "admin/api_tokens.html", context)
    response["Cache-Control"] = "no-store"  # the page holding a new key is never cached
    return response


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0


def note_add_view(site: Any, request: HttpRequest, customer_id: int) -> HttpResponse:
    """The profile's note form posts here; back to the profile's timeline after."""
    from django.core.exceptions import PermissionDenied

    from crm import selectors, services

    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:crm_customer_change", args=[customer_id]))
    if not request.user.has_perm("crm.add_note"):
        raise PermissionDenied
    customer = get_object_or_404(selectors.customer_queryset(), pk=customer_id)
    try:
        services.note_create(
            customer=customer, author=request.user, text=request.POST.get("text", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Note added.")
    return HttpResponseRedirect(
        reverse("admin:crm_customer_change", args=[customer.pk]) + "#customer-timeline"
    )


def notes_panel(request: HttpRequest, customer: Any) -> dict[str, Any] | None:
    """The note form on a profile (its notes show on the timeline)."""
    if not request.user.has_perm("crm.add_note") or customer.merged_into_id:
        return None
    return {
        "form_id": "sb-note-form",
        "action": reverse("admin:crm_note_add_for", args=[customer.pk]),
    }
