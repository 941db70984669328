"""Orchestration: the Mobile Phone Number Identification settings page (Administrators).

The page explains the switch and its cost, previews what switching on would look up
and spend, shows the running backfill's progress (``progress/`` as JSON, polled by
``telephony/orchestration.js``) and the history of switches and runs.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone

from crm.admin_utils import ReadOnlyAdminMixin, SingletonAdminMixin
from crm.inputs import post_as_sent
from telephony.identification import ledger, selectors, services
from telephony.models import BackfillRun, OrchestrationSettings, OrchestrationSwitch


def run_progress(run: BackfillRun | None) -> dict[str, Any] | None:
    """What the progress bar shows: done / total, turned Mobile, spent, time left."""
    return None if run is None else progress_of(run)


def progress_of(run: BackfillRun, figures: selectors.RunFigures | None = None) -> dict[str, Any]:
    """A run's progress. Its lookups and money are the ledger's (one source with the
    month's figures); its numbers done move with its cursor."""
    if figures is None:
        figures = selectors.runs_figures(run_ids=[run.pk])[run.pk]
    total = max(run.planned_numbers, run.numbers_done)
    running = run.status == BackfillRun.Status.RUNNING
    elapsed = (timezone.now() - run.started_at).total_seconds()
    left = None
    if running and run.numbers_done and elapsed > 0:
        left = int((total - run.numbers_done) / (run.numbers_done / elapsed))
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "running": running,
        "done": run.numbers_done,
        "total": total,
        "percent": 100
        if run.status == BackfillRun.Status.COMPLETED or not total
        else min(100, int(100 * run.numbers_done / total)),
        "turned_mobile": run.turned_mobile,
        "lookups": figures.lookups,
        "from_cache": run.answered_from_cache,
        "failed": run.failed,
        "spent": f"{figures.spent:.2f}",
        "at_risk": f"{figures.at_risk:.2f}",
        "attempts_at_risk": figures.attempts_at_risk,
        "planned_cost": f"{run.planned_cost:.2f}",
        "time_left": _duration(left) if left is not None else ("-" if not running else "..."),
        "message": run.message,
    }


def month_progress() -> dict[str, str]:
    month = selectors.month_figures()
    return {
        "spent": f"{month.spent:.2f}",
        "at_risk": f"{month.at_risk:.2f}",
        "in_flight": f"{month.in_flight:.2f}",
        "committed": f"{month.committed:.2f}",
    }


def _duration(seconds: int) -> str:
    return str(timedelta(seconds=max(0, seconds)))


@admin.register(OrchestrationSettings)
class OrchestrationSettingsAdmin(SingletonAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/telephony/orchestrationsettings/change_form.html"
    fieldsets = (
        (
            "Mobile Phone Number Identification",
            {"fields": ("mobile_identification", "lookup_monthly_cap", "lookup_cache_days")},
        ),
    )

    class Media:
        css = {"all": ("telephony/identification.css",)}
        js = ("telephony/orchestration.js",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        sent = post_as_sent(request) if request.method == "POST" else None

        class CapReadAsSent(form):  # type: ignore[valid-type,misc]
            def clean_lookup_monthly_cap(self) -> Any:
                # The request's NULs are stripped before any form sees it (crm/inputs.py),
                # which would turn "\x00" into an empty field, that is "no cap": the
                # cap is money, so what was typed is read as it was sent.
                raw = sent.get("lookup_monthly_cap", "") if sent is not None else ""
                if raw and not (raw.strip().isascii() and raw.strip().isprintable()):
                    raise ValidationError(
                        "Enter the cap as a number in digits, such as 50.00 (the value "
                        "sent holds characters that are not part of a number); empty "
                        "means no cap."
                    )
                return self.cleaned_data["lookup_monthly_cap"]

        return CapReadAsSent

    def get_urls(self) -> list[Any]:
        return [
            path(
                "progress/",
                self.admin_site.admin_view(self.progress_view),
                name="telephony_orchestration_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(
            {"run": run_progress(selectors.backfill_current()), "month": month_progress()}
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **self._page_context()}
        )

    def _page_context(self) -> dict[str, Any]:
        config = OrchestrationSettings.load()
        price = ledger.provider_price(ledger.line_type_provider())
        month = selectors.month_figures()
        cap = config.lookup_monthly_cap
        allows = selectors.lookups_the_cap_allows(config=config, price=price)
        run = selectors.backfill_current()
        runs = list(BackfillRun.objects.select_related("started_by")[:10])
        figures = selectors.runs_figures(run_ids=[r.pk for r in runs])
        for r in runs:  # the ledger's figures, as the progress section shows them
            r.ledger = figures[r.pk]  # type: ignore[attr-defined]
        plan = (
            None
            if config.mobile_identification
            else selectors.backfill_plan(config=config, price=price)
        )
        return {
            "price": price,
            "plan": plan,
            "cap": cap,
            "cap_allows": allows,
            "cap_stops_plan": plan is not None and allows is not None and allows < plan.lookups,
            "capped": cap is not None and price > 0 and month.committed + price > cap,
            "month": month,
            "stopped_reason": config.lookups_stopped_reason,
            "stopped_at": config.lookups_stopped_at,
            "progress": run_progress(run),
            "progress_url": reverse("admin:telephony_orchestration_progress"),
            "switches": OrchestrationSwitch.objects.select_related("by")[:10],
            "runs": runs,
            "runs_url": reverse("admin:telephony_backfillrun_changelist"),
            "zero": Decimal(0),
        }

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.orchestration_settings_save(config=obj, actor=request.user)


@admin.register(BackfillRun)
class BackfillRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "trigger",
        "status",
        "started_by",
        "planned_numbers",
        "planned_cost",
        "numbers_done",
        "lookups",
        "answered_from_cache",
        "turned_mobile",
        "failed",
        "spent",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    list_select_related = ("started_by",)
