from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from crm.admin import ProfileActivityColumns
from crm.admin_extensions import AdminExtensions, ExtensibleAdminMixin
from crm.admin_utils import (
    EstimatedCountAdminMixin,
    FastChangelistMixin,
    ReadOnlyAdminMixin,
    SearchRuleAdminMixin,
    SingletonAdminMixin,
    checkbox_html,
    phone_column,
)
from crm.formatting import datetime_cell
from crm.models import Customer, PhoneNumber
from crm.phones import phone_link
from crm.selectors import CUSTOMER_FIELDS
from telephony import answering, selectors, services
from telephony.admin_profile import reply_view
from telephony.models import (
    Assistant,
    Call,
    FrequentCaller,
    Message,
    OwnedNumber,
    RetentionRun,
    TelephonySettings,
)
from telephony.search import OWNED_NUMBER_FIELDS, interaction_search

# Upper apps (reputation) add columns, actions, a dashboard and warnings to "Phone system >
# Phone numbers" from their AppConfig.ready(); telephony never imports them.
owned_number_admin_extensions = AdminExtensions("telephony.OwnedNumber")


@admin.register(OwnedNumber)
class OwnedNumberAdmin(
    ExtensibleAdminMixin, SearchRuleAdminMixin, FastChangelistMixin, admin.ModelAdmin
):
    """The team's numbers. Upper apps add a column per row (reputation: two), so a row's
    fixed cost matters: the checkbox is a string (``FastChangelistMixin``) and the number
    is read as its column holds it (``e164``) rather than parsed and re-validated by each
    cell that shows it (``bench/reputation.py``)."""

    extensions = owned_number_admin_extensions
    change_form_template = "admin/extensible_change_form.html"
    change_list_template = "admin/extensible_change_list.html"
    delete_confirmation_template = "admin/extensible_delete_confirmation.html"
    list_display = (
        phone_column("number", "Number", read="e164"),
        "label",
        "status",
        "provider_id",
        "acquired_at",
        "replaced_by",
    )
    list_filter = ("status",)
    search_fields = ("number", "label")
    search_help_text = "A number typed any way or its last 4+ digits, or a word of the label."
    search_rule = OWNED_NUMBER_FIELDS
    list_select_related = ("replaced_by",)
    raw_id_fields = ("replaced_by",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[OwnedNumber]:
        return selectors.owned_numbers_for_admin()

    def action_checkbox(self, obj: OwnedNumber) -> SafeString:
        return checkbox_html(obj.pk, f"{obj.e164} {obj.label}".strip())  # type: ignore[attr-defined]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


# --- Calls and messages -------------------------------------------------------------------


class CustomerIdFilter(admin.SimpleListFilter):
    """Calls of one customer (``?customer=ID``, linked from the customer page)."""

    title = "customer"
    parameter_name = "customer__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = _int(self.value())
        customer = Customer.objects.filter(pk=value).first() if value else None
        found = [(str(customer.pk), str(customer))] if customer else []
        return [*found, (NO_PROFILE, "No profile (not a phone number)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == NO_PROFILE:
            return queryset.filter(customer__isnull=True)
        value = _int(self.value())
        return queryset.filter(customer_id=value) if value else queryset


NO_PROFILE = "none"


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # The reasons of recent calls: no DISTINCT over the whole table per page view.
        reasons = selectors.recent_reasons()
        current = self.value()
        if current and current not in reasons:
            reasons.append(current)
        return [(r, r) for r in reasons]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(reason=value) if value else queryset


class SatisfactionFilter(admin.SimpleListFilter):
    title = "satisfaction"
    parameter_name = "satisfaction"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(n), "★" * n) for n in range(5, 0, -1)] + [("none", "Not rated")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(satisfaction__isnull=True)
        if value and value.isdigit():
            return queryset.filter(satisfaction=int(value))
        return queryset


class _InteractionAdmin(SearchRuleAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    """What the Calls and Messages lists share: the search rule and a link to the customer."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        if not search_term.strip():
            return queryset, False
        return interaction_search(queryset, search_term), False

    @admin.display(description="Customer", ordering="customer__name")
    def customer_link(self, obj: Call | Message) -> str:
        if obj.customer_id is None:
            return "No profile"  # withheld or non-phone (telephony/parties.py)
        url = reverse("admin:crm_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    @admin.display(description="From", ordering="from_number")
    def caller(self, obj: Call | Message) -> str:
        # A number dials from the list and opens its number view; a withheld caller or SDK
        # client is named instead.
        label = obj.caller_label
        if label != obj.from_number:
            return label
        url = reverse("admin:telephony_number", args=[obj.from_number])
        return format_html(
            '{} <a class="sb-number-view" href="{}">view</a>', phone_link(obj.from_number), url
        )


@admin.register(Call)
class CallAdmin(_InteractionAdmin):
    # Short cells so every column fits a 1366 px laptop beside the filters.
    list_display = (
        "started",
        "customer_link",
        "direction",
        "caller",
        "assistant",
        "status",
        "duration",
        "rating",
        "reason",
    )
    list_filter = (
        CustomerIdFilter,
        "assistant",
        ReasonFilter,
        SatisfactionFilter,
        "started_at",
        "direction",
        "channel",
        "status",
    )
    list_select_related = ("customer", "assistant")
    date_hierarchy = None
    search_fields = ("from_number",)
    search_help_text = (
        "A number typed any way or its last 4+ digits, a CallSid, or a word of the "
        "customer's name or email."
    )
    raw_id_fields = ("customer",)
    readonly_fields = (
        "external_id",
        "channel",
        "created_at",
        "updated_at",
        "transcript_cleared_at",
    )
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        return selectors.call_list()

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj: Call) -> str:
        return datetime_cell(obj.started_at)

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration(self, obj: Call) -> str:
        if obj.duration_seconds is None:
            return "-"
        minutes, seconds = divmod(obj.duration_seconds, 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="Satisfaction", ordering="satisfaction")
    def rating(self, obj: Call) -> str:
        if obj.satisfaction is None:
            return "-"
        return format_html(
            '<span title="{} of 5">{}</span>', obj.satisfaction, "★" * obj.satisfaction
        )

    def delete_model(self, request: HttpRequest, obj: Call) -> None:
        services.calls_delete(call_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.calls_delete(call_ids=list(queryset.values_list("id", flat=True)))


@admin.register(Message)
class MessageAdmin(_InteractionAdmin):
    list_display = (
        "sent_at",
        "customer_link",
        "direction",
        "caller",
        "status",
        "short_body",
        "sent_by",
    )
    list_filter = (CustomerIdFilter, "sent_at", "direction", "status")
    list_select_related = ("customer", "sent_by")
    search_fields = ("from_number",)
    search_help_text = (
        "A number typed any way or its last 4+ digits, a MessageSid, or a word of the "
        "customer's name or email."
    )
    raw_id_fields = ("customer",)
    readonly_fields = (
        "external_id",
        "sent_by",
        "attempts",
        "error_code",
        "error_message",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return selectors.message_list()

    def get_urls(self) -> list:
        return [
            path(
                "reply/<int:customer_id>/",
                self.admin_site.admin_view(reply_view),
                name="telephony_message_reply",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Text")
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        services.messages_delete(message_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.messages_delete(message_ids=list(queryset.values_list("id", flat=True)))


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "created_at", "calls_link")
    search_fields = ("name",)

    @admin.display(description="Calls")
    def calls_link(self, obj: Assistant) -> str:
        url = reverse("admin:telephony_call_changelist") + f"?assistant__id__exact={obj.pk}"
        return format_html('<a href="{}">Calls</a>', url)


@admin.register(FrequentCaller)
class FrequentCallerAdmin(
    ProfileActivityColumns, SearchRuleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Who reaches us most: the interaction counter, kept by the linking transaction."""

    list_display = (
        "profile",
        "numbers",
        "interactions",
        "first_interaction",
        "last_interaction",
        "calls_link",
    )
    list_filter = ("last_interaction_at",)
    list_per_page = 50
    show_full_result_count = False
    show_facets = ShowFacets.NEVER  # facets would count the whole customer table
    search_fields = ("name",)
    search_help_text = "Any word of a name, an email or part of one, a number or its last digits."
    search_rule = CUSTOMER_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return selectors.frequent_callers().prefetch_related("phone_numbers")

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-interaction_count", "-last_interaction_at", "-id"]

    @admin.display(description="Customer")
    def profile(self, obj: Customer) -> str:
        url = reverse("admin:crm_customer_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj)

    @admin.display(description="Numbers")
    def numbers(self, obj: Customer) -> str:
        phones: list[PhoneNumber] = list(obj.phone_numbers.all())
        return format_html_join(", ", "{}", ((phone_link(str(p.number)),) for p in phones))

    @admin.display(description="History")
    def calls_link(self, obj: Customer) -> str:
        url = reverse("admin:telephony_call_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">Calls</a>', url)


# --- Administrator settings ---------------------------------------------------------------


class TelephonySettingsForm(forms.ModelForm):
    """Multi-line texts, and a second "yes" before a retention of 0 erases everything."""

    open_days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(answering.DAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "sb-days"}),
        help_text="None ticked: every day.",
    )
    team_time_zone = forms.ChoiceField(
        choices=answering.zone_choices,
        required=False,
        help_text='Business hours and the dashboard\'s "today" count in this zone; staff '
        "who chose none in My preferences read times in it.",
    )
    confirm_erase = forms.BooleanField(
        required=False,
        label="Yes, erase everything older than 0 days at the next run",
        help_text="Needed when a retention is set to 0: the daily run then erases every "
        "transcript (or every record) there is.",
    )

    class Meta:
        model = TelephonySettings
        fields = [
            "greeting",
            "forward_to",
            "open_days",
            "open_time",
            "close_time",
            "team_time_zone",
            "sms_auto_reply",
            "sms_from",
            "sms_help_text",
            "transcript_retention_days",
            "record_retention_days",
        ]
        widgets = {
            "greeting": forms.Textarea(attrs={"rows": 3, "cols": 60}),
            "sms_auto_reply": forms.Textarea(attrs={"rows": 3, "cols": 60}),
            "open_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "close_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "sms_help_text": forms.Textarea(attrs={"rows": 3, "cols": 60}),
        }
        labels = {"sms_auto_reply": "SMS auto-reply"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["open_days"] = sorted(answering.days_parse(self.instance.open_days))

    def clean_open_days(self) -> str:
        return ",".join(str(day) for day in sorted(self.cleaned_data.get("open_days") or []))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        zeroed = [
            label
            for name, label in (
                ("transcript_retention_days", "every call transcript"),
                ("record_retention_days", "every call and SMS record"),
            )
            if cleaned.get(name) == 0 and self.initial.get(name) != 0
        ]
        if zeroed and not cleaned.get("confirm_erase"):
            raise forms.ValidationError(
                f"A retention of 0 days erases {' and '.join(zeroed)} at the next daily run. "
                "Tick the confirmation below to do so, or choose more days."
            )
        return cleaned


@admin.register(TelephonySettings)
class TelephonySettingsAdmin(SingletonAdminMixin, admin.ModelAdmin):
    form = TelephonySettingsForm
    fieldsets = (
        (
            "Voice",
            {"fields": ("what_caller_hears", "forward_to", "greeting")},
        ),
        (
            "Business hours",
            {
                "fields": ("open_days", ("open_time", "close_time"), "team_time_zone"),
                "description": "Within these hours calls ring the forward-to number; outside "
                "them they go to voicemail. No days and no times: always open.",
            },
        ),
        (
            "SMS",
            {
                "fields": ("sms_auto_reply", "sms_from", "sms_help_text"),
                "description": "STOP, START and HELP are answered whatever the auto-reply "
                "(docs/messaging.md).",
            },
        ),
        (
            "Data retention",
            {
                "fields": (
                    "transcript_retention_days",
                    "record_retention_days",
                    "confirm_erase",
                ),
                "description": (
                    "A daily task erases what is older and records what it deleted "
                    "(see Retention runs). Empty keeps forever."
                ),
            },
        ),
    )

    readonly_fields = ("what_caller_hears",)

    class Media:
        css = {"all": ("telephony/history.css",)}

    @admin.display(description="What a caller hears now")
    def what_caller_hears(self, obj: TelephonySettings) -> SafeString:
        return format_html(
            '<p class="sb-hears" id="what-caller-hears">{}</p>',
            answering.what_caller_hears(obj),
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.telephony_settings_save(config=obj)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "transcript_cutoff",
        "transcripts_cleared",
        "record_cutoff",
        "calls_deleted",
        "messages_deleted",
    )


# Registered with the rest of telephony's admin (Django imports only admin.py).
from telephony import admin_inbox, admin_numbers, admin_orchestration, admin_voice  # noqa: E402, F401
