"""Twilio webhooks: voice, voice status callback, SMS and its status callback (form-encoded
in, TwiML out).

Views only check the request (signature, parameters) and call the linking services.
Anything malformed is a 400 with the reason in plain text, so it shows in Twilio's
debugger; a bad or missing signature is a 403 and nothing is stored.
"""

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache, wraps
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    QueryDict,
)
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from crm.inputs import moment_problem, post_as_sent
from telephony import answering, messaging, outbound, services, voicemail
from telephony.models import Call, Channel, Direction, TelephonySettings

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
TRANSCRIPTION_SID = re.compile(r"^TR[0-9a-fA-F]{32}$")
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
MAX_TRANSCRIPT = 20_000
TWILIO_DIRECTIONS = {
    "inbound": Direction.INBOUND,
    "outbound-api": Direction.OUTBOUND,
    "outbound-dial": Direction.OUTBOUND,
    "outbound": Direction.OUTBOUND,
}
MAX_BODY = messaging.MAX_BODY


class BadWebhook(Exception):
    """A parameter is missing or malformed: the message says which and why."""


def _twiml(content: object) -> HttpResponse:
    return HttpResponse(str(content), content_type="text/xml; charset=utf-8")


def signature_url(request: HttpRequest) -> str:
    """The URL exactly as Twilio requested it: what the signature was computed over.

    Behind a proxy that rewrites host or scheme, ``TWILIO_WEBHOOK_BASE_URL`` says what
    Twilio sees (e.g. ``https://crm.example.com``).
    """
    base = settings.TWILIO_WEBHOOK_BASE_URL
    if base:
        return base.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def signature_is_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        # Development without Twilio credentials accepts unsigned requests; production
        # fails closed (the telephony.I001 deploy check says why).
        return not settings.PRODUCTION
    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not signature:
        return False
    # Signed over the parameters as sent, before the NUL stripping every input gets.
    return signature_matches(token, signature_url(request), post_as_sent(request), signature)


def signature_matches(token: str, url: str, params: QueryDict, signature: str) -> bool:
    """Twilio's X-Twilio-Signature check (HMAC-SHA1 of the URL and the sorted parameters,
    base64), as ``twilio.request_validator.RequestValidator.validate`` does it for a form
    body, in a fraction of its time: this runs on every webhook, refused ones included.

    Twilio may have signed the URL with or without its port: the URL as requested is
    tried first, then the other form, as the library does.
    """
    payload = "".join(
        name + value for name in sorted(params) for value in sorted(set(params.getlist(name)))
    ).encode()
    key, expected = token.encode(), signature.encode()

    def signs(candidate: str) -> bool:
        mac = hmac.new(key, candidate.encode() + payload, hashlib.sha1)
        return hmac.compare_digest(base64.b64encode(mac.digest()), expected)

    if signs(url):
        return True
    other = _other_url_form(url)
    return other is not None and signs(other)


def _other_url_form(url: str) -> str | None:
    """``url`` with its port removed, or the scheme's default port added."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port out of range: only the URL as given can match
        return None
    if port:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))
    default = 443 if parts.scheme == "https" else 80
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))


def twilio_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if not signature_is_valid(request):
            return HttpResponseForbidden(
                "Invalid or missing X-Twilio-Signature.", content_type="text/plain"
            )
        account = settings.TWILIO_ACCOUNT_SID
        if account and request.POST.get("AccountSid", account) != account:
            return HttpResponseForbidden(
                "AccountSid is not this account.", content_type="text/plain"
            )
        try:
            return view(request)
        except BadWebhook as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")

    return csrf_exempt(require_POST(wrapper))


def _required(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "").strip()
    if not value:
        raise BadWebhook(f"{name}: missing.")
    return value


def _sid(request: HttpRequest, name: str, pattern: re.Pattern[str]) -> str:
    value = _required(request, name)
    if not pattern.match(value):
        raise BadWebhook(f"{name}: {value[:40]!r} is not a Twilio SID of the expected kind.")
    return value


def _direction(request: HttpRequest) -> str:
    value = request.POST.get("Direction", "inbound").strip()
    try:
        return TWILIO_DIRECTIONS[value]
    except KeyError:
        raise BadWebhook(f"Direction: {value[:40]!r} is not a Twilio call direction.") from None


def _parties(request: HttpRequest) -> tuple[str, str]:
    """(From, To) as sent: the linking service decides what identifies a person, and a
    withheld or non-phone caller is still answered (telephony/parties.py)."""
    return _required(request, "From"), request.POST.get("To", "").strip()


def _call_status(request: HttpRequest, *, required: bool) -> str | None:
    value = request.POST.get("CallStatus", "").strip()
    if not value:
        if required:
            raise BadWebhook("CallStatus: missing.")
        return None
    if value not in Call.Status.values:
        raise BadWebhook(f"CallStatus: {value[:40]!r} is not a Twilio call status.")
    return value


def _duration(request: HttpRequest) -> int | None:
    value = request.POST.get("CallDuration", "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 7:
        raise BadWebhook(f"CallDuration: {value[:40]!r} is not a number of seconds.")
    return int(value)


def _timestamp(request: HttpRequest) -> datetime | None:
    value = request.POST.get("Timestamp", "").strip()
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BadWebhook(f"Timestamp: {value[:60]!r} is not an RFC 2822 date.") from None
    if parsed.tzinfo is None:
        raise BadWebhook(f"Timestamp: {value[:60]!r} has no time zone.")
    problem = moment_problem(parsed)
    if problem:
        raise BadWebhook(f"Timestamp: {value[:60]!r} {problem}")
    return parsed


@twilio_webhook
def voice(request: HttpRequest) -> HttpResponse:
    """A call is ringing: link it to its customer, then answer with the greeting/Dial."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    direction = _direction(request)
    from_number, to_number = _parties(request)
    status = _call_status(request, required=False) or Call.Status.RINGING
    # Business hours and forward-to decide (docs/voice.md); read before storing the call
    # so the call says whether it went to voicemail, in the same write.
    answer = answering.answer_for(TelephonySettings.cached())
    services.call_record(
        external_id=call_sid,
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        channel=Channel.TWILIO,
        facts=services.CallFacts(status=status, voicemail=answer.voicemail or None),
        caller_name=request.POST.get("CallerName", "").strip(),
    )
    return _twiml(answering.answer_twiml(answer, _callbacks(request)))


def _callbacks(request: HttpRequest) -> answering.Callbacks:
    """Absolute callback URLs on the host Twilio called (what it signs them with)."""
    base = settings.TWILIO_WEBHOOK_BASE_URL
    return _callbacks_on(base.rstrip("/") if base else f"{request.scheme}://{request.get_host()}")


@lru_cache(maxsize=32)
def _callbacks_on(base: str) -> answering.Callbacks:
    # Three reverse() calls on every voice webhook cost more than the rest of its view.
    return answering.Callbacks(
        recording=base + reverse("telephony:twilio-voice-recording"),
        transcription=base + reverse("telephony:twilio-voice-transcription"),
        dial_done=base + reverse("telephony:twilio-voice-dial-done"),
    )


@twilio_webhook
def voice_dial_done(request: HttpRequest) -> HttpResponse:
    """The forward ended (<Dial action>): an unanswered forward goes to voicemail."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    dial_status = request.POST.get("DialCallStatus", "").strip()
    if dial_status not in DIAL_STATUSES:
        raise BadWebhook(f"DialCallStatus: {dial_status[:40]!r} is not a Twilio dial status.")
    if dial_status not in ("completed", "answered"):
        # One UPDATE by the unique CallSid; no call (never stored) changes nothing.
        Call.objects.filter(external_id=call_sid).update(voicemail=True)
    config = TelephonySettings.cached()
    return _twiml(answering.dial_done_twiml(dial_status, config.greeting, _callbacks(request)))


def _recording(request: HttpRequest, *, required: bool) -> voicemail.Recording | None:
    call_sid = _sid(request, "CallSid", CALL_SID)
    raw_sid = request.POST.get("RecordingSid", "").strip()
    if not raw_sid and not required:
        return None
    recording_sid = _sid(request, "RecordingSid", RECORDING_SID)
    url = _required(request, "RecordingUrl")
    if len(url) > 500 or not url.startswith("https://"):
        raise BadWebhook(f"RecordingUrl: {url[:60]!r} is not an https URL.")
    seconds_raw = request.POST.get("RecordingDuration", "").strip()
    if seconds_raw and (not seconds_raw.isdigit() or len(seconds_raw) > 7):
        raise BadWebhook(f"RecordingDuration: {seconds_raw[:40]!r} is not a number of seconds.")
    return voicemail.Recording(
        call_sid=call_sid,
        recording_sid=recording_sid,
        url=url,
        seconds=int(seconds_raw) if seconds_raw else None,
    )


@twilio_webhook
def voice_recording(request: HttpRequest) -> HttpResponse:
    """recordingStatusCallback of the voicemail <Record>: the recording is ready."""
    status = request.POST.get("RecordingStatus", "completed").strip()
    if status != "completed":
        # "absent" (nothing said) or "failed": nothing to play; the call stays missed.
        _sid(request, "CallSid", CALL_SID)
        return _twiml(VoiceResponse())
    recording = _recording(request, required=True)
    assert recording is not None
    voicemail.call_recording_store(recording=recording)
    return _twiml(VoiceResponse())


@twilio_webhook
def voice_transcription(request: HttpRequest) -> HttpResponse:
    """transcribeCallback of the voicemail <Record>: Twilio's transcription."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    status = request.POST.get("TranscriptionStatus", "completed").strip()
    text = request.POST.get("TranscriptionText", "")
    if len(text) > MAX_TRANSCRIPT:
        raise BadWebhook(f"TranscriptionText: longer than {MAX_TRANSCRIPT} characters.")
    if status != "completed":
        text = "(Twilio could not transcribe this voicemail.)"
    voicemail.call_transcript_store(
        call_sid=call_sid, text=text, recording=_recording(request, required=False)
    )
    return _twiml(VoiceResponse())


@twilio_webhook
def voice_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback: the call's status, and at the end its duration and end."""
    call_sid = _sid(request, "CallSid", CALL_SID)
    status = _call_status(request, required=True)
    duration = _duration(request)
    timestamp = _timestamp(request)
    if request.POST.get("ParentCallSid"):
        # A child leg (our <Dial> to an agent's phone) is not a customer's call; its
        # parent carries the customer's status and duration.
        return _twiml(VoiceResponse())
    direction = _direction(request)
    from_number, to_number = _parties(request)
    final = status in Call.FINAL_STATUSES
    services.call_record(
        external_id=call_sid,
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        channel=Channel.TWILIO,
        facts=services.CallFacts(
            status=status,
            duration_seconds=duration,
            ended_at=(timestamp or timezone.now()) if final else None,
        ),
        caller_name=request.POST.get("CallerName", "").strip(),
    )
    return _twiml(VoiceResponse())


@twilio_webhook
def sms(request: HttpRequest) -> HttpResponse:
    """An inbound SMS: link it (the SMS rules), store it, apply STOP/START/HELP, and answer
    with the keyword's reply or the auto-reply if any."""
    message_sid = _sid(request, "MessageSid", MESSAGE_SID)
    from_number, to_number = _parties(request)
    body = request.POST.get("Body", "")
    if len(body) > MAX_BODY:
        raise BadWebhook(f"Body: longer than {MAX_BODY} characters.")
    reply = messaging.message_receive(
        external_id=message_sid, from_number=from_number, to_number=to_number, body=body
    )
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return _twiml(response)


@twilio_webhook
def sms_status(request: HttpRequest) -> HttpResponse:
    """Delivery status of an outbound SMS (the StatusCallback we gave with it)."""
    message_sid = _sid(request, "MessageSid", MESSAGE_SID)
    status = request.POST.get("MessageStatus", "").strip().lower()
    if status not in messaging.STATUS_RANK or status in ("pending", "unknown"):
        raise BadWebhook(f"MessageStatus: {status[:40]!r} is not a Twilio message status.")
    error_code = request.POST.get("ErrorCode", "").strip()
    if error_code and (not error_code.isdigit() or len(error_code) > 16):
        raise BadWebhook(f"ErrorCode: {error_code[:40]!r} is not a Twilio error code.")
    ours = request.GET.get("message", "")
    if ours and (not ours.isdigit() or len(ours) > 18):
        raise BadWebhook(f"message: {ours[:40]!r} is not a message id.")
    messaging.message_status_update(
        report=messaging.StatusReport(
            external_id=message_sid,
            status=status,
            error_code=error_code,
            message_id=int(ours) if ours else None,
        )
    )
    # An id we do not know is answered 200 too: Twilio has nothing to retry.
    return _twiml(MessagingResponse())


@twilio_webhook
def voice_outbound(request: HttpRequest) -> HttpResponse:
    """Progress of a click-to-call (docs/dialing.md): completes the outbound ``Call``.

    Only the status, duration and end are read: the parties of the first leg are the
    caller's own phone and the caller ID, never the lead the call is about.
    """
    call_sid = _sid(request, "CallSid", CALL_SID)
    # The "initiated" event reports a call Twilio has accepted and not yet rung.
    initiated = request.POST.get("CallStatus", "").strip() == "initiated"
    status = Call.Status.QUEUED if initiated else _call_status(request, required=True)
    duration = _duration(request)
    timestamp = _timestamp(request)
    raw_call = request.GET.get("call", "")
    call_id = int(raw_call) if raw_call.isdigit() and len(raw_call) < 19 else None
    if request.POST.get("ParentCallSid"):
        return _twiml(VoiceResponse())
    final = status in Call.FINAL_STATUSES
    outbound.outbound_call_progress(
        external_id=call_sid,
        call_id=call_id,
        progress=outbound.Progress(
            status=status or Call.Status.QUEUED,
            duration_seconds=duration,
            ended_at=(timestamp or timezone.now()) if final else None,
        ),
    )
    return _twiml(VoiceResponse())
