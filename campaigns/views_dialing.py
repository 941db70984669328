"""The caller workspace's "Start calling" flow (docs/dialing.md): lead, call, outcome, next.

Thin views over campaigns.dialing and campaigns.calling; each step is its own page, so
the flow works without JavaScript (the script only runs the call timer and shows the
callback time when a callback outcome is chosen).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns import calling, dialing, dnc, selectors, stats
from campaigns.api_dialing import status_callback_url
from campaigns.calling_window import is_lawful, local_label
from campaigns.models import CallAttempt, Contact, Outcome
from campaigns.views import _campaign, _context
from crm.models import StaffProfile
from crm.staff import staff_profile_save
from telephony import softphone

LOGIN = "campaigns:login"


def _history(contact: Contact) -> dict[str, object]:
    return {
        "attempts": list(
            CallAttempt.objects.filter(contact_id=contact.pk)
            .select_related("call", "outcome", "caller")
            .order_by("-created_at", "-id")[:10]
        ),
        "dispositions": list(
            contact.dispositions.select_related("by").order_by("-created_at", "-id")[:10]
        ),
    }


@login_required(login_url=LOGIN)
def dial(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The next lead for this caller (the one they hold, else the next in the queue)."""
    campaign = _campaign(request, campaign_id)
    dialing.campaign_outcomes_ensure(campaign=campaign)
    now = timezone.now()
    lead = dialing.lead_next(campaign=campaign, caller=request.user, now=now)
    profile = StaffProfile.objects.filter(user_id=dialing.caller_pk(request.user)).first()
    extra: dict[str, object] = {
        "profile": profile,
        "lawful": is_lawful(campaign.call_window_start, campaign.call_window_end),
        # The caller's own figures only: others' are on the admin's statistics page.
        "today": stats.caller_today(
            caller_id=dialing.caller_pk(request.user), campaign_id=campaign.pk
        ),
    }
    if isinstance(lead, dialing.NoLead):
        retry = lead.retry_at
        extra.update(none=lead, retry_label=timezone.localtime(retry) if retry else None)
    else:
        contact = lead.contact
        numbers = [p for p in (contact.phone, contact.mobile) if p is not None]
        listed = dnc.listed_numbers([p.number for p in numbers])
        extra.update(
            lead=lead,
            contact=contact,
            # The lead's numbers on the do-not-call list: shown, never with a Call button.
            do_not_call_phones=[p for p in numbers if p.number in listed],
            **_history(contact),
        )
    return render(request, "campaigns/dial.html", _context(request, campaign, "dial", **extra))


@require_POST
@login_required(login_url=LOGIN)
def dial_call(request: HttpRequest, campaign_id: int, contact_id: int) -> HttpResponse:
    campaign = _campaign(request, campaign_id)
    get_object_or_404(Contact, campaign=campaign, pk=contact_id)
    back = HttpResponseRedirect(reverse("campaigns:dial", args=[campaign.pk]))
    # "Call in browser" (telephony/softphone.py), only where it is configured.
    in_browser = request.POST.get("mode") == "browser" and softphone.softphone_available()
    try:
        started = calling.call_start(
            campaign=campaign,
            contact_id=contact_id,
            number=request.POST.get("number", ""),
            caller=request.user,
            status_callback=status_callback_url(request),  # type: ignore[arg-type]
            in_browser=in_browser,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return back
    except calling.CallRefused as exc:
        messages.error(request, f"Not called: {exc}")
        return back
    except calling.CallNotStarted as exc:
        messages.error(request, f"The call did not start: {exc.reason}")
        return back
    attempt_url = reverse("campaigns:dial-attempt", args=[campaign.pk, started.attempt.pk])
    return HttpResponseRedirect(attempt_url + ("?browser=1" if in_browser else ""))


def _attempt(request: HttpRequest, campaign_id: int, attempt_id: int) -> CallAttempt:
    campaign = _campaign(request, campaign_id)
    attempt = get_object_or_404(
        CallAttempt.objects.select_related("call", "outcome", "campaign"),
        campaign=campaign,
        pk=attempt_id,
    )
    if attempt.caller_id != request.user.pk and not request.user.has_perm(
        selectors.MANAGE_PERMISSION
    ):
        raise PermissionDenied("This call is another caller's.")
    return attempt


@login_required(login_url=LOGIN)
def dial_attempt(request: HttpRequest, campaign_id: int, attempt_id: int) -> HttpResponse:
    """While calling: the lead, the caller ID and why, a timer, then the outcome form."""
    attempt = _attempt(request, campaign_id, attempt_id)
    campaign = attempt.campaign
    contact = get_object_or_404(
        Contact.objects.select_related("account", "phone", "mobile"),
        campaign=campaign,
        pk=attempt.contact_id,
    )
    zone = calling.lead_zone(contact, attempt.number)
    now = timezone.now()
    outcomes = dialing.campaign_outcomes_ensure(campaign=campaign)
    return render(
        request,
        "campaigns/dial_call.html",
        _context(
            request,
            campaign,
            "dial",
            attempt=attempt,
            contact=contact,
            call=attempt.call,
            lead_zone=zone,
            lead_now=local_label(now, zone),
            call_outcomes=outcomes,
            callback_kind=Outcome.Kind.CALLBACK,
            **_history(contact),
        ),
    )


@require_POST
@login_required(login_url=LOGIN)
def dial_outcome(request: HttpRequest, campaign_id: int, attempt_id: int) -> HttpResponse:
    attempt = _attempt(request, campaign_id, attempt_id)
    if attempt.call is None:
        messages.error(request, "This call never started: nothing to log.")
        return HttpResponseRedirect(reverse("campaigns:dial", args=[campaign_id]))
    try:
        logged = calling.call_outcome_log(
            call=attempt.call,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
            callback_at=request.POST.get("callback_at", ""),
            by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(
            reverse("campaigns:dial-attempt", args=[campaign_id, attempt.pk])
        )
    text = f"Logged: {logged.outcome}"
    if logged.callback_at is not None:
        contact = Contact.objects.get(campaign_id=campaign_id, pk=logged.contact_id)
        zone = calling.lead_zone(contact, logged.number)
        text += f", call back {local_label(logged.callback_at, zone)}"
    messages.success(request, text + ". Next lead:")
    return HttpResponseRedirect(reverse("campaigns:dial", args=[campaign_id]))


@login_required(login_url=LOGIN)
def my_phone(request: HttpRequest) -> HttpResponse:
    """The caller's own phone, rung first by click-to-call, and their time zone."""
    profile = StaffProfile.objects.filter(user_id=dialing.caller_pk(request.user)).first()
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("campaigns:list")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = reverse("campaigns:list")
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            staff_profile_save(
                user=request.user,  # type: ignore[arg-type]
                phone=request.POST.get("phone", ""),
                time_zone=request.POST.get("time_zone", ""),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, "Saved: click-to-call rings your phone first.")
            return HttpResponseRedirect(next_url)
    return render(
        request,
        "campaigns/my_phone.html",
        {"profile": profile, "errors": errors, "next": next_url, "posted": request.POST},
    )
