from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.dashboard import uploads_panel
        from crm.admin_extensions import Panel, dashboard_extensions

        dashboard_extensions.add_panel(
            Panel(
                key="campaigns-uploads",
                template="admin/campaigns/_dashboard_uploads.html",
                context=uploads_panel,
                order=30,
            )
        )
