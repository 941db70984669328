"""Notes and API tokens in the admin (``docs/search.md``)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from rest_framework.authtoken.models import TokenProxy

from crm import services, tokens
from crm.admin_utils import FastChangelistMixin, ReadOnlyAdminMixin
from crm.models import ApiToken, Note, NoteEdit


class NoteEditInline(admin.TabularInline):
    model = NoteEdit
    fields = ("edited_at", "edited_by", "text_before")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Earlier versions (the audit)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Note)
class NoteAdmin(FastChangelistMixin, admin.ModelAdmin):
    """Notes are written on the profile; here each is read, and edited by its author."""

    list_display = ("created_at", "customer_link", "author", "short_text")
    list_select_related = ("customer", "author")
    list_filter = ("created_at",)
    raw_id_fields = ("customer",)
    fields = ("customer", "author", "created_at", "updated_at", "text")
    readonly_fields = ("customer", "author", "created_at", "updated_at")
    inlines = [NoteEditInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written on the profile (or a call), where it belongs

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit keeps what was written

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.author_id == request.user.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.author_id != request.user.pk:
            return (*self.readonly_fields, "text")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Note, form: Any, change: bool) -> None:
        try:
            services.note_edit(note=obj, by=request.user, text=obj.text)
        except (ValidationError, services.NoteNotYours) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.message_user(request, text, messages.ERROR)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the edits inline is read-only: the service writes the audit

    @admin.display(description="Customer", ordering="customer")
    def customer_link(self, obj: Note) -> str:
        if obj.customer_id is None:
            return "-"
        url = reverse("admin:crm_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    @admin.display(description="Text")
    def short_text(self, obj: Note) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every user's tokens, for Administrators: who has which, when last used; revoke.
    Nobody (Administrators included) can read a key: only its digest is stored."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at", "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "prefix")
    exclude = ("digest",)
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        return super().get_queryset(request).select_related("user")

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            tokens.api_token_revoke(token=token)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("crm.change_apitoken")


# DRF's own token admin made keys in clear text, for Administrators only; every staff user
# now makes their own, hashed (Your API tokens, in the header).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
