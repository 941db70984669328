"""The 403 view (``handler403``): the page a refused request gets. Inside the admin or the
caller workspace it is a page of that site, saying what was refused, who may do it and the
way back; the API and the webhooks keep answering machines (JSON / plain text)."""

from fnmatch import fnmatch
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from crm import roles

# What each admin URL does, as the sentence "Only Administrators <verb> <things>" says it.
_ADMIN_VIEWS = {
    "changelist": ("view", "see"),
    "change": ("change", "change"),
    "add": ("add", "add"),
    "delete": ("delete", "delete"),
    "history": ("view", "see the history of"),
}


def roles_with(permission: str) -> list[str]:
    """The roles whose patterns grant ``app_label.codename`` (crm/roles.py)."""
    return [
        role
        for role, patterns in roles.ROLE_PERMISSIONS.items()
        if any(fnmatch(permission, pattern) for pattern in patterns)
    ]


def who_may(permission: str, verb: str, things: str) -> str:
    names = [f"{role}s" for role in roles_with(permission)]
    if not names:
        return f"Nobody may {verb} {things} here."
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Only {who} {verb} {things}."


def _admin_refusal(request: HttpRequest) -> str | None:
    """For a bare PermissionDenied in the admin: what the URL asked for, and who may."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    name = match.url_name or ""
    for suffix, (action, verb) in _ADMIN_VIEWS.items():
        if not name.endswith("_" + suffix):
            continue
        app_label, _, model_name = name[: -len(suffix) - 1].partition("_")
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            return None
        things = str(model._meta.verbose_name_plural)
        return who_may(f"{app_label}.{action}_{model._meta.model_name}", verb, things)
    return None


def _back_url(request: HttpRequest, default: str) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return default


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    message = str(exception) if exception and str(exception) else ""
    path = request.path_info
    if path.startswith(("/api/", "/webhooks/")) or "json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {"detail": message or "You do not have permission to perform this action."},
            status=403,
        )
    context: dict[str, Any] = {"reason": message}
    admin_prefix = reverse("admin:index")
    if path.startswith(admin_prefix):
        context.update(admin.site.each_context(request))
        context.update(
            title="Not allowed",
            reason=message or _admin_refusal(request) or "Your role does not include this page.",
            back_url=_back_url(request, admin_prefix),
        )
        template = "admin/403.html"
    elif path.startswith("/campaigns/"):
        context["back_url"] = _back_url(request, reverse("campaigns:list"))
        template = "campaigns/403.html"
    else:
        context["back_url"] = _back_url(request, "/")
        template = "403.html"
    context.setdefault("reason", "")
    context["role"] = _role_of(request.user)
    return render(request, template, context, status=403)


def _role_of(user: Any) -> str:
    if not getattr(user, "is_authenticated", False):
        return ""
    if user.is_superuser:
        return roles.ADMINISTRATOR
    names = set(user.groups.values_list("name", flat=True))
    return next((role for role in roles.ROLE_PERMISSIONS if role in names), "")
