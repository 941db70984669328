from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from campaigns.erasure import CampaignsErasure
        from crm.erasure import erasure_registry

        erasure_registry.register(CampaignsErasure())
