from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class SwitchboardAdminConfig(AdminConfig):
    default_site = "crm.admin_site.SwitchboardAdminSite"


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = "Customers"

    def ready(self) -> None:
        from crm import providers  # noqa: F401  (registers the provider settings check)
        from crm.admin_extensions import Panel, customer_admin_extensions, dashboard_extensions
        from crm.admin_profile import CUSTOMER_CARD
        from crm.dashboard import PANEL_TEMPLATE, match_suggestions_panel

        customer_admin_extensions.add_panel(CUSTOMER_CARD)
        dashboard_extensions.add_panel(
            Panel(
                key="crm-matches",
                template=PANEL_TEMPLATE,
                context=match_suggestions_panel,
                order=20,
            )
        )
