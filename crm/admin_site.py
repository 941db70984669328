from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, URLResolver, path, reverse
from django.utils.html import format_html

from crm import roles
from crm.admin_extensions import admin_pages, dashboard_extensions
from crm.singletons import SingletonSettings

# The home page lists the apps in the order of the work: who the customers are, how they
# reach us, whom we call, the numbers we call from, then how it is all set up.
APP_ORDER = ("crm", "telephony", "campaigns", "reputation")
# Who may log in, and the lockouts after repeated failed logins (django-axes).
SETTINGS_APPS = frozenset({"auth", "authtoken", "axes"})
# Celery beat's schedule tables: plumbing that only Administrators should touch.
SYSTEM_APPS = frozenset({"django_celery_beat"})


def is_administrator(user: Any) -> bool:
    return bool(
        user.is_active
        and (user.is_superuser or user.groups.filter(name=roles.ADMINISTRATOR).exists())
    )


class SwitchboardLoginForm(AdminAuthenticationForm):
    """A Caller who signs in here is told where they work, rather than that their
    (correct) password is wrong: the admin is for Administrators and Agents."""

    def confirm_login_allowed(self, user: Any) -> None:
        if user.is_active and not user.is_staff:
            try:
                workspace = reverse("campaigns:list")
            except NoReverseMatch:  # pragma: no cover - the workspace is always installed
                workspace = "/campaigns/"
            if user.has_perm("campaigns.work_campaign"):
                raise forms.ValidationError(
                    format_html(
                        "This account works in the caller workspace: sign in at "
                        '<a href="{}">{}</a>.',
                        workspace,
                        workspace,
                    ),
                    code="caller_account",
                )
        super().confirm_login_allowed(user)


class SwitchboardAdminSite(admin.AdminSite):
    site_header = "Switchboard"
    site_title = "Switchboard"
    index_title = "Today"
    # The admin is the product for staff; there is no separate public site to link to.
    site_url = None
    # The sidebar repeated the home page's app list and took a fifth of a 1366 px laptop
    # screen from every changelist; the breadcrumbs and the home page navigate instead.
    enable_nav_sidebar = False
    index_template = "admin/switchboard_index.html"
    login_form = SwitchboardLoginForm

    def get_urls(self) -> list[URLPattern | URLResolver]:
        from crm import admin_views

        def search(request: HttpRequest) -> HttpResponse:
            return admin_views.search_view(self, request)

        def api_tokens(request: HttpRequest) -> HttpResponse:
            return admin_views.tokens_view(self, request)

        def preferences(request: HttpRequest) -> HttpResponse:
            return admin_views.preferences_view(self, request)

        def note_add(request: HttpRequest, customer_id: int) -> HttpResponse:
            return admin_views.note_add_view(self, request, customer_id)

        return [
            path("search/", self.admin_view(search), name="search"),
            path(
                "notes/add/<int:customer_id>/", self.admin_view(note_add), name="crm_note_add_for"
            ),
            path("tokens/", self.admin_view(api_tokens), name="api_tokens"),
            path("preferences/", self.admin_view(preferences), name="preferences"),
            # Pages upper apps add (crm/admin_extensions.py), before the admin's catch-all.
            *(
                path(page.route, self.admin_view(page.view), name=page.name)
                for page in admin_pages.pages
            ),
            *super().get_urls(),
        ]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps  # one app's own page: as Django builds it
        return arrange_app_list(apps, show_system=is_administrator(request.user))

    def index(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        context = {
            "dashboard_panels": dashboard_extensions.panel_contexts(request, None),
            "dashboard_css": dashboard_extensions.css(),
            **(extra_context or {}),
        }
        return super().index(request, context)


def arrange_app_list(apps: list[dict[str, Any]], *, show_system: bool) -> list[dict[str, Any]]:
    """Work apps in :data:`APP_ORDER`; then one *Settings* section (every settings page
    and who may log in); then *System* (Celery beat), for Administrators only."""
    work: dict[str, dict[str, Any]] = {}
    settings_models: list[dict[str, Any]] = []
    system_models: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for app in apps:
        label = app["app_label"]
        if label in SYSTEM_APPS:
            system_models += app["models"]
            continue
        if label in SETTINGS_APPS:
            settings_models += app["models"]
            continue
        kept = []
        for model in app["models"]:
            model_class = model.get("model")
            if isinstance(model_class, type) and issubclass(model_class, SingletonSettings):
                settings_models.append(model)
            else:
                kept.append(model)
        if kept:
            app = {**app, "models": kept}
            if label in APP_ORDER:
                work[label] = app
            else:
                others.append(app)
    arranged = [work[label] for label in APP_ORDER if label in work] + others
    if settings_models:
        arranged.append(_section("settings", "Settings", settings_models))
    if system_models and show_system:
        arranged.append(_section("system", "System", system_models))
    return arranged


def _section(label: str, name: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "app_label": label,
        "app_url": "",
        "has_module_perms": True,
        "models": sorted(models, key=lambda m: m["name"]),
    }
