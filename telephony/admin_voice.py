"""Missed calls and voicemails (a list to work through), and the voicemail player's proxy
(docs/voice.md)."""

from typing import Any

import urllib3
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from crm.formatting import datetime_cell, plural
from crm.phones import phone_link
from telephony import selectors, voicemail
from telephony.models import Call, MissedCall

# Twilio serves a recording as MP3 when the URL asks for it (smaller than the WAV default).
RECORDING_FORMAT = ".mp3"
_http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), retries=False)


def recording_player(call: Call) -> SafeString | str:
    """An <audio> element playing the call's voicemail through :func:`recording_proxy`."""
    if not call.recording_url:
        return ""
    src = reverse("admin:telephony_call_recording", args=[call.pk])
    seconds = f" ({call.recording_seconds} s)" if call.recording_seconds is not None else ""
    return format_html(
        '<audio class="sb-voicemail" controls preload="none" src="{}" '
        'aria-label="Voicemail{}"></audio>',
        src,
        seconds,
    )


def _recording_source(call: Call) -> str:
    """Twilio's media URL for the recording, only on Twilio's API host: the stored URL came
    from a webhook, and the server must not fetch wherever a request said."""
    url = call.recording_url
    base = settings.TWILIO_API_BASE_URL.rstrip("/") + "/"
    if not url.startswith(base):
        raise Http404("This recording is not on Twilio's API.")
    return url if url.endswith((".mp3", ".wav")) else url + RECORDING_FORMAT


def recording_proxy(request: HttpRequest, call_id: int) -> HttpResponse | StreamingHttpResponse:
    """Stream the voicemail from Twilio with the account's credentials (Twilio's media URLs
    need them when "HTTP basic authentication for media" is on, as it should be), so the
    browser never sees them. Range requests pass through, so the player can seek."""
    if not (
        request.user.has_perm("telephony.view_call")
        or request.user.has_perm("telephony.view_missedcall")
    ):
        raise PermissionDenied
    call = Call.objects.filter(pk=call_id).only("recording_url").first()
    if call is None or not call.recording_url:
        raise Http404("No recording for this call.")
    headers = {}
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        headers.update(
            urllib3.make_headers(
                basic_auth=f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}"
            )
        )
    if request.headers.get("Range", "").startswith("bytes="):
        headers["Range"] = request.headers["Range"][:100]
    try:
        upstream = _http.request(
            "GET", _recording_source(call), headers=headers, preload_content=False
        )
    except urllib3.exceptions.HTTPError as exc:
        return HttpResponse(
            f"Twilio did not answer: {type(exc).__name__}.", status=502, content_type="text/plain"
        )
    if upstream.status not in (200, 206):
        upstream.release_conn()
        return HttpResponse(
            f"Twilio answered {upstream.status} for this recording.",
            status=502,
            content_type="text/plain",
        )
    response = StreamingHttpResponse(
        upstream.stream(64 * 1024),
        status=upstream.status,
        content_type=upstream.headers.get("Content-Type", "audio/mpeg"),
    )
    for name in ("Content-Length", "Content-Range", "Accept-Ranges"):
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    response["Cache-Control"] = "private, max-age=3600"
    return response


@admin.register(MissedCall)
class MissedCallAdmin(admin.ModelAdmin):
    """Inbound calls nobody answered or that left a voicemail, oldest worry first: newest
    on top, gone from the list once someone marks them handled."""

    list_display = ("started", "customer_link", "caller", "what", "voicemail_player")
    list_display_links = None
    list_select_related = ("customer",)
    list_filter = ("status", "voicemail")
    actions = ["mark_handled"]
    list_per_page = 50

    class Media:
        css = {"all": ("telephony/history.css",)}

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # What the list is for, not Django's "Select missed call or voicemail to view".
        title = {"title": "Missed calls and voicemails to work through"}
        return super().changelist_view(request, {**title, **(extra_context or {})})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        return selectors.missed_calls().select_related("customer").order_by("-started_at", "-id")

    def get_urls(self) -> list[Any]:
        return [
            path(
                "recording/<int:call_id>/",
                self.admin_site.admin_view(recording_proxy),
                name="telephony_call_recording",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_handle_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("telephony.handle_call")

    @admin.action(description="Mark handled", permissions=["handle"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        done = voicemail.calls_mark_handled(
            call_ids=list(queryset.values_list("pk", flat=True)),
            user=request.user,  # type: ignore[arg-type]
        )
        self.message_user(
            request, f"{plural(done, 'call', 'calls')} marked handled.", messages.SUCCESS
        )

    @admin.display(description="When", ordering="started_at")
    def started(self, obj: Call) -> SafeString | str:
        return datetime_cell(obj.started_at)

    @admin.display(description="Customer")
    def customer_link(self, obj: Call) -> SafeString | str:
        if obj.customer is None:
            return "-"
        url = reverse("admin:crm_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    @admin.display(description="From")
    def caller(self, obj: Call) -> SafeString | str:
        if obj.caller_label != obj.from_number:
            return obj.caller_label
        return phone_link(obj.from_number)

    @admin.display(description="What happened")
    def what(self, obj: Call) -> SafeString | str:
        if obj.recording_url or obj.voicemail:
            kind = "Voicemail" if obj.recording_url else "Sent to voicemail, no message"
        else:
            kind = obj.get_status_display()
        if obj.transcript:
            return format_html(
                '{}<blockquote class="sb-transcript-line">{}</blockquote>', kind, obj.transcript
            )
        return kind

    @admin.display(description="Listen")
    def voicemail_player(self, obj: Call) -> SafeString | str:
        # A marker, not the admin's "-": on a phone a call without a voicemail shows no
        # player line (history.css).
        return recording_player(obj) or mark_safe('<span class="sb-no-voicemail"></span>')
