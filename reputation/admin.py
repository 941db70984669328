"""The add-on page, and what reputation adds to "Phone system > Phone numbers".

Telephony owns the Phone numbers page; this app fills its extension point
(``telephony.admin.owned_number_admin_extensions``) from ``ReputationConfig.ready()``:
the reputation column, the row and bulk actions, the dashboard above the list, the panel
on a number's page and the warning on its delete page.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe

from crm.admin_extensions import AdminView, Column, Panel
from crm.admin_utils import ReadOnlyAdminMixin, SingletonAdminMixin
from reputation import cells, charts, selectors, services
from reputation.errors import ReputationRefused
from reputation.models import (
    NUMBERS_PER_BLOCK,
    DailyCheckRun,
    MonitoredNumber,
    NumberReplacement,
    ReputationSettings,
    SlotClaim,
)
from telephony.models import OwnedNumber

PERMISSION = "reputation.change_monitorednumber"
RISK_TITLE = "Its answer rate fell: carriers may flag it soon"
SLOT_WARNING = (
    "A deleted or released number's monitoring slot stays used until the next billing cycle "
    "starts, so replace a number instead of deleting it: a replacement keeps the slot."
)


# --- The Add-on page ----------------------------------------------------------------------


class ReputationSettingsForm(forms.ModelForm):
    confirm_auto_replace = forms.BooleanField(
        label="Confirm the replacements",
        required=False,
        help_text="Switching auto-replacement on buys and releases the numbers listed above.",
    )

    class Meta:
        model = ReputationSettings
        fields = (
            "addon_enabled",
            "blocks",
            "auto_replace",
            "replacement_area",
            "spam_threshold",
            "at_risk_fraction",
            "daily_call_warning",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Added after the page's first fields: a post without it keeps what is saved.
        for later in ("replacement_area", "resting_share"):
            if later in self.fields:
                self.fields[later].required = False

    def clean_replacement_area(self) -> str:
        return self.cleaned_data.get("replacement_area") or self.instance.replacement_area

    def clean_resting_share(self) -> Decimal:
        share = self.cleaned_data.get("resting_share")
        return self.instance.resting_share if share is None else share

    def clean_blocks(self) -> int:
        blocks = self.cleaned_data["blocks"]
        if refusal := services.blocks_refusal(blocks=blocks, config=self.instance):
            raise forms.ValidationError(refusal)
        return blocks

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        switching_on = data.get("auto_replace") and not self.instance.auto_replace
        if switching_on and not data.get("confirm_auto_replace"):
            preview = selectors.auto_replace_preview()
            if preview:
                self.add_error("confirm_auto_replace", _preview_text(preview))
        return data


def _preview_text(preview: list[selectors.ReplacementPreview]) -> str:
    now = [p for p in preview if p.now]
    later = len(preview) - len(now)
    parts = [
        f"Switching auto-replacement on buys {len(now)} number{'s' * (len(now) != 1)} now and "
        "releases "
        + (", ".join(f"{p.e164} ({p.label})" if p.label else p.e164 for p in now) or "none")
        + "."
    ]
    changed = sorted({c for p in now for c in p.campaigns})
    if changed:
        parts.append(f"Caller IDs change in: {', '.join(changed)}.")
    if later:
        parts.append(
            f"{later} more SPAM number{'s' * (later != 1)} from earlier checks "
            "will be replaced after their next successful check."
        )
    parts.append("Tick the box to confirm.")
    return " ".join(parts)


@admin.register(ReputationSettings)
class ReputationSettingsAdmin(SingletonAdminMixin, admin.ModelAdmin):
    form = ReputationSettingsForm
    fieldsets = (
        (
            "Advanced Phone Reputation",
            {
                "fields": ("addon_enabled", "slot_warning"),
                "description": "Pre-screening, a daily spam check per carrier, and "
                "auto-replacement of numbers marked as spam. Numbers are not monitored "
                "automatically: monitor them on Phone system > Phone numbers.",
            },
        ),
        ("Subscription", {"fields": ("blocks", "price", "cycle", "usage_figure")}),
        (
            "Auto-replacement",
            {
                "fields": (
                    "auto_replace",
                    "replacement_area",
                    "replacement_preview",
                    "confirm_auto_replace",
                )
            },
        ),
        (
            "Checks",
            {
                "fields": (
                    "spam_threshold",
                    "at_risk_fraction",
                    "resting_share",
                    "daily_call_warning",
                )
            },
        ),
    )
    readonly_fields = ("slot_warning", "price", "cycle", "usage_figure", "replacement_preview")

    class Media:
        css = {"all": ("reputation/reputation.css",)}

    @admin.display(description="Please note")
    def slot_warning(self, obj: ReputationSettings) -> str:
        return format_html('<p class="sb-rep-warning" role="note">{}</p>', SLOT_WARNING)

    @admin.display(description="Monthly price")
    def price(self, obj: ReputationSettings) -> str:
        return (
            f"${obj.monthly_price:,.2f} a month: {obj.blocks} block{'s' * (obj.blocks != 1)} "
            f"x ${obj.block_price:,.2f}, {NUMBERS_PER_BLOCK} numbers each "
            f"({obj.capacity} numbers)"
        )

    @admin.display(description="Current billing cycle")
    def cycle(self, obj: ReputationSettings) -> str:
        start, end = services.current_cycle(obj)
        last = end - timedelta(days=1)
        note = "" if obj.cycle_anchor else " (billing starts when the add-on is switched on)"
        return f"{start:%b} {start.day}, {start:%Y} to {last:%b} {last.day}, {last:%Y}{note}"

    @admin.display(description="Slot usage")
    def usage_figure(self, obj: ReputationSettings) -> str:
        figures = selectors.usage()
        return format_html(
            '<span data-figure="usage">{}/{}</span> slots used this cycle ({} free)',
            figures.used,
            figures.capacity,
            figures.free,
        )

    @admin.display(description="What switching it on replaces")
    def replacement_preview(self, obj: ReputationSettings) -> str:
        # The saved value: a form sent back with an error carries the unsaved one.
        if ReputationSettings.load().auto_replace:
            return "It is on: a number is replaced when a check that succeeded today finds it SPAM."
        preview = selectors.auto_replace_preview()
        if not preview:
            return "No monitored number is SPAM now: nothing would be bought or released."
        where = {
            "area_code": "in its area code",
            "state": "in its area code, else elsewhere in its state",
            "any": "in its area code, else its state, else anywhere",
        }.get(obj.replacement_area, "")
        return format_html(
            '<ul class="sb-rep-preview">{}</ul>',
            format_html_join(
                "",
                "<li><b>{}</b> {}: {} {}; then {} is released. {}</li>",
                (
                    (
                        p.e164,
                        f"({p.label})" if p.label else "",
                        "a new number is bought"
                        if p.now
                        else "after its next successful check, a new number is bought",
                        where,
                        p.e164,
                        f"Caller ID changes in: {', '.join(p.campaigns)}."
                        if p.campaigns
                        else "No campaign dials from it.",
                    )
                    for p in preview
                ),
            ),
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            services.reputation_settings_save(config=obj)
        except ReputationRefused as exc:  # the slots changed since the form was checked
            messages.error(request, str(exc))


# --- Audit and runs (read-only) ------------------------------------------------------------


@admin.register(NumberReplacement)
class NumberReplacementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "old_number", "new_number", "state", "automatic", "by", "reason")
    list_filter = ("state", "automatic", "day")
    search_fields = ("old_number", "new_number")
    readonly_fields = ("verdict",)


@admin.register(DailyCheckRun)
class DailyCheckRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "day",
        "forced",
        "state",
        "numbers_checked",
        "numbers_failed",
        "requests",
        "turned_spam",
        "started_at",
        "finished_at",
    )


@admin.register(SlotClaim)
class SlotClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("cycle_start", "number", "owned_number", "passed_from", "claimed_at")
    list_filter = ("cycle_start",)
    search_fields = ("number",)


@admin.register(MonitoredNumber)
class MonitoredNumberAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The monitored numbers (the row actions are the Phone numbers page's own URLs)."""

    list_display = ("owned_number", "status", "risk", "checked_at", "flagged_at")
    list_filter = ("status", "at_risk")
    list_select_related = ("owned_number",)

    class Media:
        css = {"all": ("reputation/reputation.css",)}

    @admin.display(description="At risk", ordering="at_risk")
    def risk(self, obj: MonitoredNumber) -> str:
        # Django's boolean column draws True as a green tick: a number at risk is a warning.
        if obj.at_risk:
            return format_html('<span class="sb-rep-risk" title="{}">AT RISK</span>', RISK_TITLE)
        return format_html('<span class="sb-rep-ok" title="{}">No</span>', "Answer rate steady")


# --- The Phone numbers page: actions ----------------------------------------------------------


def _allowed(request: HttpRequest) -> bool:
    if request.user.has_perm(PERMISSION):
        return True
    messages.error(request, "Only Administrators can change reputation monitoring.")
    return False


@admin.action(description="Monitor reputation")
def monitor_reputation(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    if not _allowed(request):
        return
    try:
        outcome = services.numbers_monitor(
            owned_number_ids=list(queryset.values_list("pk", flat=True)), by=request.user
        )
    except ReputationRefused as exc:
        messages.error(request, str(exc))
        return
    spam = sum(1 for m in outcome.monitored if m.status == MonitoredNumber.Status.SPAM)
    text = f"Monitoring {len(outcome.monitored)} more number(s)"
    if outcome.already:
        text += f" ({outcome.already} already monitored)"
    if spam:
        text += f"; {spam} already marked SPAM"
    messages.success(request, text + ".")


@admin.action(description="Stop monitoring")
def stop_monitoring(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    if not _allowed(request):
        return
    stopped = services.numbers_unmonitor(
        owned_number_ids=list(queryset.values_list("pk", flat=True)), by=request.user
    )
    messages.success(
        request,
        f"Stopped monitoring {stopped} number(s). Their slots stay used until this billing "
        "cycle ends.",
    )


@admin.action(description="Replace number (keeps its monitoring slot)")
def replace_number(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    if not _allowed(request):
        return
    for number in queryset.filter(status=OwnedNumber.Status.ACTIVE):
        try:
            done = services.number_replace(owned_number=number, by=request.user)
        except ReputationRefused as exc:
            messages.error(request, str(exc))
            continue
        if done.state == NumberReplacement.State.DONE:
            messages.success(request, f"{done.old_number} was replaced by {done.new_number}.")
        else:
            messages.warning(
                request, f"{done.old_number}: {done.get_state_display()}. {done.reason}"
            )


ROW_VERBS = {"monitor": monitor_reputation, "unmonitor": stop_monitoring, "replace": replace_number}


def row_action(
    modeladmin: admin.ModelAdmin, request: HttpRequest, owned_id: int, verb: str
) -> HttpResponse:
    """A row menu's button on the Phone numbers page: the bulk action on that one number,
    then back to the page it was pressed on."""
    back = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
        back = ""
    back = back or reverse("admin:telephony_ownednumber_changelist")
    if request.method != "POST" or verb not in ROW_VERBS:
        return HttpResponseRedirect(back)
    ROW_VERBS[verb](modeladmin, request, OwnedNumber.objects.filter(pk=owned_id))
    return HttpResponseRedirect(back)


# --- The Phone numbers page: filter, column, dashboard, number page, delete warning -------


class ReputationFilter(admin.SimpleListFilter):
    """The numbers behind each figure of the usage summary and of the admin home."""

    title = "reputation"
    parameter_name = "reputation"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(selectors.REPUTATION_FILTERS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return selectors.owned_numbers_by_reputation(queryset, value) if value else queryset


SHIELD = cells.SHIELD
REPUTATION_HEADER = mark_safe(
    'Reputation <b class="sb-rep-help" tabindex="0" title="SAFE (green): fewer than the '
    "threshold of carriers flag the number. SPAM (red): at least the threshold (by default "
    "most of the carriers checked) flag it. Hover a badge for each carrier's result.\">?</b>"
)


def prepare_page(numbers: list[OwnedNumber]) -> None:
    rows = selectors.page_reputation(numbers)
    for number in numbers:
        number.page_reputation = rows.get(number.pk)  # type: ignore[attr-defined]


def render_reputation(number: OwnedNumber) -> SafeString:
    row = getattr(number, "page_reputation", None)
    if row is None:  # not prepared (another page reused the admin): one row's query
        row = selectors.page_reputation([number])[number.pk]
    return cells.reputation_cell(row)


def render_row_menu(number: OwnedNumber) -> SafeString:
    return cells.row_menu(number, getattr(number, "page_reputation", None))


def dashboard_panel(request: HttpRequest, obj: Any) -> dict[str, Any] | None:
    if not request.user.has_perm("reputation.view_monitorednumber"):
        return None
    return {
        "usage": selectors.usage(),
        "notices": list(selectors.replacement_notices()),
        "addon_url": reverse("admin:reputation_reputationsettings_changelist"),
    }


def number_panel(request: HttpRequest, number: OwnedNumber) -> dict[str, Any] | None:
    if not request.user.has_perm("reputation.view_monitorednumber"):
        return None
    row = selectors.page_reputation([number])[number.pk]
    days = selectors.flags_per_day(owned_number=number)
    config = ReputationSettings.cached()
    return {
        "row": row,
        "shield": SHIELD,
        "chart": charts.flags_chart(days),
        "checks": list(selectors.latest_source_checks(owned_number=number)),
        "replacements": list(selectors.replacements_of(owned_number=number)),
        "cycle_end": services.current_cycle(config)[1],
        "slot_warning": SLOT_WARNING,
        "active": number.status == OwnedNumber.Status.ACTIVE,
        "replace_url": reverse("admin:reputation_row_action", args=[number.pk, "replace"]),
        "config": config,
    }


def delete_panel(request: HttpRequest, number: OwnedNumber) -> dict[str, Any] | None:
    if not MonitoredNumber.objects.filter(owned_number=number).exists():
        return None
    config = ReputationSettings.cached()
    return {
        "number": number,
        "cycle_end": services.current_cycle(config)[1],
        "replace_url": reverse("admin:reputation_row_action", args=[number.pk, "replace"]),
        "back_url": reverse("admin:telephony_ownednumber_changelist"),
    }


def register_admin_extensions() -> None:
    from telephony.admin import owned_number_admin_extensions as extensions

    css = ("reputation/reputation.css",)
    extensions.add_column(
        Column(
            name="reputation",
            description=REPUTATION_HEADER,
            render=render_reputation,
            prepare=prepare_page,
            after="label",
        )
    )
    extensions.add_column(
        Column(
            name="row_menu",
            description=mark_safe('<b class="sb-sr">Actions</b>'),
            render=render_row_menu,
            after="number_display",
        )
    )
    for action in (monitor_reputation, stop_monitoring, replace_number):
        extensions.add_action(action)
    extensions.add_view(
        AdminView(
            name="reputation_row_action",
            route="reputation/<int:owned_id>/<str:verb>/",
            view=row_action,
        )
    )
    extensions.add_list_filter(ReputationFilter)
    extensions.add_changelist_panel(
        Panel(
            key="reputation-dashboard",
            template="admin/reputation/_dashboard.html",
            context=dashboard_panel,
            media_css=css,
        )
    )
    extensions.add_panel(
        Panel(
            key="reputation-number",
            template="admin/reputation/_number.html",
            context=number_panel,
            media_css=css,
        )
    )
    extensions.add_delete_panel(
        Panel(
            key="reputation-delete-warning",
            template="admin/reputation/_delete_warning.html",
            context=delete_panel,
            media_css=css,
        )
    )
