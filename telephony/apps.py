from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from crm.admin_extensions import (
            Panel,
            admin_pages,
            customer_admin_extensions,
            dashboard_extensions,
            number_links,
        )
        from crm.dashboard import PANEL_TEMPLATE
        from crm.erasure import erasure_registry
        from crm.merge_parts import merge_parts
        from crm.providers import register_provider_setting
        from telephony import checks  # noqa: F401  (registers the system checks)
        from telephony import search as telephony_search
        from telephony.admin_numbers import number_page, number_view_url
        from telephony.admin_profile import CONVERSATION_PANEL, HISTORY_PANEL
        from telephony.dashboard import backfill_panel, inbox_panel, today_panel
        from telephony.erasure import LookupLedgerErasure, TelephonyErasure
        from telephony.inbox import ConversationMerge
        from telephony.providers.inventory import register_inventory_setting
        from telephony.providers.messaging import register_messaging_setting

        register_provider_setting(
            "LINE_TYPE_PROVIDER", check_id="telephony.E001", what="carrier line-type lookups"
        )
        register_inventory_setting()
        register_messaging_setting()
        telephony_search.register()
        register_provider_setting("VOICE_PROVIDER", check_id="telephony.E004", what="click-to-call")
        # The number view is an admin page of its own; wherever crm's admin shows a
        # number, it links there.
        admin_pages.add("telephony/number/<str:number>/", number_page, name="telephony_number")
        number_links.url_for = number_view_url

        customer_admin_extensions.add_panel(CONVERSATION_PANEL)
        customer_admin_extensions.add_panel(HISTORY_PANEL)
        erasure_registry.register(TelephonyErasure())
        erasure_registry.register(LookupLedgerErasure())
        merge_parts.register(ConversationMerge())
        dashboard_extensions.add_panel(
            Panel(key="telephony-today", template=PANEL_TEMPLATE, context=today_panel, order=10)
        )
        dashboard_extensions.add_panel(
            Panel(key="telephony-inbox", template=PANEL_TEMPLATE, context=inbox_panel, order=12)
        )
        dashboard_extensions.add_panel(
            Panel(
                key="telephony-backfill", template=PANEL_TEMPLATE, context=backfill_panel, order=25
            )
        )
