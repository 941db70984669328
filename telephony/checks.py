from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Info, Tags, register


@register(Tags.security, deploy=True)
def twilio_signature_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """In production the webhooks fail closed without a token: say so before go-live."""
    if settings.TWILIO_AUTH_TOKEN:
        return []
    return [
        Info(
            "TWILIO_AUTH_TOKEN is not set: in production the Twilio webhooks refuse every "
            "request (403) until it is.",
            hint="Set TWILIO_AUTH_TOKEN so the webhooks can check X-Twilio-Signature.",
            id="telephony.I001",
        )
    ]
