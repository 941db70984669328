"""SMS conversations: every write for replies, keywords and delivery status
(docs/messaging.md).

A reply is stored as an outbound ``Message`` (``pending``) and committed before the
provider is called, outside any transaction; the provider's answer is then applied to
that row. So a send is never lost, and a send whose answer never came (a timeout after
the request left) is kept as ``unknown`` and never sent again automatically: the
customer must not get the text twice. Its status callback, which carries the row's id
in its URL, settles it. Only answers that say the provider certainly did not take the
message (rate limited, 5xx, no connection) are retried, with backoff, by a task that
first claims the attempt, so two deliveries of the task send once.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.models import Customer
from crm.optout import phone_number_sms_opt_out_set
from crm.providers import get_provider
from telephony import inbox, selectors, services
from telephony.models import DEFAULT_SMS_HELP_TEXT, Direction, Message, TelephonySettings
from telephony.parties import party_identify
from telephony.providers.messaging import MessagingRejected, MessagingRetryable

MAX_BODY = 1600  # Twilio's limit for one message, concatenated segments included
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 600

# Twilio's standard keywords for long codes (docs/messaging.md, "Opt-out").
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP"})
OPTED_OUT_REPLY = (
    "You have been unsubscribed and will receive no more messages from us. "
    "Reply START to receive them again."
)
OPTED_IN_REPLY = "You will receive our messages again. Reply STOP to stop them."

# Delivery moves one way: queued < sending < sent < delivered/undelivered/failed (Twilio's
# order); a callback that arrives late or out of order never moves a message back.
STATUS_RANK: dict[str, int] = {
    Message.Status.PENDING: 0,
    Message.Status.UNKNOWN: 0,
    Message.Status.ACCEPTED: 1,
    Message.Status.SCHEDULED: 1,
    Message.Status.QUEUED: 2,
    Message.Status.SENDING: 3,
    Message.Status.SENT: 4,
    Message.Status.DELIVERED: 5,
    Message.Status.UNDELIVERED: 5,
    Message.Status.FAILED: 5,
    Message.Status.CANCELED: 5,
    Message.Status.READ: 6,
}
FAILED_STATUSES = frozenset(
    {Message.Status.UNDELIVERED, Message.Status.FAILED, Message.Status.CANCELED}
)
OUTBOUND_STATUSES = frozenset(STATUS_RANK) - {Message.Status.PENDING, Message.Status.UNKNOWN}


class SendRefused(Exception):
    """A reply that must not go (opted out, no SMS number, nothing to send from)."""


def sms_keyword(body: str) -> str | None:
    """``"stop"``, ``"start"`` or ``"help"`` when the whole message is such a keyword."""
    word = body.strip().strip(".!").strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "stop"
    if word in OPT_IN_KEYWORDS:
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return None


@transaction.atomic
def message_receive(*, external_id: str, from_number: str, to_number: str, body: str) -> str:
    """An inbound SMS: record it and apply its keyword in one transaction. Returns the
    text to answer with ("" for none). A retried webhook applies nothing twice."""
    keyword = sms_keyword(body)
    recorded = services.message_record(
        external_id=external_id,
        direction=Direction.INBOUND,
        from_number=from_number,
        to_number=to_number,
        body=body,
        awaits_reply=keyword is None,
    )
    config = TelephonySettings.cached()
    if keyword is None:
        return config.sms_auto_reply
    sender = party_identify(from_number).e164
    if recorded.created and sender and keyword in ("stop", "start"):
        phone_number_sms_opt_out_set(
            e164=sender,
            opted_out=keyword == "stop",
            cause=f"texted {body.strip()[:20]} ({external_id})",
        )
    if keyword == "stop":
        return OPTED_OUT_REPLY
    if keyword == "start":
        return OPTED_IN_REPLY
    return config.sms_help_text or DEFAULT_SMS_HELP_TEXT


def status_callback_url(base: str, message_id: int) -> str:
    """Where the provider reports delivery; the row's id lets a callback settle a message
    whose send answer never arrived."""
    base = (settings.TWILIO_WEBHOOK_BASE_URL or base).rstrip("/")
    return f"{base}/webhooks/twilio/sms/status/?message={message_id}" if base else ""


def message_send(
    *, customer: Customer, body: str, to: str | None = None, by: Actor, callback_base: str = ""
) -> Message:
    """Send ``body`` to the customer; returns the stored outbound message, whatever the
    provider said. Raises ``ValidationError`` for a bad body, ``SendRefused`` with the
    reason when the reply must not go."""
    text = body.replace("\x00", "").strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationError("Write a message to send.")
    if len(text) > MAX_BODY:
        raise ValidationError(f"A text is at most {MAX_BODY} characters (this one {len(text)}).")
    route = selectors.sms_route(customer=customer, to=to)
    if route.refusal:
        raise SendRefused(route.refusal)
    message = _message_store(customer=customer, route=route, body=text, by=by)
    return _attempt(message, attempt=1, callback=status_callback_url(callback_base, message.pk))


@transaction.atomic
def _message_store(
    *, customer: Customer, route: selectors.SmsRoute, body: str, by: Actor
) -> Message:
    now = timezone.now()
    message = Message.objects.create(
        customer=customer,
        direction=Direction.OUTBOUND,
        from_number=route.from_e164,
        to_number=route.to_e164,
        external_id=None,
        status=Message.Status.PENDING,
        body=body,
        sent_at=now,
        sent_by=acting_user(by),
    )
    # A reply is an interaction too; now is later than anything counted before it.
    Customer.objects.filter(pk=customer.pk).update(
        interaction_count=F("interaction_count") + 1,
        first_interaction_at=Coalesce(
            "first_interaction_at", Value(now, output_field=DateTimeField())
        ),
        last_interaction_at=now,
    )
    return message


def message_send_retry(*, message_id: int, attempt: int, callback: str) -> Message | None:
    """Send again a message the provider certainly did not take (the task's body)."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    return _attempt(message, attempt=attempt, callback=callback)


def _attempt(message: Message, *, attempt: int, callback: str) -> Message:
    # The claim: only the one who moves attempts from attempt - 1 sends, so a task
    # delivered twice (or a retry racing the first send) texts the customer once.
    claimed = Message.objects.filter(
        pk=message.pk,
        status=Message.Status.PENDING,
        external_id__isnull=True,
        attempts=attempt - 1,
    ).update(attempts=attempt)
    if not claimed:
        message.refresh_from_db()
        return message
    provider = get_provider("MESSAGING_PROVIDER")
    try:
        answer = provider.send(message.from_number, message.to_number, message.body, callback)
    except MessagingRejected as exc:
        _failed(message, code=exc.code, reason=exc.message)
        if exc.opted_out:
            phone_number_sms_opt_out_set(
                e164=message.to_number,
                opted_out=True,
                cause=f"the provider refused a reply: recipient unsubscribed ({exc.code})",
            )
    except MessagingRetryable as exc:
        _retry_later(message, attempt=attempt, callback=callback, exc=exc)
    except Exception as exc:
        Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
            status=Message.Status.UNKNOWN,
            error_message=(
                "The provider did not confirm this message and may have sent it: it is not "
                f"sent again automatically; its status callback will settle it. ({exc})"
            )[:255],
        )
    else:
        _answered(
            message,
            external_id=getattr(answer, "external_id", None),
            status=getattr(answer, "status", None),
        )
    message.refresh_from_db()
    return message


def _answered(message: Message, *, external_id: object, status: object) -> None:
    sid = str(external_id or "")[:64] or None
    status = str(status or "").lower()
    if status not in OUTBOUND_STATUSES:
        status = Message.Status.ACCEPTED  # taken, in words we do not know
    with transaction.atomic():
        try:
            with transaction.atomic():
                Message.objects.filter(pk=message.pk, external_id__isnull=True).update(
                    external_id=sid
                )
        except IntegrityError:
            # Another row already holds that id (a provider reusing ids): keep ours
            # without it rather than lose the send.
            Message.objects.filter(pk=message.pk).update(
                error_message=f"The provider answered an id another message holds: {sid}"
            )
        # Its status callback may have arrived first: never move the status back.
        _advance(Message.objects.filter(pk=message.pk), status)
        if message.customer_id is not None and status not in FAILED_STATUSES:
            inbox.conversation_answered(customer_id=message.customer_id, at=message.sent_at)


def _failed(message: Message, *, code: str, reason: str) -> None:
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, error_code=str(code)[:16], error_message=reason[:255]
    )


def _retry_later(message: Message, *, attempt: int, callback: str, exc: MessagingRetryable) -> None:
    if attempt >= MAX_ATTEMPTS:
        _failed(message, code="", reason=f"Not sent after {attempt} attempts: {exc}")
        return
    delay = exc.retry_after or RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    delay = min(max(delay, 1.0), RETRY_MAX_SECONDS)
    Message.objects.filter(pk=message.pk).update(
        error_message=f"{exc} (attempt {attempt}; next in {delay:.0f} s)"[:255]
    )
    from telephony import tasks

    # Queued directly, not on commit: this runs outside any transaction (the provider was
    # just called), so the row the task reads is already committed.
    tasks.message_send_retry.apply_async(
        kwargs={"message_id": message.pk, "attempt": attempt + 1, "callback": callback},
        countdown=delay,
    )


def _advance(messages: Any, status: str) -> int:
    """Move these messages to ``status`` where that is forward; returns how many moved."""
    rank = STATUS_RANK[status]
    earlier = [s for s, r in STATUS_RANK.items() if r < rank]
    if status == Message.Status.READ:
        earlier = [s for s in earlier if STATUS_RANK[s] < 5] + [Message.Status.DELIVERED]
    return messages.filter(status__in=earlier).update(status=status)


@dataclass(frozen=True)
class StatusReport:
    external_id: str
    status: str
    error_code: str = ""
    message_id: int | None = None  # from the callback URL (``?message=``)


@transaction.atomic
def message_status_update(*, report: StatusReport) -> bool:
    """Twilio's status callback for an outbound message; idempotent and one-way. Returns
    whether a message of ours was found."""
    if (
        report.message_id is not None
        and not Message.objects.filter(external_id=report.external_id).exists()
    ):
        # A send whose answer never came: the callback tells us which message it was.
        with transaction.atomic():
            Message.objects.filter(
                pk=report.message_id, direction=Direction.OUTBOUND, external_id__isnull=True
            ).update(external_id=report.external_id)
    messages = Message.objects.filter(external_id=report.external_id, direction=Direction.OUTBOUND)
    row = messages.values("pk", "customer_id", "status", "sent_at").first()
    if row is None:
        return False
    moved = _advance(messages, report.status)
    if moved and report.error_code:
        messages.update(error_code=report.error_code[:16])
    if moved and row["status"] in (Message.Status.PENDING, Message.Status.UNKNOWN):
        messages.update(error_message="")
        if row["customer_id"] is not None and report.status not in FAILED_STATUSES:
            inbox.conversation_answered(customer_id=row["customer_id"], at=row["sent_at"])
    return True
