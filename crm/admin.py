from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.forms import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The merge pages (match suggestions, the merge log and its undo) register themselves there.
from crm import (
    admin_merges,  # noqa: F401
    selectors,
    services,
)
from crm.admin_extensions import (
    ExtensibleAdminMixin,
    customer_admin_extensions,
    number_flags,
    number_links,
    phone_number_admin_extensions,
)
from crm.admin_profile import (
    OPT_OUT_FIELDS,
    OptOutColumn,
    customer_number_flags,
    flag_badges,
    list_badges,
)
from crm.admin_utils import (
    FastChangeList,
    FastChangelistMixin,
    NumberSearchMixin,
    RankedChangeListMixin,
    ReadOnlyAdminMixin,
    SearchRuleAdminMixin,
    checkbox_html,
    phone_column,
)
from crm.erasure import choice_key
from crm.formatting import datetime_cell, local_datetime, plural
from crm.models import (
    Customer,
    CustomerErasure,
    PhoneNumber,
    PhoneNumberChange,
    StaffProfile,
)
from crm.phones import display_number, national_format, phone_link
from crm.selectors import customer_phones


class PhoneNumberForm(forms.ModelForm):
    """Says *whose* Mobile number it already is, with a link, instead of the database
    constraint's generic message."""

    def _post_clean(self) -> None:
        # Model validation (constraints included) runs here; then its message is replaced.
        super()._post_clean()  # type: ignore[misc]
        number, type_ = self.cleaned_data.get("number"), self.cleaned_data.get("type")
        if not number or type_ != PhoneNumber.Type.MOBILE:
            return
        holder = selectors.mobile_holder(str(number), exclude_pk=self.instance.pk)
        if holder is None or holder.customer_id == self.instance.customer_id:
            return
        generic = next(
            c.violation_error_message
            for c in PhoneNumber._meta.constraints
            if c.name == "crm_phone_mobile_single_owner"
        )
        errors = self.errors.get(NON_FIELD_ERRORS)
        if errors:
            remaining = [str(message) for message in errors if message != generic]
            if remaining:
                self.errors[NON_FIELD_ERRORS] = self.error_class(remaining, error_class="nonfield")
            else:
                del self.errors[NON_FIELD_ERRORS]
        url = reverse("admin:crm_customer_change", args=[holder.customer_id])
        self.add_error(
            "number",
            format_html(
                '{} is already the Mobile number of <a href="{}">{}</a>; a Mobile number '
                "belongs to one customer only. Make it Home, Office or Other here, or merge "
                "the two profiles.",
                display_number(str(number)),
                url,
                holder.customer,
            ),
        )


class PhoneNumberInline(OptOutColumn, admin.TabularInline):
    model = PhoneNumber
    form = PhoneNumberForm
    fields = ("number", "type", "sms", "sms_opt_out", "type_source", "updated_at", "view")
    readonly_fields = ("sms_opt_out", "type_source", "updated_at", "view")
    extra = 1

    @admin.display(description="Number view")
    def view(self, obj: PhoneNumber) -> str:
        if not obj.pk:
            return ""
        e164 = str(obj.number)
        return format_html(
            "{}{}", number_view_link(e164), flag_badges(self._flags(obj).get(e164, []))
        )

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        # An empty row for a profile with no number; otherwise "Add another" makes one.
        return 0 if obj is not None and customer_phones(obj) else 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # Inline instances live for one request: keep the profile, whose numbers' flags
        # the card looks up too (one query a flag for the page, not one a row).
        self.parent_customer = obj
        return super().get_formset(request, obj, **kwargs)

    def _flags(self, obj: PhoneNumber) -> dict[str, list[Any]]:
        parent = getattr(self, "parent_customer", None)
        if parent is not None and parent.pk == obj.customer_id:
            return customer_number_flags(parent)
        return number_flags.of([str(obj.number)])


TYPE_LABELS = dict(PhoneNumber.Type.choices)
# Erasing is an Administrator's act: the permission to record an erasure is the right to make one.
ERASE_PERMISSION = "crm.add_customererasure"


def number_link(e164: str) -> str:
    """A number as the admin shows it: a ``tel:`` link that dials, then a link to its
    number view when an app offers one."""
    shown = phone_link(e164)
    url = number_links.url(e164)
    if not url:
        return shown
    return format_html('{} <a class="sb-number-view" href="{}">view</a>', shown, url)


def number_view_link(e164: str) -> str:
    url = number_links.url(e164)
    return format_html('<a href="{}">Profiles, lookups, calls</a>', url) if url else ""


class ProfileActivityColumns:
    """A profile's activity as the customer lists show it: short headers and dates, so a
    list fits a 1366 px laptop beside its filters (Customers, Frequent callers)."""

    @admin.display(description="Interactions", ordering="interaction_count")
    def interactions(self, obj: Customer) -> str:
        return f"{obj.interaction_count:,}"

    @admin.display(description="First interaction", ordering="first_interaction_at")
    def first_interaction(self, obj: Customer) -> str:
        return datetime_cell(obj.first_interaction_at)

    @admin.display(description="Last interaction", ordering="last_interaction_at")
    def last_interaction(self, obj: Customer) -> str:
        return datetime_cell(obj.last_interaction_at)


class CustomerChangeList(RankedChangeListMixin, FastChangeList):
    """Loads the page's numbers in one light query after paginating (see selectors)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        page = list(self.result_list)  # evaluates (and caches) the page's queryset
        # An opt-out is set on every row of its number (crm/optout.py), so the page's
        # rows say it; looking the numbers up again made the field parse each one.
        opted_out: set[str] = set()
        numbers = selectors.numbers_by_customer(
            (customer.pk for customer in page), opted_out=opted_out
        )
        flags = number_flags.of([n[0] for found in numbers.values() for n in found])
        for customer in page:
            customer.page_numbers = numbers.get(customer.pk, [])
            customer.page_opted_out = opted_out
            customer.page_flags = flags


class NumberTypeFilter(admin.SimpleListFilter):
    title = "holds a number of type"
    parameter_name = "number_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*PhoneNumber.Type.choices, ("sms", "Mobile + SMS")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        numbers = PhoneNumber.objects.filter(customer=OuterRef("pk"))
        numbers = numbers.filter(sms=True) if value == "sms" else numbers.filter(type=value)
        return queryset.filter(Exists(numbers))


class ConflictRedirectMixin:
    """A constraint that loses a race after form validation becomes a message, not a 500."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Customer)
class CustomerAdmin(
    ExtensibleAdminMixin,
    ProfileActivityColumns,
    SearchRuleAdminMixin,
    ConflictRedirectMixin,
    FastChangelistMixin,
    admin.ModelAdmin,
):
    # Upper apps add the history, campaign leads, ... (crm/admin_extensions.py).
    extensions = customer_admin_extensions
    change_form_template = "admin/extensible_change_form.html"
    list_display = (
        "display_name",
        "email",
        "numbers",
        "source",
        "interactions",
        "last_interaction",
        "created",
    )
    list_display_links = ("display_name",)
    list_filter = (NumberTypeFilter, "source", "created_at", "last_interaction_at")
    search_fields = ("name", "email")
    search_help_text = (
        "Any word of a name (accents ignored), an email or part of one, a number typed "
        "any way, or its last 4 or more digits."
    )
    list_select_related = ()  # no FK is shown; numbers come from one prefetch query
    list_per_page = 50
    inlines = [PhoneNumberInline]
    readonly_fields = (
        "interaction_count",
        "first_interaction_at",
        "last_interaction_at",
        "created_at",
        "updated_at",
        "number_history",
        "possible_matches",
    )
    actions = ["find_matches"]
    fieldsets = (
        (None, {"fields": ("name", "email", "source", "possible_matches")}),
        (
            "Activity",
            {
                "fields": (
                    "interaction_count",
                    "first_interaction_at",
                    "last_interaction_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        ("Number history", {"classes": ("collapse",), "fields": ("number_history",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return selectors.customer_queryset()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CustomerChangeList

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Customer | None:
        found = getattr(request, "profile_page_customer", None)
        if (
            found is not None
            and from_field is None
            and str(found.pk) == str(object_id)
            and found.merged_into_id is None
        ):
            return found
        return super().get_object(request, object_id, from_field)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # Merged profiles are hidden, yet old links and bookmarks still point at them. The
        # profile read here, live or merged, is the page's object (one query, not two).
        found = selectors.customer_any(object_id)
        request.profile_page_customer = found  # type: ignore[attr-defined]
        successor = (
            selectors.customer_merge_successor(object_id)
            if found is not None and found.merged_into_id is not None
            else None
        )
        if successor is not None:
            merged, kept = successor
            self.message_user(
                request,
                format_html(
                    "{} was merged into {}: this is the kept profile.",
                    f"{merged} (#{merged.pk})",
                    f"{kept} (#{kept.pk})",
                ),
                messages.INFO,
            )
            return HttpResponseRedirect(reverse("admin:crm_customer_change", args=[kept.pk]))
        return super().change_view(request, object_id, form_url, extra_context)

    search_rule = selectors.CUSTOMER_FIELDS

    @admin.display(description="Name", ordering="name")
    def display_name(self, obj: Customer) -> str:
        return str(obj)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Customer) -> str:
        return datetime_cell(obj.created_at)

    @admin.display(description="Numbers")
    def numbers(self, obj: Customer) -> str:
        numbers = getattr(obj, "page_numbers", None)
        if numbers is None:  # not from the changelist: load this one customer's numbers
            numbers = selectors.numbers_by_customer([obj.pk]).get(obj.pk, [])
        opted_out: set[str] = getattr(obj, "page_opted_out", set())
        flags = getattr(obj, "page_flags", None)
        if flags is None:
            flags = number_flags.of([e164 for e164, _, _ in numbers])
        items = format_html_join(
            "",
            '<span class="sb-number">{}<small>{}</small>{}{}</span>',
            (
                (
                    number_link(e164),
                    TYPE_LABELS[type_],
                    list_badges(sms, e164 in opted_out),
                    flag_badges(flags.get(e164, [])),
                )
                for e164, type_, sms in numbers
            ),
        )
        return format_html('<div class="sb-numbers">{}</div>', items)

    @admin.display(description="Recent changes to numbers")
    def number_history(self, obj: Customer) -> str:
        changes = obj.number_changes.select_related("actor")[:20]
        if not changes:
            return "No changes recorded."
        url = reverse("admin:crm_phonenumberchange_changelist") + f"?customer__id__exact={obj.pk}"
        rows = format_html_join(
            "",
            "<li>{} — {}: {} ({})</li>",
            ((local_datetime(c.created_at), c.number, c, c.actor or "system") for c in changes),
        )
        return format_html('<ul class="sb-history">{}</ul><a href="{}">All changes</a>', rows, url)

    @admin.display(description="Possible matches")
    def possible_matches(self, obj: Customer) -> str:
        suggestions = list(selectors.match_suggestions_open(obj)[:10])
        if not suggestions:
            return "None found."
        return format_html_join(
            "",
            '<div><a href="{}">{}</a> — {} ({})</div>',
            (
                (
                    reverse("admin:crm_matchsuggestion_merge", args=[s.pk]),
                    s.other if s.customer_id == obj.pk else s.customer,
                    s.get_reason_display().lower(),
                    s.detail,
                )
                for s in suggestions
            ),
        )

    @admin.action(description="Find possible matches for the selected customers")
    def find_matches(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True)[:1000])
        added = services.match_suggestions_refresh(customer_ids=ids)
        found = plural(added, "new possible match", "new possible matches")
        self.message_user(request, f"{found} found.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        services.customer_update(customer=obj, actor=request.user)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        response = super().render_change_form(request, context, *args, **kwargs)
        obj = kwargs.get("obj")
        if obj is not None and self.has_erase_permission(request):
            url = reverse("admin:crm_customer_erase", args=[obj.pk])
            response.context_data["extension_links"] = [
                *response.context_data.get("extension_links", []),
                ("Erase on request…", url),
            ]
        return response

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="crm_customer_erase",
            ),
            *super().get_urls(),
        ]

    def erase_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Erasure on request: what would go, each optional item ticked, then erase."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=pk)
        customer, numbers, parts = selectors.customer_erasure_plan(customer)
        if request.method == "POST":
            erasure = services.customer_erase(
                customer=customer,
                actor=request.user,
                chosen=request.POST.getlist("choice"),
                reference=request.POST.get("reference", "").strip(),
            )
            erased = ", ".join(f"{n} {kind}" for kind, n in erasure.erased.items()) or "nothing"
            self.message_user(
                request, f"Customer #{customer.pk} erased: {erased}.", messages.SUCCESS
            )
            return HttpResponseRedirect(reverse("admin:crm_customer_change", args=[customer.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Erase customer #{customer.pk} on request",
            "opts": self.opts,
            "original": customer,
            "numbers": [national_format(n) for n in numbers],
            "parts": [
                (part, [(choice_key(part.contributor, c.key), c) for c in part.choices])
                for part in parts
            ],
            "erasures": customer.erasures.select_related("erased_by")[:5],
        }
        return TemplateResponse(request, "admin/crm/customer/erase.html", context)

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is not PhoneNumber:
            super().save_formset(request, form, formset, change)
            return
        instances = formset.save(commit=False)
        for phone in formset.deleted_objects:
            services.phone_number_remove(phone=phone, cause="removed in admin", actor=request.user)
        for phone in instances:
            services.phone_number_save(phone=phone, cause="edited in admin", actor=request.user)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(
    ExtensibleAdminMixin,
    NumberSearchMixin,
    ConflictRedirectMixin,
    FastChangelistMixin,
    admin.ModelAdmin,
):
    extensions = phone_number_admin_extensions
    form = PhoneNumberForm
    change_form_template = "admin/extensible_change_form.html"
    list_display = (
        phone_column("number", "Number", read="e164"),
        "type",
        "sms",
        "sms_opted_out",
        "customer",
        "type_source",
        "updated_at",
        "view",
    )
    list_filter = ("type", "sms", "sms_opted_out", "type_source")
    list_select_related = ("customer",)
    # As every other list of millions here: a page of 50 renders in half the time of
    # Django's default 100 (each row ~0.8 ms of admin cell rendering, docs/benchmarks.md).
    list_per_page = 50
    search_fields = ("number",)
    search_help_text = "A phone number typed any way."
    raw_id_fields = ("customer",)
    readonly_fields = ("type_source", "created_at", "updated_at", *OPT_OUT_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PhoneNumber]:
        # The number as its column holds it (E.164 text): str() of a PhoneNumber checks
        # its validity each time, three times a row on a 100-row page.
        return super().get_queryset(request).annotate(e164=Cast("number", CharField()))

    @admin.display(description="Number view")
    def view(self, obj: PhoneNumber) -> str:
        return number_view_link(getattr(obj, "e164", None) or str(obj.number))

    def action_checkbox(self, obj: PhoneNumber) -> SafeString:
        e164 = getattr(obj, "e164", None) or str(obj.number)
        return checkbox_html(obj.pk, f"{e164} ({obj.get_type_display()})")

    def save_model(self, request: HttpRequest, obj: PhoneNumber, form: Any, change: bool) -> None:
        services.phone_number_save(phone=obj, cause="edited in admin", actor=request.user)

    def delete_model(self, request: HttpRequest, obj: PhoneNumber) -> None:
        services.phone_number_remove(phone=obj, cause="removed in admin", actor=request.user)


@admin.register(PhoneNumberChange)
class PhoneNumberChangeAdmin(ReadOnlyAdminMixin, FastChangelistMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "number_view",
        "customer",
        "action",
        "old_type",
        "new_type",
        "new_sms",
        "type_source",
        "cause",
        "actor",
    )
    list_filter = ("action", "type_source", "created_at")
    list_select_related = ("customer", "actor")
    search_fields = ("number",)
    raw_id_fields = ("customer", "phone_number")

    @admin.display(description="Number", ordering="number")
    def number_view(self, obj: PhoneNumberChange) -> str:
        return number_link(obj.number)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        found = selectors.number_search(queryset, search_term)
        if found is None:
            found = queryset.filter(cause__icontains=search_term.strip())
        return found, False


@admin.register(CustomerErasure)
class CustomerErasureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "customer", "erased_by", "reference", "erased")
    list_select_related = ("customer", "erased_by")
    raw_id_fields = ("customer",)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Each team member's own phone (rung first by click-to-call) and time zone."""

    list_display = ("user", "phone", "time_zone", "updated_at")
    search_fields = ("user__username", "phone")
    raw_id_fields = ("user",)


from crm import admin_records  # noqa: E402, F401  (notes and API tokens)
