"""The profile timeline's entries as HTML, built in Python (docs/pages.md, "Customer page").

The template engine cost ~0.4 ms an entry here (two dozen variable lookups, two date
filters, URL tags): with 20 entries it was the largest part of the page that a history
adds (docs/profiles/profile_page.md). ``format_html`` escapes every value as the template
did; the markup is the one ``_conversation.html`` had.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from crm.phones import phone_link
from telephony.selectors import TimelineEntry


def timeline_html(entries: Iterable[TimelineEntry], user_id: int | None) -> SafeString:
    """The ``<li>`` of each entry, newest first as given."""
    return mark_safe("".join(_entry(entry, user_id) for entry in entries))  # noqa: S308


def _entry(entry: TimelineEntry, user_id: int | None) -> str:
    item: Any = entry.item
    local = timezone.localtime(entry.at)
    if entry.kind == "call":
        body = _call(item)
    elif entry.kind == "note":
        body = _note(item, user_id)
    elif item.direction == "outbound":
        body = _sms_sent(item)
    else:
        body = _sms_received(item)
    direction = getattr(item, "direction", "")
    return format_html(
        '<li class="sb-entry sb-{}{}" data-kind="{}">\n<time datetime="{}">{}</time>\n{}</li>\n',
        entry.kind,
        f" sb-{direction}" if direction else "",
        entry.kind,
        date_filter(local, "c"),
        date_filter(local, "DATETIME_FORMAT"),
        body,
    )


def _far_end(item: Any) -> SafeString | str:
    label = item.caller_label
    return phone_link(item.from_number) if label == item.from_number else label


def _call(call: Any) -> SafeString:
    facts = format_html(
        "<strong>{} call</strong>\nfrom {}{} · {}{}",
        call.get_direction_display(),
        _far_end(call),
        format_html(" · {}", call.assistant) if call.assistant_id else "",
        call.get_status_display(),
        format_html(" · {} s", call.duration_seconds) if call.duration_seconds is not None else "",
    )
    if call.satisfaction:
        facts += format_html(' · <span title="satisfaction">{}/5</span>', call.satisfaction)
    if call.reason:
        facts += format_html(" · <em>{}</em>", call.reason)
    if call.recording_url:
        facts += format_html(
            '<div class="sb-voicemail-entry"><strong>Voicemail</strong>{}{}\n'
            '<audio class="sb-voicemail" controls preload="none" src="{}" '
            'aria-label="Voicemail of this call"></audio></div>',
            format_html(" · {} s", call.recording_seconds)
            if call.recording_seconds is not None
            else "",
            format_html(" · handled by {}", call.handled_by or "someone")
            if call.handled_at
            else "",
            reverse("admin:telephony_call_recording", args=[call.pk]),
        )
    elif call.voicemail:
        facts += mark_safe(' · <span class="sb-empty">sent to voicemail, no message</span>')
    if call.transcript:
        voicemail = bool(call.recording_url)
        facts += format_html(
            '\n<details class="sb-transcript"{}><summary>{}</summary><pre>{}</pre></details>',
            " open" if voicemail else "",
            "Voicemail transcription" if voicemail else "Transcript",
            call.transcript,
        )
    elif call.transcript_cleared_at:
        facts += mark_safe('<span class="sb-empty"> · transcript removed by retention</span>')
    return facts


def _note(note: Any, user_id: int | None) -> SafeString:
    try:
        link = note.call_link
    except ObjectDoesNotExist:
        link = None
    on_call = (
        format_html(
            ' on <a href="{}">a call</a>',
            reverse("admin:telephony_call_change", args=[link.call_id]),
        )
        if link is not None
        else ""
    )
    return format_html(
        "<strong>Note</strong> by {}{}{}{}\n<blockquote>{}</blockquote>",
        note.author or "a removed user",
        on_call,
        mark_safe(" · <em>edited</em>") if getattr(note, "edited", False) else "",
        format_html(' · <a href="{}">Edit</a>', reverse("admin:crm_note_change", args=[note.pk]))
        if user_id is not None and note.author_id == user_id
        else "",
        note.text,
    )


def _sms_sent(message: Any) -> SafeString:
    return format_html(
        "<strong>SMS sent</strong> to {}{}\n· "
        '<span class="sb-status sb-status-{}" data-status="{}">{}</span>\n'
        "<blockquote>{}</blockquote>{}",
        phone_link(message.to_number),
        format_html(" by {}", message.sent_by.get_username()) if message.sent_by else "",
        message.status,
        message.status,
        message.get_status_display(),
        message.body,
        format_html('\n<p class="sb-status-note">{}</p>', message.error_message)
        if message.error_message
        else "",
    )


def _sms_received(message: Any) -> SafeString:
    return format_html(
        "<strong>{} SMS</strong> from {}\n<blockquote>{}</blockquote>",
        message.get_direction_display(),
        _far_end(message),
        message.body or "(no text)",
    )
