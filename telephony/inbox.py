"""The SMS inbox: every write to a customer's conversation (docs/messaging.md, "Inbox").

One ``Conversation`` row per customer holds the state. An inbound message (not a keyword
the webhook already answered) opens it and marks it awaiting a reply, in the linking
transaction; a reply sent to the customer takes it out of the default list; an agent
assigns and resolves it. Reads are in ``telephony.selectors``.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.models import Customer
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


# The conversation's state a merge may fold into the kept profile's, and an undo restores.
_STATE = ("status", "awaiting_reply", "assigned_to_id", "last_message_at", "last_inbound_at")
_MOMENTS = ("last_message_at", "last_inbound_at", "resolved_at")


def _state(conversation: Conversation) -> dict[str, Any]:
    state = {name: getattr(conversation, name) for name in (*_STATE, "resolved_at")}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in state.items()}


def _restored(state: dict[str, Any]) -> dict[str, Any]:
    return {k: parse_datetime(v) if k in _MOMENTS and v else v for k, v in state.items()}


class ConversationMerge:
    """A merge gives the kept profile one conversation (crm/merge_parts.py).

    When only the merged profile has one, it moves. When both do, they become the kept
    one: the latest times, open if either is, awaiting a reply if either does (a text
    nobody answered is never lost to a merge), assigned as the kept one was unless it was
    nobody's. The undo moves a moved row back, or gives the merged profile its own again
    and, if nothing came in since, the kept one its state before.
    """

    key = "telephony-conversation"

    def merged(self, *, keep: Customer, merge: Customer) -> dict[str, Any]:
        theirs = Conversation.objects.select_for_update().filter(customer=merge).first()
        if theirs is None:
            return {}
        moved = {"moved": {"SMS conversations": 1}}
        mine = Conversation.objects.select_for_update().filter(customer=keep).first()
        if mine is None:
            Conversation.objects.filter(pk=theirs.pk).update(customer=keep)
            return {"conversation": theirs.pk, **moved}
        before, folded = _state(mine), _state(theirs)
        mine.last_message_at = max(mine.last_message_at, theirs.last_message_at)
        inbound = [t for t in (mine.last_inbound_at, theirs.last_inbound_at) if t]
        mine.last_inbound_at = max(inbound) if inbound else None
        mine.awaiting_reply = mine.awaiting_reply or theirs.awaiting_reply
        if Conversation.Status.OPEN in (mine.status, theirs.status):
            mine.status, mine.resolved_at = Conversation.Status.OPEN, None
        mine.assigned_to_id = mine.assigned_to_id or theirs.assigned_to_id
        theirs.delete()
        mine.save()
        return {"kept_before": before, "merged": folded, "kept_after": _state(mine), **moved}

    def undone(self, *, kept: Customer, merged: Customer, data: dict[str, Any]) -> dict[str, int]:
        if "conversation" in data:
            back = Conversation.objects.filter(pk=data["conversation"], customer=kept).update(
                customer=merged
            )
            return {"SMS conversations": back}
        mine = Conversation.objects.select_for_update().filter(customer=kept).first()
        if mine is not None and _state(mine) == data["kept_after"]:
            for name, value in _restored(data["kept_before"]).items():
                setattr(mine, name, value)
            mine.save()
        Conversation.objects.update_or_create(customer=merged, defaults=_restored(data["merged"]))
        return {"SMS conversations": 1}
