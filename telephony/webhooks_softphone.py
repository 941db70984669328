"""The browser softphone's webhooks (telephony/softphone.py): the TwiML App's Voice URL and
its dial's callbacks. Signed and checked like every Twilio webhook (telephony/webhooks.py);
a call that may not be placed is answered with the reason spoken, then a hang-up (an HTTP
error would only make Twilio say "an application error has occurred")."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from telephony import softphone
from telephony.webhooks import (
    CALL_SID,
    BadWebhook,
    _call_status,
    _duration,
    _required,
    _sid,
    _twiml,
    twilio_webhook,
)

MAX_TICKET = 1000


def _status_url(request: HttpRequest) -> str:
    path = reverse("telephony:twilio-voice-softphone-status")
    base = settings.TWILIO_WEBHOOK_BASE_URL
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


def _call_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("call", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@twilio_webhook
def softphone_voice(request: HttpRequest) -> HttpResponse:
    """The browser connected: dial the lead of the call its ticket names."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    ticket = request.POST.get("ticket", "").strip()
    if len(ticket) > MAX_TICKET:
        raise BadWebhook("ticket: too long.")
    try:
        call = softphone.softphone_call_connect(
            call_sid=call_sid,
            client=_required(request, "From"),
            application_sid=request.POST.get("ApplicationSid", "").strip(),
            ticket=ticket,
        )
    except softphone.SoftphoneRefused as exc:
        return _twiml(softphone.refusal_twiml(str(exc)))
    return _twiml(softphone.softphone_twiml(call, _status_url(request)))


@twilio_webhook
def softphone_status(request: HttpRequest) -> HttpResponse:
    """The dial's end (``DialCallStatus``) or the lead leg's progress (``CallStatus`` with
    ``ParentCallSid``): moves the call forward, never back; unknown calls are ignored."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    dial_status = request.POST.get("DialCallStatus", "").strip()
    parent = request.POST.get("ParentCallSid", "").strip()
    if parent and not CALL_SID.match(parent):
        raise BadWebhook(f"ParentCallSid: {parent[:40]!r} is not a Twilio call SID.")
    if dial_status:
        status = softphone.DIAL_OUTCOMES.get(dial_status)
        if status is None:
            raise BadWebhook(f"DialCallStatus: {dial_status[:40]!r} is not a Dial outcome.")
        raw = request.POST.get("DialCallDuration", "").strip()
        duration = int(raw) if raw.isdigit() and len(raw) < 8 else None
        softphone.softphone_dial_progress(
            call_id=_call_id(request),
            call_sid=call_sid,
            parent_sid="",
            status=status,
            duration=duration,
        )
        response = VoiceResponse()
        response.hangup()
        return _twiml(response)
    if not parent:
        raise BadWebhook("ParentCallSid or DialCallStatus: missing.")
    softphone.softphone_dial_progress(
        call_id=_call_id(request),
        call_sid=call_sid,
        parent_sid=parent,
        status=_call_status(request, required=True) or "",
        duration=_duration(request),
    )
    return _twiml(VoiceResponse())
