"""The caller workspace (/campaigns/): thin views over selectors and services."""

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from campaigns import calling, contact_pages, dnc, selectors, services
from campaigns.calling_window import local_label
from campaigns.export import contacts_csv
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    Scope,
)
from crm.admin_utils import EstimatedCountPaginator
from crm.models import Customer
from crm.phones import display_number
from telephony.selectors import team_today, team_zone

CONTACTS_PER_PAGE = contact_pages.PER_PAGE
LOG_PER_PAGE = 50
CALLBACKS_SHOWN = 20
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


def _options(choices: Iterable[tuple[str, str]]) -> SafeString:
    return format_html_join("", '<option value="{}">{}</option>', choices)


def _context(request: HttpRequest, campaign: Campaign, tab: str, **extra: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "tab": tab,
        # Each row's forms post under the campaign's URL and come back here, with the
        # CSRF token: reversed, read and escaped once per page, not once per form (five a
        # row, 70 rows a page).
        "action_base": reverse("campaigns:detail", args=[campaign.pk]),
        "form_hidden": format_html(
            '{}\n<input type="hidden" name="next" value="{}">',
            csrf_input(request),
            request.get_full_path(),
        ),
        "can_export": request.user.has_perm(EXPORT_PERMISSION),
        "can_undo": request.user.has_perm(services.UNDO_PERMISSION),
        # The same for what every row's forms repeat: a list of 50 rows rendered these
        # 700 times through template tags (docs/profiles/workspace.md).
        "scope_options": _options(Scope.choices),
        "outcome_options": _options((o.value, o.label) for o in Disposition.CALL_OUTCOMES),
        **extra,
    }


def _with_rows(request: HttpRequest, context: dict[str, Any], **fragments: str) -> None:
    """Adds each ``name=template`` fragment to ``context``: the rows a page repeats by the
    hundred, rendered by the Jinja2 engine (crm/templating.py) from the same context."""
    for name, template in fragments.items():
        html = render_to_string(template, dict(context), request, using="jinja2")
        context[name] = mark_safe(html)  # noqa: S308  (Jinja2 escaped what it put in)


@login_required(login_url="campaigns:login")
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require_workspace(request)
    campaigns = selectors.campaigns_for_user(request.user).order_by("name", "id")
    return render(request, "campaigns/campaign_list.html", {"campaigns": campaigns})


@login_required(login_url="campaigns:login")
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    # A NUL cannot reach PostgreSQL in a query; the rule drops it, and so does the page.
    search = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    keys = ("page", "after", "before", "last")
    params = {key: request.GET[key] for key in keys if key in request.GET}
    if search:
        ids, capped = selectors.campaign_contact_ids(campaign=campaign, search=search)
        page = contact_pages.search_page(
            campaign=campaign, ids=ids, capped=capped, params=params, search=search
        )
    else:
        # Keyset pages and an estimated total: no OFFSET over, and no count of, a
        # million contacts (campaigns/contact_pages.py).
        table = selectors.campaign_contacts_table(campaign=campaign)
        page = contact_pages.list_page(campaign=campaign, params=params, table=table)
    # Annotated below with what the rows show (last outcome, customers).
    rows: list[Any] = list(page.object_list)
    show_callbacks = not search and page.is_first
    # The soonest callbacks lead the page; more than a screenful goes to the caller's
    # search or the next visit (each settled callback leaves the list).
    callbacks = (
        selectors.campaign_callbacks_due(
            campaign=campaign, until=_end_of_today(), limit=CALLBACKS_SHOWN + 1
        )
        if show_callbacks
        else []
    )
    more_callbacks = len(callbacks) > CALLBACKS_SHOWN
    callbacks = callbacks[:CALLBACKS_SHOWN]
    shown = rows + [c.contact for c in callbacks if c.contact is not None]
    outcomes = selectors.contacts_last_outcomes(
        campaign=campaign, contact_ids=[c.pk for c in shown]
    )
    customers = selectors.customers_for_numbers(
        p.number for c in shown for p in (c.phone, c.mobile) if p is not None
    )
    for contact in shown:
        contact.last_outcome = outcomes.get(contact.pk)
        contact.customers = _customers_of(contact, customers)
    # Callback times are shown in the lead's local time, its zone named (docs/dialing.md).
    pairs = [(c, c.last_outcome) for c in shown if c.last_outcome]
    for lead, entry in [*((c.contact, c) for c in callbacks), *pairs]:
        if entry.callback_at is not None and lead is not None:
            zone = calling.lead_zone(lead, calling.lead_number(lead))
            entry.callback_local = local_label(entry.callback_at, zone)
    context = _context(
        request,
        campaign,
        "contacts",
        page=page,
        rows=rows,
        callbacks=callbacks,
        more_callbacks=more_callbacks,
        show_callbacks=show_callbacks,
        now=timezone.now(),
        can_open_customers=request.user.has_perm("crm.view_customer"),
        search=search,
        search_cap=f"{selectors.SEARCH_MATCH_CAP:,}",
        search_capped=page.paginator.is_capped,
        dialing_numbers=selectors.campaign_dialing_numbers(campaign=campaign),
        do_not_call=dnc.listed_numbers(
            [p.number for c in shown for p in (c.phone, c.mobile) if p is not None]
        ),
    )
    _with_rows(
        request,
        context,
        contact_rows="campaigns/contact_rows.html",
        callback_rows="campaigns/callback_rows.html",
    )
    return render(request, "campaigns/campaign_detail.html", context)


def _end_of_today() -> datetime:
    # "Call back today" ends at the team's midnight, whoever reads the page.
    tomorrow = team_today() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=team_zone())


def _customers_of(contact: Contact, customers: dict[str, Customer]) -> list[Customer]:
    """The customer profiles behind a lead's numbers (one per profile)."""
    found: list[Customer] = []
    for phone in (contact.phone, contact.mobile):
        customer = customers.get(phone.number) if phone is not None else None
        if customer is not None and customer not in found:
            found.append(customer)
    return found


@login_required(login_url="campaigns:login")
def campaign_phones(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    status = request.GET.get("status", "")
    phones = selectors.campaign_phones(campaign=campaign, status=status)
    search = request.GET.get("q", "").strip()[:64]
    if search:
        phone = selectors.campaign_phone_get(campaign=campaign, raw_number=search)
        phones = phones.filter(pk=phone.pk) if phone else phones.none()
    # Counted up to 10,000 ("Page 1 of 200+"): a campaign of a million leads has as many
    # numbers, and counting them all cost most of the page (142 ms of ~190 at 1M).
    page = EstimatedCountPaginator(phones, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    listed = dnc.listed_numbers([p.number for p in page.object_list])
    context = _context(
        request,
        campaign,
        "phones",
        page=page,
        phones=page.object_list,
        status=status,
        search=search,
        do_not_call=listed,
    )
    _with_rows(request, context, phone_rows="campaigns/phone_rows.html")
    return render(request, "campaigns/campaign_phones.html", context)


@login_required(login_url="campaigns:login")
def campaign_log(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    log = selectors.campaign_dispositions(campaign=campaign)  # grows with every call
    page = EstimatedCountPaginator(log, LOG_PER_PAGE).get_page(request.GET.get("page"))
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
    if scope == Scope.EVERYWHERE and request.POST.get("confirm") != "yes":
        # Do-not-call everywhere reaches every campaign and every upload to come: the
        # caller says so twice (the page's script asks in place; without it, this page).
        return render(
            request,
            "campaigns/confirm_everywhere.html",
            _context(
                request,
                campaign,
                "contacts",
                phone=phone,
                reason=request.POST.get("reason", ""),
                next=_back(request, campaign).url,
            ),
        )
    where = "in every campaign" if scope == Scope.EVERYWHERE else "on every contact carrying it"
    _run(
        request,
        lambda: services.campaign_phone_disqualify(
            phone=phone, by=request.user, reason=request.POST.get("reason", ""), scope=scope
        ),
        f"{display_number(phone.number)} is disqualified {where}.",
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
    contact = get_object_or_404(
        Contact.objects.select_related("account", "phone", "mobile"),
        campaign=campaign,
        pk=contact_id,
    )
    try:
        entry = calling.contact_outcome_log(
            contact=contact,
            by=request.user,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            callback_at=request.POST.get("callback_at", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, campaign)
    when = ""
    if entry.callback_at is not None:
        zone = calling.lead_zone(contact, calling.lead_number(contact))
        when = f": call back {local_label(entry.callback_at, zone)}"
    messages.success(request, f"Outcome logged for {contact}{when}.")
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


@login_required(login_url="campaigns:login")
def campaign_export(request: HttpRequest, campaign_id: int) -> HttpResponseBase:
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("Only Administrators export campaigns.")
    return contacts_csv(_campaign(request, campaign_id))
