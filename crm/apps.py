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
