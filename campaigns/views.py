"""The caller workspace (/campaigns/): thin views over selectors and services."""

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    Scope,
)
from crm.admin_utils import EstimatedCountPaginator

CONTACTS_PER_PAGE = 50
EXPORT_PERMISSION = "campaigns.export_campaign"


class WorkspaceLoginView(LoginView):
    template_name = "campaigns/login.html"
    # The page django-axes shows after repeated failures (crm/lockout.py).
    lockout_template = "campaigns/locked_out.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("campaigns:list")


def _require_workspace(request: HttpRequest) -> None:
    if not (
        request.user.has_perm(selectors.WORK_PERMISSION)
        or request.user.has_perm(selectors.MANAGE_PERMISSION)
    ):
        raise PermissionDenied("The caller workspace is for callers and administrators.")


def _campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    _require_workspace(request)
    return get_object_or_404(selectors.campaigns_for_user(request.user), pk=campaign_id)


def _back(request: HttpRequest, campaign: Campaign) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("campaigns:detail", args=[campaign.pk])
    return HttpResponseRedirect(target)


def _context(request: HttpRequest, campaign: Campaign, tab: str, **extra: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "tab": tab,
        "can_export": request.user.has_perm(EXPORT_PERMISSION),
        "can_undo": request.user.has_perm(services.UNDO_PERMISSION),
        "scopes": Scope.choices,
        "outcomes": [(o.value, o.label) for o in Disposition.CALL_OUTCOMES],
        **extra,
    }


@login_required(login_url="campaigns:login")
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require_workspace(request)
    campaigns = selectors.campaigns_for_user(request.user).order_by("name", "id")
    return render(request, "campaigns/campaign_list.html", {"campaigns": campaigns})


@login_required(login_url="campaigns:login")
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    search = request.GET.get("q", "").strip()[:100]
    contacts = selectors.campaign_contacts(campaign=campaign, search=search)
    # Counting a million contacts on every page view costs more than the page itself.
    paginator = EstimatedCountPaginator(
        contacts,
        CONTACTS_PER_PAGE,
        estimate_table=None if search else selectors.campaign_contacts_table(campaign=campaign),
    )
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "campaigns/campaign_detail.html",
        _context(
            request,
            campaign,
            "contacts",
            page=page,
            search=search,
            search_cap=f"{selectors.SEARCH_MATCH_CAP:,}",
            search_capped=bool(search) and page.paginator.count >= selectors.SEARCH_MATCH_CAP,
            dialing_numbers=selectors.campaign_dialing_numbers(campaign=campaign),
        ),
    )


@login_required(login_url="campaigns:login")
def campaign_phones(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    status = request.GET.get("status", "")
    phones = selectors.campaign_phones(campaign=campaign, status=status)
    search = request.GET.get("q", "").strip()[:64]
    if search:
        phone = selectors.campaign_phone_get(campaign=campaign, raw_number=search)
        phones = phones.filter(pk=phone.pk) if phone else phones.none()
    page = Paginator(phones, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "campaigns/campaign_phones.html",
        _context(request, campaign, "phones", page=page, status=status, search=search),
    )


@login_required(login_url="campaigns:login")
def campaign_log(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    page = Paginator(selectors.campaign_dispositions(campaign=campaign), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request, "campaigns/campaign_log.html", _context(request, campaign, "log", page=page)
    )


@login_required(login_url="campaigns:login")
def campaign_quality(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    quality = selectors.campaign_data_quality(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_quality.html",
        _context(request, campaign, "quality", quality=quality),
    )


def _run(request: HttpRequest, action: Any, success: str) -> None:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)


@require_POST
@login_required(login_url="campaigns:login")
def phone_disqualify(request: HttpRequest, campaign_id: int, phone_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    phone = get_object_or_404(CampaignPhone, campaign=campaign, pk=phone_id)
    scope = request.POST.get("scope", Scope.CAMPAIGN)
    where = "in every campaign" if scope == Scope.EVERYWHERE else "on every contact carrying it"
    _run(
        request,
        lambda: services.campaign_phone_disqualify(
            phone=phone, by=request.user, reason=request.POST.get("reason", ""), scope=scope
        ),
        f"{phone.number} is disqualified {where}.",
    )
    return _back(request, campaign)


@require_POST
@login_required(login_url="campaigns:login")
def contact_disqualify(request: HttpRequest, campaign_id: int, contact_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    contact = get_object_or_404(Contact, campaign=campaign, pk=contact_id)
    _run(
        request,
        lambda: services.contact_disqualify(
            contact=contact, by=request.user, reason=request.POST.get("reason", "")
        ),
        f"{contact} is disqualified.",
    )
    return _back(request, campaign)


@require_POST
@login_required(login_url="campaigns:login")
def account_disqualify(request: HttpRequest, campaign_id: int, account_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    account = get_object_or_404(Account, campaign=campaign, pk=account_id)
    _run(
        request,
        lambda: services.account_disqualify(
            account=account, by=request.user, reason=request.POST.get("reason", "")
        ),
        f"The account {account} is disqualified.",
    )
    return _back(request, campaign)


@require_POST
@login_required(login_url="campaigns:login")
def contact_log(request: HttpRequest, campaign_id: int, contact_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    contact = get_object_or_404(Contact, campaign=campaign, pk=contact_id)
    _run(
        request,
        lambda: services.disposition_log(
            contact=contact,
            by=request.user,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
        ),
        f"Outcome logged for {contact}.",
    )
    return _back(request, campaign)


@require_POST
@login_required(login_url="campaigns:login")
def disposition_undo(request: HttpRequest, campaign_id: int, disposition_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    if not request.user.has_perm(services.UNDO_PERMISSION):
        raise PermissionDenied("Only an Administrator can undo a disqualification.")
    disposition = get_object_or_404(Disposition, campaign=campaign, pk=disposition_id)
    _run(
        request,
        lambda: services.disposition_undo(
            disposition=disposition, by=request.user, note=request.POST.get("note", "")
        ),
        "The disqualification is undone.",
    )
    return _back(request, campaign)


# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str, header: list[str], rows: Iterator[list[object]]
) -> StreamingHttpResponse:
    """A streamed CSV whose cells a spreadsheet will never run as formulas."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required(login_url="campaigns:login")
def campaign_export(request: HttpRequest, campaign_id: int) -> HttpResponseBase:
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("Only Administrators export campaigns.")
    campaign = _campaign(request, campaign_id)
    contacts = selectors.campaign_contacts(campaign=campaign).iterator(chunk_size=2_000)
    return csv_response(
        f"campaign-{campaign.pk}-contacts.csv",
        [
            "name",
            "email",
            "company",
            "title",
            "phone",
            "phone_status",
            "mobile",
            "mobile_status",
            "contact_status",
            "account_status",
        ],
        (
            [
                c.name,
                c.email,
                c.account.name if c.account else "",
                c.title,
                c.phone.number if c.phone else "",
                c.phone.status if c.phone else "",
                c.mobile.number if c.mobile else "",
                c.mobile.status if c.mobile else "",
                c.status,
                c.account.status if c.account else "",
            ]
            for c in contacts
        ),
    )
