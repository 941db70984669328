"""Times on pages are in the reader's zone (docs/voice.md, "Time zones").

The reader's own zone (``crm.models.StaffProfile.time_zone``) when they chose one, else
the team's (Telephony settings). Only pages a person reads: webhooks and the API answer
in UTC ISO 8601 and never pay the profile's query.
"""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from crm.models import StaffProfile
from telephony.answering import zone_or_default, zone_problem
from telephony.models import TelephonySettings

PAGE_PREFIXES = ("/admin/", "/campaigns/")


def staff_time_zone(user_id: int) -> str:
    """The zone a team member chose in My preferences ("" for none)."""
    zone = StaffProfile.objects.filter(user_id=user_id).values_list("time_zone", flat=True)
    return zone.first() or ""


def reader_zone(user_id: int | None) -> ZoneInfo:
    team = TelephonySettings.cached().team_time_zone
    own = staff_time_zone(user_id) if user_id else ""
    # A zone stored before it was checked (or since removed from tzdata) falls back too.
    return zone_or_default(own if own and not zone_problem(own) else team)


class ReaderTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PAGE_PREFIXES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        timezone.activate(reader_zone(user_id))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
