"""Outbound calls placed by click-to-call (docs/dialing.md): every one is a ``Call``.

The call row is written before the provider is asked (so a status callback that arrives
before the provider's answer finds it, through the ``call`` parameter of its URL), the
provider is called outside any transaction, and its answer is applied in a short one.
A provider that raises leaves the call recorded as failed, with the reason.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from crm.providers import get_provider
from crm.selectors import customers_holding
from telephony.models import Call, Channel, Direction

PENDING_PREFIX = "pending-"
# A status only moves forward: a late "ringing" never reopens a call in progress.
_STATUS_RANK: dict[str, int] = {
    Call.Status.QUEUED.value: 0,
    Call.Status.RINGING.value: 1,
    Call.Status.IN_PROGRESS.value: 2,
}


class OutboundCallFailed(Exception):
    def __init__(self, reason: str, call: Call) -> None:
        super().__init__(reason)
        self.reason = reason
        self.call = call


@dataclass(frozen=True)
class Progress:
    status: str
    duration_seconds: int | None = None
    ended_at: datetime | None = None


@transaction.atomic
def outbound_call_create(*, from_e164: str, lead_e164: str) -> Call:
    """The call about to be placed, linked by the lead's number to the customer profile
    holding it (if any): the profile's history shows calls made to it."""
    holder = customers_holding([lead_e164]).get(lead_e164)
    return Call.objects.create(
        customer=holder,
        direction=Direction.OUTBOUND,
        channel=Channel.TWILIO,
        from_number=from_e164,
        to_number=lead_e164,
        external_id=f"{PENDING_PREFIX}{uuid.uuid4().hex}",
        status=Call.Status.QUEUED,
        started_at=timezone.now(),
    )


def outbound_call_place(*, call: Call, caller_phone: str, status_callback: str) -> Call:
    """Ask ``VOICE_PROVIDER`` to ring the caller's phone, then bridge to the lead.

    ``status_callback`` is the absolute URL of ``/webhooks/twilio/voice/outbound/``; this
    call's id is added to it. Raises OutboundCallFailed (the call kept as failed).
    """
    url = f"{status_callback}{'&' if '?' in status_callback else '?'}{urlencode({'call': call.pk})}"
    try:
        answer = get_provider("VOICE_PROVIDER").call(
            call.from_number, caller_phone, call.to_number, url
        )
        external_id = str(answer.external_id)[:64]
        status = str(getattr(answer, "status", "") or Call.Status.QUEUED)
        if not external_id:
            raise ValueError("the provider answered without a call id")
    except Exception as exc:  # any exception is a call that did not start (docs/providers.md)
        reason = str(exc)[:200] or exc.__class__.__name__
        Call.objects.filter(pk=call.pk).update(
            status=Call.Status.FAILED, ended_at=timezone.now(), reason=reason
        )
        call.refresh_from_db()
        raise OutboundCallFailed(reason, call) from exc
    if status not in Call.Status.values:
        status = Call.Status.QUEUED
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.external_id.startswith(PENDING_PREFIX):
            locked.external_id = external_id
            locked.save(update_fields=["external_id", "updated_at"])
    duration = getattr(answer, "duration_seconds", None)
    ended = timezone.now() if status in Call.FINAL_STATUSES else None
    outbound_call_progress(
        external_id=external_id,
        progress=Progress(status=status, duration_seconds=duration, ended_at=ended),
    )
    call.refresh_from_db()
    return call


@transaction.atomic
def outbound_call_progress(
    *, external_id: str, progress: Progress, call_id: int | None = None
) -> Call | None:
    """A status callback (or the provider's own answer): the call's status, and at the
    end its duration. Idempotent, and never backwards: a finished call stays finished."""
    call = Call.objects.select_for_update().filter(external_id=external_id).first()
    if call is None and call_id is not None:
        # The callback came before the provider's answer was stored: adopt its id.
        call = (
            Call.objects.select_for_update()
            .filter(
                pk=call_id,
                direction=Direction.OUTBOUND,
                external_id__startswith=PENDING_PREFIX,
            )
            .first()
        )
        if call is not None:
            call.external_id = external_id
            call.save(update_fields=["external_id", "updated_at"])
    if call is None or call.direction != Direction.OUTBOUND:
        return None
    changed: list[str] = []
    if call.status not in Call.FINAL_STATUSES and (
        progress.status in Call.FINAL_STATUSES
        or _STATUS_RANK.get(progress.status, -1) > _STATUS_RANK.get(call.status, -1)
    ):
        call.status = progress.status
        changed.append("status")
    if call.status in Call.FINAL_STATUSES and "status" in changed:
        if progress.duration_seconds is not None:
            call.duration_seconds = progress.duration_seconds
            changed.append("duration_seconds")
        call.ended_at = progress.ended_at or timezone.now()
        changed.append("ended_at")
    if changed:
        call.save(update_fields=[*changed, "updated_at"])
    return call
