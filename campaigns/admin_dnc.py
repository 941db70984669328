"""The do-not-call list in the admin: Administrators add a number or import a file; the
import's page is its progress, then its receipt (docs/dialing.md, "Do not call")."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from campaigns import calling, dnc
from campaigns.models import DoNotCallImport, DoNotCallNumber
from crm.phones import InvalidPhoneNumber, normalize

IMPORT = "campaigns.add_donotcallimport"


class DoNotCallAddForm(forms.ModelForm):
    number = forms.CharField(max_length=64, help_text="Any format, e.g. (212) 555-0147.")
    reason = forms.CharField(max_length=255, required=False)

    class Meta:
        model = DoNotCallNumber
        fields = ["number", "reason"]

    def clean_number(self) -> str:
        try:
            return normalize(self.cleaned_data["number"].replace("\x00", ""))
        except InvalidPhoneNumber as exc:
            raise ValidationError(str(exc)) from exc


class DoNotCallImportForm(forms.Form):
    file = forms.FileField(
        help_text="One number a line, or the national registry's area code,number lines."
    )
    reason = forms.CharField(max_length=255, required=False, help_text="Kept with each number.")


@admin.register(DoNotCallNumber)
class DoNotCallNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "reason", "added_by", "created_at")
    search_fields = ("number",)
    form = DoNotCallAddForm
    change_list_template = "admin/campaigns/donotcallnumber/change_list.html"

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        try:  # a number in any format finds its entry exactly (the list holds millions)
            return queryset.filter(number=normalize(search_term)), False
        except InvalidPhoneNumber:
            return super().get_search_results(request, queryset, search_term)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("number", "reason", "added_by", "created_at") if obj else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # undone from the dispositions log, which restores the leads too

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Through the service: the number's leads in every campaign are disqualified too.
        entry = calling.do_not_call_add(
            number=form.cleaned_data["number"], reason=form.cleaned_data["reason"], by=request.user
        )
        obj.pk = entry.pk

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="campaigns_donotcallnumber_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra = {
            "can_import": request.user.has_perm(IMPORT),
            "recent_imports": DoNotCallImport.objects.all()[:5],
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(IMPORT):
            raise PermissionDenied
        form = DoNotCallImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = dnc.import_queue(
                upload=upload,
                name=upload.name,
                size=upload.size,
                reason=form.cleaned_data["reason"],
                by_id=request.user.pk,
            )
            self.message_user(request, "Importing: the import runs in the background.")
            return HttpResponseRedirect(
                reverse("admin:campaigns_donotcallimport_change", args=[job.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import do-not-call numbers",
            "form": form,
            "opts": self.model._meta,
            "recent": DoNotCallImport.objects.all()[:10],
        }
        return TemplateResponse(request, "admin/campaigns/donotcallnumber/import.html", context)


@admin.register(DoNotCallImport)
class DoNotCallImportAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "lines_read",
        "numbers_added",
        "numbers_already_listed",
        "lines_rejected",
        "created_at",
    )
    list_filter = ("status",)
    change_form_template = "admin/campaigns/donotcallimport/change_form.html"
    exclude = ("file", "rejections")
    readonly_fields = [
        f.name for f in DoNotCallImport._meta.fields if f.name not in ("file", "rejections")
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # through "Import a file" on the do-not-call list

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        job = DoNotCallImport.objects.filter(pk=object_id).first() if object_id else None
        extra = {"job": job, "running": job is not None and job.status in ("queued", "running")}
        return super().changeform_view(
            request, object_id, form_url, {**extra, **(extra_context or {})}
        )


def number_do_not_call_panel(request: HttpRequest, e164: str) -> dict[str, Any] | None:
    """The number view's do-not-call line (telephony's number view; campaigns/apps.py)."""
    entry = DoNotCallNumber.objects.select_related("added_by").filter(number=e164).first()
    return {
        "entry": entry,
        "can_add": request.user.has_perm("campaigns.add_donotcallnumber"),
    }
