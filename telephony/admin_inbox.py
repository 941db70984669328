"""The SMS inbox for agents: conversations awaiting a reply, assigned and resolved here,
each linking to the customer page where the reply is written (docs/messaging.md)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.options import ShowFacets
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from crm.formatting import datetime_cell, plural
from telephony import inbox, selectors
from telephony.models import Conversation


class InboxStateFilter(admin.SimpleListFilter):
    """Awaiting a reply unless asked otherwise: what an agent opens the inbox for."""

    title = "state"
    parameter_name = "state"
    AWAITING = "awaiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (self.AWAITING, "Awaiting a reply"),
            (Conversation.Status.OPEN, "Open"),
            (Conversation.Status.RESOLVED, "Resolved"),
            ("all", "All"),
        ]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or self.AWAITING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or self.AWAITING
        if value == self.AWAITING:
            return queryset.filter(status=Conversation.Status.OPEN, awaiting_reply=True)
        if value in Conversation.Status.values:
            return queryset.filter(status=value)
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Me"), ("none", "Nobody")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "me":
            return queryset.filter(assigned_to_id=request.user.pk)
        if self.value() == "none":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class AssignForm(ActionForm):
    user = forms.ModelChoiceField(
        queryset=selectors.inbox_agents(), required=False, label="Agent", empty_label="—"
    )


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "customer_link",
        "last_text",
        "last_message",
        "assigned_to",
        "status",
        "awaiting_reply",
    )
    list_display_links = None
    list_filter = (InboxStateFilter, AssignedFilter)
    list_select_related = ("customer", "assigned_to")
    list_per_page = 50
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    action_form = AssignForm
    actions = ["assign_to_me", "assign_to_chosen", "unassign", "resolve", "reopen"]

    class Media:
        css = {"all": ("telephony/inbox.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return selectors.inbox_for_admin()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        title = "SMS inbox: open a customer to reply"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Customer", ordering="customer__name")
    def customer_link(self, obj: Conversation) -> str:
        url = reverse("admin:crm_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}#customer-reply">{}</a>', url, obj.customer)

    @admin.display(description="Last message")
    def last_text(self, obj: Conversation) -> str:
        text = getattr(obj, "last_body", None) or ""
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="When", ordering="last_message_at")
    def last_message(self, obj: Conversation) -> str:
        return datetime_cell(obj.last_message_at)

    def _each(self, request: HttpRequest, queryset: QuerySet, done: str, work: Any) -> None:
        count = 0
        for conversation in queryset:
            try:
                work(conversation)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return
            count += 1
        self.message_user(
            request, f"{plural(count, 'conversation', 'conversations')} {done}.", messages.SUCCESS
        )

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            "assigned to you",
            lambda c: inbox.conversation_assign(conversation=c, user_id=request.user.pk),
        )

    @admin.action(description="Assign to the agent chosen above", permissions=["change"])
    def assign_to_chosen(self, request: HttpRequest, queryset: QuerySet) -> None:
        user_id = request.POST.get("user") or ""
        if not user_id.isdigit():
            self.message_user(request, "Choose the agent to assign them to.", messages.ERROR)
            return
        self._each(
            request,
            queryset,
            "assigned",
            lambda c: inbox.conversation_assign(conversation=c, user_id=int(user_id)),
        )

    @admin.action(description="Unassign", permissions=["change"])
    def unassign(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            "unassigned",
            lambda c: inbox.conversation_assign(conversation=c, user_id=None),
        )

    @admin.action(description="Mark resolved", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request, queryset, "resolved", lambda c: inbox.conversation_resolve(conversation=c)
        )

    @admin.action(description="Reopen", permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request, queryset, "reopened", lambda c: inbox.conversation_reopen(conversation=c)
        )
