"""A team member's own settings: the phone click-to-call rings first, and their time zone."""

from zoneinfo import available_timezones

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import StaffProfile
from crm.phones import InvalidPhoneNumber, normalize


@transaction.atomic
def staff_profile_save(*, user: AbstractBaseUser, phone: str, time_zone: str) -> StaffProfile:
    """A team member's own phone (any format, stored E.164) and time zone."""
    errors: dict[str, str] = {}
    e164 = ""
    if phone.strip():
        try:
            e164 = normalize(phone)
        except InvalidPhoneNumber as exc:
            errors["phone"] = str(exc)
    time_zone = time_zone.strip()
    if time_zone and time_zone not in available_timezones():
        errors["time_zone"] = f"“{time_zone[:64]}” is not a time zone (e.g. America/New_York)."
    if errors:
        raise ValidationError(errors)
    profile, _ = StaffProfile.objects.select_for_update().get_or_create(user=user)
    profile.phone, profile.time_zone = e164, time_zone
    profile.save(update_fields=["phone", "time_zone", "updated_at"])
    return profile
