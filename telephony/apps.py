from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from telephony import checks  # noqa: F401  (registers the system checks)
