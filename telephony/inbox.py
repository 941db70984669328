"""The SMS inbox: every write to a customer's conversation (docs/messaging.md, "Inbox").

One ``Conversation`` row per customer holds the state. An inbound message (not a keyword
the webhook already answered) opens it and marks it awaiting a reply, in the linking
transaction; a reply sent to the customer takes it out of the default list; an agent
assigns and resolves it. Reads are in ``telephony.selectors``.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from telephony.models import Conversation

# Who may be given a conversation: whoever may answer it.
INBOX_PERMISSION = "telephony.send_message"


def conversation_inbound(*, customer_id: int, at: datetime, awaits_reply: bool = True) -> None:
    """A message from the customer at ``at``: (re)open the conversation, awaiting a reply.

    Runs inside the linking transaction. Two first messages from two of the customer's
    numbers race on the one row: ``get_or_create`` lets the loser read the winner's.
    """
    conversation, created = Conversation.objects.get_or_create(
        customer_id=customer_id,
        defaults={"last_message_at": at, "last_inbound_at": at, "awaiting_reply": awaits_reply},
    )
    if created:
        return
    updates = {
        "last_message_at": Greatest("last_message_at", Value(at, output_field=DateTimeField())),
        "last_inbound_at": at,
        "updated_at": timezone.now(),
    }
    if awaits_reply:
        updates |= {"awaiting_reply": True, "status": Conversation.Status.OPEN, "resolved_at": None}
    # A late webhook for an older message never moves the conversation back in time.
    Conversation.objects.filter(pk=conversation.pk).filter(
        Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=at)
    ).update(**updates)


def conversation_answered(*, customer_id: int, at: datetime) -> None:
    """A reply went to the customer: the conversation no longer awaits one."""
    conversation, created = Conversation.objects.get_or_create(
        customer_id=customer_id, defaults={"last_message_at": at, "awaiting_reply": False}
    )
    if not created:
        Conversation.objects.filter(pk=conversation.pk).update(
            awaiting_reply=False,
            last_message_at=Greatest("last_message_at", Value(at, output_field=DateTimeField())),
            updated_at=timezone.now(),
        )


@transaction.atomic
def conversation_assign(*, conversation: Conversation, user_id: int | None) -> Conversation:
    """Give the conversation to an agent (``None``: to nobody)."""
    user = None
    if user_id is not None:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ValidationError(f"No active user with id {user_id}.")
        if not (user.is_staff and user.has_perm(INBOX_PERMISSION)):
            raise ValidationError(f"{user.get_username()} cannot answer SMS conversations.")
    conversation.assigned_to = user
    conversation.save(update_fields=["assigned_to", "updated_at"])
    return conversation


@transaction.atomic
def conversation_resolve(*, conversation: Conversation) -> Conversation:
    conversation.status = Conversation.Status.RESOLVED
    conversation.resolved_at = timezone.now()
    conversation.save(update_fields=["status", "resolved_at", "updated_at"])
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation: Conversation) -> Conversation:
    conversation.status = Conversation.Status.OPEN
    conversation.resolved_at = None
    conversation.save(update_fields=["status", "resolved_at", "updated_at"])
    return conversation
