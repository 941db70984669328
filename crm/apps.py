from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class SwitchboardAdminConfig(AdminConfig):
    default_site = "crm.admin_site.SwitchboardAdminSite"


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = "Customers"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from crm.search import register_sqlite_functions
        from crm.search_sqlite import repair_after_migrate

        # SQLite has no unaccent: the search rule's sb_fold is a Python function there.
        connection_created.connect(register_sqlite_functions, dispatch_uid="crm.search.sqlite")
        # A migration that remakes crm_customer on SQLite drops the name index's triggers.
        post_migrate.connect(repair_after_migrate, sender=self, dispatch_uid="crm.search.fts")
        from crm.search import SearchKind, search_registry
        from crm.selectors import customer_hits

        search_registry.add(
            SearchKind("customer", "Customers", "crm.view_customer", customer_hits, order=10)
        )
        from crm import providers  # noqa: F401  (registers the provider settings check)
        from crm.admin_extensions import (
            BEFORE_FORM,
            Panel,
            customer_admin_extensions,
            dashboard_extensions,
        )
        from crm.admin_profile import CUSTOMER_CARD
        from crm.admin_views import notes_panel
        from crm.dashboard import PANEL_TEMPLATE, match_suggestions_panel
        from crm.erasure import NotesErasure, erasure_registry

        erasure_registry.register(NotesErasure())

        customer_admin_extensions.add_panel(CUSTOMER_CARD)
        customer_admin_extensions.add_panel(
            Panel(
                key="crm-notes",
                template="admin/crm/customer/_note_form.html",
                context=notes_panel,
                order=12,
                # With the timeline and the reply box, where an agent works on a phone.
                place=BEFORE_FORM,
            )
        )
        dashboard_extensions.add_panel(
            Panel(
                key="crm-matches",
                template=PANEL_TEMPLATE,
                context=match_suggestions_panel,
                order=20,
            )
        )
