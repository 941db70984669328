"""SMS opt-out on customers' numbers: the one write for STOP and START (docs/messaging.md)."""

from django.db import transaction
from django.utils import timezone

from crm.actors import Actor
from crm.models import PhoneNumber, PhoneNumberChange
from crm.services import phone_number_change_record


@transaction.atomic
def phone_number_sms_opt_out_set(
    *, e164: str, opted_out: bool, cause: str, actor: Actor = None
) -> int:
    """Opt ``e164`` out of SMS (STOP) or back in (START) on every profile holding it.

    A handset opts out, not a profile, so every row holding the number moves; rows already
    in that state keep their first date. Audited per profile. Returns the rows changed.
    """
    phones = list(
        PhoneNumber.objects.select_for_update()
        .filter(number=e164, sms_opted_out=not opted_out)
        .order_by("pk")
    )
    at = timezone.now() if opted_out else None
    action = (
        PhoneNumberChange.Action.SMS_OPT_OUT if opted_out else PhoneNumberChange.Action.SMS_OPT_IN
    )
    for phone in phones:
        phone.sms_opted_out, phone.sms_opted_out_at = opted_out, at
        phone.save(update_fields=["sms_opted_out", "sms_opted_out_at", "updated_at"])
        phone_number_change_record(
            phone=phone, action=action, cause=cause, actor=actor, old_type=phone.type
        )
    return len(phones)
