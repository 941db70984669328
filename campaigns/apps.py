from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.admin import number_leads_panel
        from campaigns.erasure import CampaignsErasure
        from crm.admin_extensions import Panel
        from crm.erasure import erasure_registry
        from telephony.admin_numbers import number_view_extensions

        erasure_registry.register(CampaignsErasure())

        # Telephony's number view shows the campaign leads carrying the number; telephony
        # never imports campaigns, so campaigns adds the panel.
        number_view_extensions.add_panel(
            Panel(
                key="campaign-leads",
                template="admin/campaigns/number/_leads.html",
                context=number_leads_panel,
                order=50,
            )
        )
