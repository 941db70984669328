"""Voicemail and missed calls: writes (docs/voice.md).

Twilio's recording and transcription callbacks land on the ``Call`` by its CallSid; each is
idempotent (a retried callback writes the same values) and a CallSid we never stored is
logged and answered, since Twilio has nothing to retry.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from telephony.models import Call

logger = logging.getLogger("switchboard.telephony")


@dataclass(frozen=True)
class Recording:
    call_sid: str
    recording_sid: str
    url: str
    seconds: int | None


def call_recording_store(*, recording: Recording) -> bool:
    """Put the voicemail's recording on its call; False when the call is unknown."""
    updated = Call.objects.filter(external_id=recording.call_sid).update(
        recording_url=recording.url,
        recording_sid=recording.recording_sid,
        recording_seconds=recording.seconds,
        voicemail=True,
        updated_at=timezone.now(),
    )
    if not updated:
        logger.warning(
            "Recording %s for unknown call %s ignored", recording.recording_sid, recording.call_sid
        )
    return bool(updated)


def call_transcript_store(*, call_sid: str, text: str, recording: Recording | None) -> bool:
    """Put Twilio's transcription on its call (it may arrive before the recording's own
    callback, so it carries the recording too when it names one)."""
    fields: dict[str, object] = {"transcript": text, "voicemail": True}
    if recording is not None:
        # Never overwrite what the recording callback stored with a shorter description.
        with transaction.atomic():
            call = Call.objects.select_for_update().filter(external_id=call_sid).first()
            if call is None:
                logger.warning("Transcription for unknown call %s ignored", call_sid)
                return False
            if not call.recording_url:
                fields.update(recording_url=recording.url, recording_sid=recording.recording_sid)
            Call.objects.filter(pk=call.pk).update(**fields, updated_at=timezone.now())
            return True
    updated = Call.objects.filter(external_id=call_sid).update(**fields, updated_at=timezone.now())
    if not updated:
        logger.warning("Transcription for unknown call %s ignored", call_sid)
    return bool(updated)


def calls_mark_handled(
    *, call_ids: list[int], user: AbstractBaseUser, at: datetime | None = None
) -> int:
    """Mark these calls handled by ``user``; one already handled keeps who did it first."""
    return Call.objects.filter(pk__in=call_ids, handled_at__isnull=True).update(
        handled_at=at or timezone.now(), handled_by=user, updated_at=timezone.now()
    )
