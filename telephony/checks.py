from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Info, Tags, register
from django.core.checks import Warning as CheckWarning


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


SOFTPHONE_SETTINGS = ("TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_TWIML_APP_SID")


@register()
def softphone_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The browser softphone is optional; half its settings is a mistake worth a warning
    (it stays off until all are set: telephony/softphone.py)."""
    given = [name for name in SOFTPHONE_SETTINGS if getattr(settings, name, "")]
    if not given or len(given) == len(SOFTPHONE_SETTINGS):
        return []
    missing = ", ".join(name for name in SOFTPHONE_SETTINGS if name not in given)
    return [
        CheckWarning(
            f"The browser softphone is off: {', '.join(given)} set but {missing} not.",
            hint="Set all three (docs/dialing.md, 'Call in browser') or none.",
            id="telephony.W101",
        )
    ]
