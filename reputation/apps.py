from django.apps import AppConfig


class ReputationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reputation"
    verbose_name = "Phone reputation"

    def ready(self) -> None:
        from crm.admin_extensions import Panel, dashboard_extensions
        from crm.dashboard import PANEL_TEMPLATE
        from crm.providers import register_provider_setting
        from reputation.admin import register_admin_extensions
        from reputation.dashboard import reputation_panel

        register_provider_setting(
            "REPUTATION_PROVIDER", check_id="reputation.E001", what="phone reputation checks"
        )
        # "Phone system > Phone numbers" is telephony's page; reputation fills its
        # extension point (dependency direction: telephony never imports reputation).
        register_admin_extensions()
        # Caller-ID choice skips flagged and at-risk numbers while the add-on is on.
        from reputation.caller_ids import reputation_filter
        from telephony.caller_ids import register_caller_id_filter

        register_caller_id_filter("reputation", reputation_filter)
        dashboard_extensions.add_panel(
            Panel(key="reputation", template=PANEL_TEMPLATE, context=reputation_panel, order=40)
        )
