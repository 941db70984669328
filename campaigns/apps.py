from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns import search as campaigns_search
        from campaigns.admin import number_leads_panel
        from campaigns.admin_dnc import number_do_not_call_panel
        from campaigns.admin_stats import stats_panel
        from campaigns.customer_panel import customer_leads_panel
        from campaigns.dashboard import uploads_panel
        from campaigns.dnc import listed_numbers
        from campaigns.erasure import CampaignsErasure
        from crm.admin_extensions import (
            NumberFlag,
            Panel,
            customer_admin_extensions,
            dashboard_extensions,
            number_flags,
        )
        from crm.erasure import erasure_registry
        from telephony.admin_numbers import number_view_extensions

        erasure_registry.register(CampaignsErasure())
        campaigns_search.register()

        # The do-not-call list shows on the number wherever crm shows it (profile, API).
        number_flags.add(NumberFlag(key="do_not_call", label="Do not call", lookup=listed_numbers))
        number_view_extensions.add_panel(
            Panel(
                key="do-not-call",
                template="admin/campaigns/number/_do_not_call.html",
                context=number_do_not_call_panel,
                order=5,
            )
        )

        customer_admin_extensions.add_panel(
            Panel(
                key="campaigns-leads",
                template="admin/campaigns/customer/_leads.html",
                context=customer_leads_panel,
                order=20,
            )
        )

        dashboard_extensions.add_panel(
            Panel(
                key="campaigns-stats",
                template="admin/campaigns/_dashboard_stats.html",
                context=stats_panel,
                order=31,
            )
        )
        dashboard_extensions.add_panel(
            Panel(
                key="campaigns-uploads",
                template="admin/campaigns/_dashboard_uploads.html",
                context=uploads_panel,
                order=30,
            )
        )

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
