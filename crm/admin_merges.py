"""The merge pages: reviewing a possible match and merging it field by field, the merge log,
and undoing a merge (Administrators, for 30 days; docs/product.md)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from crm import selectors, services
from crm.admin_utils import FastChangelistMixin, ReadOnlyAdminMixin
from crm.formatting import counted_kinds, plural
from crm.merges import customer_merge_undo, merge_undo_refusal
from crm.models import Customer, CustomerMerge, MatchSuggestion, PhoneNumber
from crm.phones import phone_link

TYPE_LABELS = dict(PhoneNumber.Type.choices)
UNDO_PERMISSION = "crm.undo_customermerge"
FIELD_LABELS = {"name": "Name", "email": "Email"}
EMPTY = "\N{EN DASH}"


def merge_fields_chosen(post: Any, keep: Customer, merge: Customer) -> dict[str, str]:
    """``{field: "kept" | "merged"}`` from the radios that name the profile whose value
    survives (``name_from=<id>``); a missing or foreign id leaves the default rule."""
    chosen = {}
    for name in services.MERGE_FIELDS:
        source = post.get(f"{name}_from")
        if source == str(keep.pk):
            chosen[name] = "kept"
        elif source == str(merge.pk):
            chosen[name] = "merged"
    return chosen


@admin.register(MatchSuggestion)
class MatchSuggestionAdmin(FastChangelistMixin, admin.ModelAdmin):
    list_display = ("pair", "reason", "detail", "status", "created_at", "review")
    list_filter = ("status", "reason")
    list_select_related = ("customer", "other", "resolved_by")
    search_fields = ("detail",)
    readonly_fields = (
        "customer",
        "other",
        "reason",
        "detail",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    )
    actions = ["dismiss_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Profiles")
    def pair(self, obj: MatchSuggestion) -> str:
        return f"{obj.customer} / {obj.other}"

    @admin.display(description="")
    def review(self, obj: MatchSuggestion) -> str:
        if obj.status != MatchSuggestion.Status.OPEN:
            return ""
        url = reverse("admin:crm_matchsuggestion_merge", args=[obj.pk])
        return format_html('<a class="button" href="{}">Review and merge</a>', url)

    @admin.action(description="Dismiss the selected suggestions", permissions=["change"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        dismissed = 0
        for suggestion in queryset.filter(status=MatchSuggestion.Status.OPEN):
            services.match_suggestion_dismiss(suggestion=suggestion, actor=request.user)
            dismissed += 1
        self.message_user(
            request,
            f"{plural(dismissed, 'suggestion', 'suggestions')} dismissed.",
            messages.SUCCESS,
        )

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/merge/",
                self.admin_site.admin_view(self.merge_view),
                name="crm_matchsuggestion_merge",
            ),
            *super().get_urls(),
        ]

    def merge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        suggestion = get_object_or_404(
            MatchSuggestion.objects.select_related("customer", "other"), pk=pk
        )
        if not (
            self.has_change_permission(request, suggestion)
            and request.user.has_perm("crm.change_customer")
        ):
            raise PermissionDenied("Only Administrators and Agents merge customer profiles.")
        profiles = [suggestion.customer, suggestion.other]
        if request.method == "POST":
            return self._merge_or_dismiss(request, suggestion, profiles)
        numbers = selectors.numbers_by_customer(p.pk for p in profiles)
        fields = []
        for name in services.MERGE_FIELDS:
            values = [(p, getattr(p, name)) for p in profiles]
            # Ticked beforehand: the first profile's value, unless it has none.
            default = profiles[0] if values[0][1] or not values[1][1] else profiles[1]
            fields.append((name, FIELD_LABELS[name], values, default.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": "Review a possible match",
            "opts": self.opts,
            "suggestion": suggestion,
            "fields": fields,
            "profiles": [
                (
                    p,
                    [(phone_link(n), TYPE_LABELS[t], sms) for n, t, sms in numbers.get(p.pk, [])],
                )
                for p in profiles
            ],
        }
        return TemplateResponse(request, "admin/crm/matchsuggestion/merge.html", context)

    def _merge_or_dismiss(
        self, request: HttpRequest, suggestion: MatchSuggestion, profiles: list[Customer]
    ) -> HttpResponse:
        choice = request.POST.get("keep")
        try:
            if request.POST.get("action") == "dismiss":
                services.match_suggestion_dismiss(suggestion=suggestion, actor=request.user)
                self.message_user(request, "Suggestion dismissed.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:crm_matchsuggestion_changelist"))
            keep = next((p for p in profiles if str(p.pk) == choice), None)
            if keep is None:
                raise ValidationError("Choose the profile to keep.")
            merge = profiles[1] if keep is profiles[0] else profiles[0]
            result = services.customer_merge(
                keep=keep,
                merge=merge,
                actor=request.user,
                fields=merge_fields_chosen(request.POST, keep, merge),
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        moved = counted_kinds(result.moved)
        undo = (
            f" An Administrator can undo it for {CustomerMerge.UNDO_DAYS} days (Customer merges)."
        )
        self.message_user(
            request, f"Merged {merge} into {result.kept} (moved {moved}).{undo}", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:crm_customer_change", args=[keep.pk]))


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kept", "merged", "merged_by", "what_moved", "undo_cell")
    readonly_fields = (
        "kept",
        "merged",
        "merged_by",
        "what_moved",
        "values_before",
        "created_at",
        "undone_at",
        "undone_by",
    )
    exclude = ("moved", "values", "undo")
    list_select_related = ("kept", "merged", "merged_by", "undone_by")
    raw_id_fields = ("kept", "merged")

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(UNDO_PERMISSION)

    @admin.display(description="Moved to the kept profile")
    def what_moved(self, obj: CustomerMerge) -> str:
        return counted_kinds(obj.moved if isinstance(obj.moved, dict) else {})

    @admin.display(description="Before the merge")
    def values_before(self, obj: CustomerMerge) -> str:
        values = obj.values if isinstance(obj.values, dict) else {}
        rows = []
        for role, label in (("kept", "Kept"), ("merged", "Merged away")):
            before = values.get(role, {})
            rows.append(
                format_html(
                    "<div>{} #{}: {} · {}</div>",
                    label,
                    obj.kept_id if role == "kept" else obj.merged_id,
                    before.get("name") or EMPTY,
                    before.get("email") or EMPTY,
                )
            )
        taken = values.get("taken", {})
        kept_from = ", ".join(f"{FIELD_LABELS[f]} from the {w} profile" for f, w in taken.items())
        return format_html("{}<div>{}</div>", format_html("".join(rows)), kept_from)

    @admin.display(description="Undo")
    def undo_cell(self, obj: CustomerMerge) -> str:
        if obj.undone_at is not None:
            return format_html("Undone {}", obj.undone_at.strftime("%Y-%m-%d %H:%M"))
        if merge_undo_refusal(obj) is not None:
            return EMPTY
        url = reverse("admin:crm_customermerge_undo", args=[obj.pk])
        return format_html('<a class="button" href="{}">Undo…</a>', url)

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return shown if self.has_undo_permission(request) else shown[:-1]

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/undo/",
                self.admin_site.admin_view(self.undo_view),
                name="crm_customermerge_undo",
            ),
            *super().get_urls(),
        ]

    def undo_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Undo a merge: what goes back, then undo (Administrators only)."""
        if not self.has_undo_permission(request):
            raise PermissionDenied("Only Administrators undo a merge.")
        record = get_object_or_404(
            CustomerMerge.objects.select_related("kept", "merged", "merged_by"), pk=pk
        )
        if request.method == "POST":
            try:
                back = customer_merge_undo(record=record, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:crm_customermerge_changelist"))
            self.message_user(
                request,
                f"Merge undone: {counted_kinds(back) or 'nothing'} went back to "
                f"{record.merged} (#{record.merged_id}).",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:crm_customer_change", args=[record.merged_id])
            )
        values = record.values if isinstance(record.values, dict) else {}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Undo the merge of #{record.merged_id} into #{record.kept_id}",
            "opts": self.opts,
            "record": record,
            "refusal": merge_undo_refusal(record),
            "moved": counted_kinds(record.moved if isinstance(record.moved, dict) else {}),
            "before": [
                (label, values.get(role, {}), pk_)
                for role, label, pk_ in (
                    ("kept", "Kept profile", record.kept_id),
                    ("merged", "Merged-away profile", record.merged_id),
                )
            ],
            "kept_before": values.get("kept", {}),
            "merged_before": values.get("merged", {}),
            "days": CustomerMerge.UNDO_DAYS,
        }
        return TemplateResponse(request, "admin/crm/customermerge/undo.html", context)
