from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from crm.admin_extensions import Panel, customer_admin_extensions, dashboard_extensions
        from crm.dashboard import PANEL_TEMPLATE
        from crm.erasure import erasure_registry
        from telephony import checks  # noqa: F401  (registers the system checks)
        from telephony.admin import customer_history_panel
        from telephony.dashboard import today_panel
        from telephony.erasure import TelephonyErasure

        customer_admin_extensions.add_panel(
            Panel(
                key="telephony-history",
                template="admin/telephony/customer/_history.html",
                context=customer_history_panel,
                media_css=("telephony/history.css",),
                order=10,
            )
        )
        erasure_registry.register(TelephonyErasure())
        dashboard_extensions.add_panel(
            Panel(key="telephony-today", template=PANEL_TEMPLATE, context=today_panel, order=10)
        )
