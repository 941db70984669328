"""Reputation's section of the admin home (registered in reputation/apps.py)."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from crm.dashboard import section
from crm.formatting import local_datetime
from crm.phones import display_number
from reputation import selectors
from reputation.models import ReputationSettings


def numbers_url(reputation: str) -> str:
    """The Phone numbers list, filtered as one of the figures counts."""
    return reverse("admin:telephony_ownednumber_changelist") + f"?reputation={reputation}"


def reputation_panel(request: HttpRequest, obj: None) -> dict[str, Any] | None:
    if not request.user.has_perm("reputation.view_monitorednumber"):
        return None
    addon_url = reverse("admin:reputation_reputationsettings_changelist")
    usage = selectors.usage()
    if not usage.enabled:
        config = ReputationSettings.cached()
        return section(
            "Phone reputation",
            url=addon_url,
            rows=[
                (
                    "Advanced Phone Reputation is off: switch it on on the add-on page",
                    addon_url,
                    f"a daily spam check per carrier, ${config.block_price:,.2f} a month for "
                    f"each 15 numbers",
                )
            ],
        )
    flagged = [
        (
            f"{display_number(str(m.owned_number.number))} {m.owned_number.label}".strip(),
            reverse("admin:telephony_ownednumber_change", args=[m.owned_number_id]),
            f"SPAM: {m.flagged_sources} of {m.sources} carriers{_since(m.flagged_at)}",
        )
        for m in selectors.flagged_latest()
    ]
    notices = [
        (
            f"Replacement of {display_number(n.old_number)} {n.get_state_display().lower()}",
            reverse("admin:reputation_numberreplacement_change", args=[n.pk]),
            n.reason,
        )
        for n in selectors.replacement_notices()
    ]
    return section(
        "Phone reputation",
        url=numbers_url("monitored"),
        stats=[
            (
                "monitoring slots used",
                f"{usage.used:,}/{usage.capacity:,}",
                numbers_url("monitored"),
            ),
            ("flagged now", usage.flagged, numbers_url("spam")),
            ("flagged in past 24 hrs", usage.flagged_24h, numbers_url("flagged_24h")),
            ("at risk", usage.at_risk, numbers_url("at_risk")),
        ],
        rows=notices + flagged,
        empty="No monitored number is flagged.",
    )


def _since(moment: datetime | None) -> str:
    """In the reader's zone, naming it, as every page writes a moment (docs/voice.md)."""
    return f", since {local_datetime(moment)}" if moment is not None else ""
