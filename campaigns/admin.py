from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns import admin_stats, dialing, selectors, services
from campaigns.calling_window import is_lawful
from campaigns.export import csv_response, original_rows_response
from campaigns.ingest import headers
from campaigns.ingest.preview import Preview
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    LeadUpload,
    Outcome,
)
from campaigns.search import ACCOUNT_FIELDS, LEAD_FIELDS
from crm import roles
from crm.admin_utils import (
    EstimatedCountAdminMixin,
    NumberSearchMixin,
    ReadOnlyAdminMixin,
    SearchRuleAdminMixin,
    phone_column,
)
from crm.formatting import plural

# The preview lists this many of the problems it finds, and counts the rest.
PROBLEMS_SHOWN = 20


class LeadUploadForm(forms.Form):
    file = forms.FileField(
        label="Leads CSV",
        help_text="A CSV as Excel, Outlook, HubSpot or Salesforce export it (comma, semicolon, "
        "tab or pipe; UTF-8, UTF-16 or Windows-1252). Next you check how each column is read.",
    )


class ColumnMappingForm(forms.Form):
    """One choice per column of the previewed file, named by the column's position."""

    def __init__(self, *args: Any, preview: Preview, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.preview = preview
        for i, column in enumerate(preview.columns):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                label=column.label, choices=headers.CHOICES, initial=column.choice
            )

    def mapping(self) -> dict[str, str]:
        return {
            column.header: self.cleaned_data[f"col_{i}"]
            for i, column in enumerate(self.preview.columns)
        }

    def columns(self) -> list[tuple[forms.BoundField, list[str]]]:
        """Each column's choice with its first non-empty values."""
        return [
            (self[f"col_{i}"], [value for value in column.samples if value])
            for i, column in enumerate(self.preview.columns)
        ]


class OutcomeInline(admin.TabularInline):
    """Each campaign's outcomes and what they do to a lead (docs/dialing.md, "Outcomes")."""

    model = Outcome
    extra = 0
    fields = (
        "position",
        "name",
        "kind",
        "retry_after_minutes",
        "max_attempts",
        "disqualifies",
        "disposition",
        "active",
    )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at", "links")
    search_fields = ("name",)
    filter_horizontal = ("callers", "caller_ids")
    autocomplete_fields = ("default_caller_id",)
    inlines = (OutcomeInline,)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            dialing.campaign_outcomes_ensure(campaign=obj)
        if not is_lawful(obj.call_window_start, obj.call_window_end):
            messages.warning(
                request,
                f"The calling window {obj.call_window_start:%H:%M}-{obj.call_window_end:%H:%M} "
                "is wider than 8:00-21:00 in the lead's local time: telemarketing rules "
                "forbid calls outside those hours.",
            )

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "callers":
            # Only people who work in the caller workspace can be assigned to call.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(groups__name=roles.CALLER, is_active=True)
                .order_by("username")
                .distinct()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "statistics/",
                self.admin_site.admin_view(self.stats_view),
                name="campaigns_campaign_stats",
            ),
            path(
                "<int:campaign_id>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="campaigns_campaign_upload",
            ),
            path(
                "<int:campaign_id>/upload/<int:upload_id>/columns/",
                self.admin_site.admin_view(self.columns_view),
                name="campaigns_campaign_upload_columns",
            ),
            *super().get_urls(),
        ]

    def stats_view(self, request: HttpRequest) -> HttpResponse:
        return admin_stats.stats_view(request, self.admin_site.each_context(request))

    # A campaign holds up to millions of contacts: the confirmation page counts them
    # instead of listing each, and the deletion is set-based (services.campaign_delete).
    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        summary: list[Any] = []
        totals: dict[str, int] = {}
        for campaign in objs:
            counts = selectors.campaign_contents(campaign=campaign)
            summary += [
                format_html(
                    'Campaign: <a href="{}">{}</a>',
                    reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
                    campaign,
                ),
                [f"{n:,} {label}" for label, n in counts.items()],
            ]
            for label, n in counts.items():
                totals[label] = totals.get(label, 0) + n
        totals = {"campaigns": len(objs), **totals}
        perms_needed = set() if request.user.has_perm("campaigns.delete_contact") else {"contacts"}
        return summary, totals, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        services.campaign_delete(campaign=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            services.campaign_delete(campaign=campaign)

    @admin.display(description="")
    def links(self, obj: Campaign) -> str:
        return format_html(
            '<a href="{}">Upload leads</a> · <a href="{}">Workspace</a> · '
            '<a href="{}">Data quality</a> · <a href="{}">Export CSV</a>',
            reverse("admin:campaigns_campaign_upload", args=[obj.pk]),
            reverse("campaigns:detail", args=[obj.pk]),
            reverse("campaigns:quality", args=[obj.pk]),
            reverse("campaigns:export", args=[obj.pk]),
        )

    def upload_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        if not request.user.has_perm("campaigns.add_leadupload"):
            raise PermissionDenied("Only Administrators upload leads.")
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        form = LeadUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                upload = services.lead_upload_create(
                    campaign=campaign, file=form.cleaned_data["file"], uploaded_by=request.user
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return HttpResponseRedirect(
                    reverse(
                        "admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk]
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Upload leads to {campaign}",
            "campaign": campaign,
            "form": form,
            "opts": self.model._meta,
            "recent": campaign.uploads.all()[:10],
        }
        return TemplateResponse(request, "admin/campaigns/campaign/upload.html", context)

    def columns_view(self, request: HttpRequest, campaign_id: int, upload_id: int) -> HttpResponse:
        """The uploaded file's first rows with each column's reading, editable; on
        confirmation the import runs as any upload's."""
        if not request.user.has_perm("campaigns.add_leadupload"):
            raise PermissionDenied
        upload = get_object_or_404(
            LeadUpload.objects.select_related("campaign"), pk=upload_id, campaign_id=campaign_id
        )
        receipt = HttpResponseRedirect(
            reverse("admin:campaigns_leadupload_change", args=[upload.pk])
        )
        if not upload.waiting_for_columns:
            return receipt
        preview = services.lead_upload_preview_or_queue(upload=upload)
        if preview is None:  # refused whole: the receipt says why
            return receipt
        form = ColumnMappingForm(request.POST or None, preview=preview)
        if request.method == "POST" and form.is_valid():
            if "check" in request.POST:  # what the import refuses, read as now chosen
                checked = services.lead_upload_preview_or_queue(
                    upload=upload, mapping=form.mapping()
                )
                if checked is None:
                    return receipt
                preview = checked
                form = ColumnMappingForm(request.POST, preview=preview)
            else:
                try:
                    services.lead_upload_start(upload=upload, mapping=form.mapping())
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(request, "Importing: the import runs in the background.")
                    return receipt
        context = {
            **self.admin_site.each_context(request),
            "title": f"Check the columns of {upload.original_name}",
            "campaign": upload.campaign,
            "upload": upload,
            "preview": preview,
            "problems_shown": preview.problems[:PROBLEMS_SHOWN],
            "problems_more": max(0, len(preview.problems) - PROBLEMS_SHOWN),
            "form": form,
            "opts": self.model._meta,
            "cancel_url": reverse("admin:campaigns_leadupload_cancel", args=[upload.pk]),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/upload_columns.html", context)


@admin.register(LeadUpload)
class LeadUploadAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "campaign",
        "status",
        "rows_read",
        "rows_rejected",
        "contacts_created",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("campaign",)
    change_form_template = "admin/campaigns/leadupload/change_form.html"
    readonly_fields = [*(f.name for f in LeadUpload._meta.fields), "file_size"]

    @admin.display(description="Size")
    def file_size(self, obj: LeadUpload) -> str:
        return filesizeformat(obj.size)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:upload_id>/rejections.csv",
                self.admin_site.admin_view(self.rejections_csv),
                name="campaigns_leadupload_rejections",
            ),
            path(
                "<int:upload_id>/rejected-rows-as-they-were.csv",
                self.admin_site.admin_view(self.originals_csv),
                name="campaigns_leadupload_originals",
            ),
            path(
                "<int:upload_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="campaigns_leadupload_cancel",
            ),
            path(
                "<int:upload_id>/progress.json",
                self.admin_site.admin_view(self.progress_json),
                name="campaigns_leadupload_progress",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        upload = self.get_object(request, object_id)
        extra = extra_context or {}
        if upload is not None:
            extra.update(
                upload=upload,
                progress=selectors.lead_upload_progress(upload),
                receipt=selectors.lead_upload_receipt_lines(upload),
                progress_url=reverse("admin:campaigns_leadupload_progress", args=[upload.pk]),
                rejections_url=reverse("admin:campaigns_leadupload_rejections", args=[upload.pk]),
                originals_url=reverse("admin:campaigns_leadupload_originals", args=[upload.pk]),
                has_originals=upload.rejections.filter(row_kept=False)
                .exclude(original="")
                .exists(),
                columns_url=reverse(
                    "admin:campaigns_campaign_upload_columns", args=[upload.campaign_id, upload.pk]
                ),
                cancel_url=reverse("admin:campaigns_leadupload_cancel", args=[upload.pk]),
            )
        return super().change_view(request, object_id, form_url, extra)

    # The progress box tells the counts; the form below only says what file this is.
    fieldsets = (
        (
            "File",
            {
                "fields": (
                    "campaign",
                    "original_name",
                    "file_size",
                    "uploaded_by",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "duplicate_of",
                    "checksum",
                )
            },
        ),
    )

    def progress_json(self, request: HttpRequest, upload_id: int) -> JsonResponse:
        if not request.user.has_perm("campaigns.view_leadupload"):
            raise PermissionDenied("Only Administrators follow lead uploads.")
        upload = get_object_or_404(LeadUpload, pk=upload_id)
        return JsonResponse(selectors.lead_upload_progress(upload))

    def rejections_csv(self, request: HttpRequest, upload_id: int) -> HttpResponseBase:
        if not request.user.has_perm("campaigns.view_leadupload"):
            raise PermissionDenied("Only Administrators download the rejected rows.")
        upload = get_object_or_404(LeadUpload, pk=upload_id)
        rows = upload.rejections.order_by("row_number", "id").values_list(
            "row_number", "column", "value", "reason", "row_kept"
        )
        return csv_response(
            f"upload-{upload.pk}-rejected-rows.csv",
            ["row", "column", "value", "reason", "row_kept"],
            ([r, c, v, why, "yes" if kept else "no"] for r, c, v, why, kept in rows.iterator()),
        )

    def originals_csv(self, request: HttpRequest, upload_id: int) -> HttpResponseBase:
        if not request.user.has_perm("campaigns.view_leadupload"):
            raise PermissionDenied("Only Administrators download the rejected rows.")
        upload = get_object_or_404(LeadUpload, pk=upload_id)
        return original_rows_response(
            f"upload-{upload.pk}-rejected-rows-as-they-were.csv",
            upload.header_line,
            selectors.lead_upload_rejected_originals(upload),
            delimiter=upload.delimiter or ",",
        )

    def cancel_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        if not request.user.has_perm("campaigns.add_leadupload"):
            raise PermissionDenied("Only Administrators cancel uploads.")
        upload = get_object_or_404(LeadUpload, pk=upload_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            services.lead_upload_cancel(upload=upload)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, f"{upload}: cancelled, nothing was imported.")
        return HttpResponseRedirect(reverse("admin:campaigns_leadupload_change", args=[upload.pk]))


@admin.register(CampaignPhone)
class CampaignPhoneAdmin(NumberSearchMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    list_display = (
        phone_column("number", "Number"),
        "campaign",
        "contact_count",
        "status",
        "status_scope",
        "status_reason",
        "number_view",
    )
    list_filter = ("status", "status_scope")
    list_select_related = ("campaign",)

    @admin.display(description="Number view")
    def number_view(self, obj: CampaignPhone) -> str:
        url = reverse("admin:telephony_number", args=[obj.number])
        return format_html('<a href="{}">Profiles, lookups, leads</a>', url)

    search_fields = ("number",)
    search_help_text = "A phone number typed any way, or its last 4 or more digits."
    readonly_fields = [f.name for f in CampaignPhone._meta.fields]
    ordering = ("-contact_count", "id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # numbers come from uploads; the merge owns their ids


@admin.register(Account)
class AccountAdmin(SearchRuleAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    list_display = ("name", "campaign", "status")
    list_filter = ("status",)
    list_select_related = ("campaign",)
    search_fields = ("name",)
    search_rule = ACCOUNT_FIELDS
    raw_id_fields = ("campaign",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(SearchRuleAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "email",
        "account",
        phone_column("phone__number", "Phone", ordering="phone"),
        phone_column("mobile__number", "Mobile", ordering="mobile"),
        "status",
        "campaign",
    )
    list_filter = ("status",)
    list_select_related = ("campaign", "account", "phone", "mobile")
    search_fields = ("=email", "name")
    search_help_text = (
        "Any word of a name or company, an email or part of one, a number typed any way, "
        "or its last 4 or more digits."
    )
    search_rule = LEAD_FIELDS

    raw_id_fields = ("campaign", "account", "phone", "mobile", "upload")
    readonly_fields = ("dedup_key", "merged_rows", "upload", "row_number", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # contacts are created by uploads, deduplicated by email


@admin.register(Disposition)
class DispositionAdmin(ReadOnlyAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "outcome", "target", "scope", "number", "note", "by", "campaign")
    list_filter = ("outcome", "target", "scope")
    list_select_related = ("by", "campaign")
    search_fields = ("number", "note")
    actions = ["undo"]
    readonly_fields = [f.name for f in Disposition._meta.fields]

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.UNDO_PERMISSION)

    @admin.action(description="Undo the selected disqualifications", permissions=["undo"])
    def undo(self, request: HttpRequest, queryset: QuerySet[Disposition]) -> None:
        done = 0
        for disposition in queryset:
            try:
                services.disposition_undo(disposition=disposition, by=request.user)
                done += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"{disposition}: {' '.join(exc.messages)}", messages.ERROR
                )
        if done:
            undone = plural(done, "disqualification", "disqualifications")
            self.message_user(request, f"{undone} undone.")


def number_leads_panel(request: HttpRequest, e164: str) -> dict[str, Any] | None:
    """The number view's campaign leads (telephony's number view; campaigns/apps.py)."""
    if not request.user.has_perm("campaigns.view_contact"):
        return None
    leads, more = selectors.number_leads(e164=e164)
    return {"leads": leads, "more": more}


from campaigns import admin_dnc  # noqa: E402,F401  (the do-not-call list's admin)
